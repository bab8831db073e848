"""What the knowledge base covers.

Diseases with at least one finding, per source and per tier (``kgrag info``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kgrag.graph.base import GraphStore
from kgrag.graph.schema import EdgeType


class FindingCoverage(BaseModel):
    """Counts of distinct diseases (edge sources of ``HAS_FINDING``) with >= 1 finding."""

    model_config = ConfigDict(extra="forbid")
    diseases: int = Field(description="with at least one finding from any source")
    per_source: dict[str, int] = Field(description="source -> diseases it gives >= 1 finding")
    per_tier: dict[str, int] = Field(description="node tier of the disease -> diseases")
    only_source: dict[str, int] = Field(
        description="source -> diseases whose findings all come from that source alone"
    )


def finding_coverage(store: GraphStore) -> FindingCoverage:
    """Coverage of the ``HAS_FINDING`` edges, in one pass.

    Excluded-polarity claims count too: a source that says what a disease lacks still describes it.

    Args:
        store: any graph store.

    Returns:
        The counts; the tier of a disease comes from its node (``unknown`` when absent).
    """
    sources_of: dict[str, set[str]] = {}
    for e in store.iter_edges([EdgeType.HAS_FINDING]):
        sources_of.setdefault(e.src, set()).update(c.source for c in e.claims)
    per_source: dict[str, int] = {}
    only: dict[str, int] = {}
    for srcs in sources_of.values():
        for s in srcs:
            per_source[s] = per_source.get(s, 0) + 1
        if len(srcs) == 1:
            (s,) = srcs
            only[s] = only.get(s, 0) + 1
    nodes = store.get_nodes(sources_of)
    per_tier: dict[str, int] = {}
    for d in sources_of:
        node = nodes.get(d)
        tier = node.tier.value if node is not None and node.tier is not None else "unknown"
        per_tier[tier] = per_tier.get(tier, 0) + 1
    return FindingCoverage(
        diseases=len(sources_of),
        per_source=dict(sorted(per_source.items(), key=lambda kv: -kv[1])),
        per_tier=dict(sorted(per_tier.items(), key=lambda kv: -kv[1])),
        only_source=dict(sorted(only.items(), key=lambda kv: -kv[1])),
    )
