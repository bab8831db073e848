"""Source kind ``do_disease_symptom``: the Disease Ontology's disease-symptom links."""

from __future__ import annotations

from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.report import SourceReport
from kgrag.pipeline.sources.base import written


def build(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> SourceReport:
    """HAS_FINDING edges from ``disease-symptom.tsv.gz`` (see :class:`SourceBuilder`)."""
    from kgrag.graph import builders
    from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology

    d = ctx.settings.ontologies_dir
    do = load_disease_ontology(
        DoFiles(
            d / "disease_ontology/HumanDO.tsv.gz",
            d / "disease_ontology/allXREFinDO.tsv.gz",
            disease_symptom=d / "disease_ontology/disease-symptom.tsv.gz",
        ),
        "",
    )
    counts = ctx.write(name, [], builders.disease_symptom_edges(do.disease_symptom, ctx.table, name))
    return written(name, counts, warnings)
