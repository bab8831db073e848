"""Source kind ``hpoa``: HPO disease -> phenotype annotations (``hpo/phenotype.hpoa.gz``)."""

from __future__ import annotations

from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.report import SourceReport
from kgrag.pipeline.sources.base import written


def build(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> SourceReport:
    """HAS_FINDING edges from the HPO annotations (see :class:`SourceBuilder`)."""
    from kgrag.graph import builders
    from kgrag.ontology.hpo import load_hpoa

    hpoa = load_hpoa(ctx.settings.ontologies_dir / "hpo/phenotype.hpoa.gz")
    ctx.say(f"{name}: {len(hpoa.annotations):,} HPO annotations")
    counts = ctx.write(
        name,
        [],
        builders.hpoa_edges(hpoa.annotations, ctx.table, name, warnings),
        n_edges=len(hpoa.annotations),
    )
    return written(name, counts, warnings)
