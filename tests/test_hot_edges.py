"""A hot edge (one disease -> finding stated by thousands of chunks) loads in linear time (#25).

Each claim of an edge used to be a separate upsert of that edge; a store that rewrites the
edge's whole claim list per upsert costs O(k^2) for k claims. The embedded store keeps
claims in their own table (one row each) and the reduce hands the load one edge with all
its claims, so k claims cost O(k): 5x the claims may take at most ~2x more than 5x the time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node
from kgrag.graph.sqlite_store import SqliteGraphStore


def _claims(k: int) -> list[Claim]:
    return [
        Claim(source="notes", reference=f"chunk:d{i}#0", start=i, end=i + 5, props={"text": "fever"})
        for i in range(k)
    ]


def _load(directory: Path, k: int, *, merged: bool) -> float:
    """Seconds to load one HAS_FINDING edge with ``k`` claims (one edge, or ``k`` upserts of it)."""
    store = SqliteGraphStore(directory)
    nodes = [Node(id=i, label=Label.CONCEPT, name=i, sources=("v",)) for i in ("MONDO:1", "HP:1")]
    store.upsert_nodes(nodes)
    claims = _claims(k)
    edges = (
        [Edge(src="MONDO:1", type=EdgeType.HAS_FINDING, dst="HP:1", claims=tuple(claims))]
        if merged
        else [Edge(src="MONDO:1", type=EdgeType.HAS_FINDING, dst="HP:1", claims=(c,)) for c in claims]
    )
    t0 = time.perf_counter()
    store.upsert_edges(edges)
    (edge,) = store.edges([("MONDO:1", EdgeType.HAS_FINDING, "HP:1")])  # and read it back whole
    seconds = time.perf_counter() - t0
    store.close()
    assert len(edge.claims) == k
    return seconds


@pytest.mark.parametrize("merged", [True, False], ids=["reduced", "claim-by-claim"])
def test_a_hot_edge_loads_in_linear_time(tmp_path: Path, merged: bool) -> None:
    small, large = 2_000, 10_000
    best = {
        k: min(_load(tmp_path / f"{k}-{run}", k, merged=merged) for run in range(3))
        for k in (small, large)
    }
    ratio = best[large] / best[small]
    assert ratio < 2 * large / small, f"{best}: {ratio:.1f}x the time for 5x the claims"
