"""Source kind ``vocabularies``: a node per concept of the table, and its is_a edges."""

from __future__ import annotations

from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.report import SourceReport
from kgrag.pipeline.sources.base import written


def build(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> SourceReport:
    """Concept nodes (with their tiers) and hierarchy edges (see :class:`SourceBuilder`)."""
    from kgrag.graph import builders

    ctx.say(f"{name}: {len(ctx.table):,} concepts and their is_a edges")
    counts = ctx.write(
        name,
        builders.concept_nodes(ctx.table, ctx.tiers(), name),
        builders.hierarchy_edges(ctx.table, name),
        n_nodes=len(ctx.table),
    )
    return written(name, counts, warnings)
