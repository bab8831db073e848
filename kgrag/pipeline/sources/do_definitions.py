"""Source kind ``do_definitions``: the findings the Disease Ontology's definitions state."""

from __future__ import annotations

from collections.abc import Iterator

from kgrag.graph.schema import Edge
from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.report import SourceReport
from kgrag.pipeline.sources.base import written


def build(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> SourceReport:
    """HAS_FINDING edges read from definitions (see :class:`SourceBuilder`)."""
    return written(name, ctx.write(name, [], definition_edges(ctx, name)), warnings)


def definition_edges(ctx: BuildContext, name: str) -> Iterator[Edge]:
    """HAS_FINDING edges from Disease Ontology definitions (:mod:`~kgrag.facts.definition_facts`).

    Each claim cites the DOID whose definition states the finding, with the finding's
    span in that definition and its text (``props["quote"]``).
    """
    from kgrag.facts.definition_facts import definition_findings
    from kgrag.graph.schema import Claim, EdgeType
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.disease_ontology import load_definitions

    defined = load_definitions(ctx.settings.ontologies_dir)
    ctx.say(f"{name}: {len(defined):,} Disease Ontology definitions")
    linker = ConceptLinker(ctx.table, kinds=["finding"], fuzzy=False)
    for k, c in enumerate(defined, start=1):
        disease = ctx.table.resolve(c.id)
        if disease is None or c.definition is None:
            continue
        text = c.definition
        for m in definition_findings(disease, text, linker.link(text)):
            assert m.best is not None
            yield Edge(
                src=disease,
                type=EdgeType.HAS_FINDING,
                dst=m.best.concept_id,
                props={"polarity": "present"},
                claims=(
                    Claim(
                        source=name,
                        reference=c.id,
                        start=m.start,
                        end=m.end,
                        props={"quote": m.text},
                    ),
                ),
            )
        if k % 2000 == 0:
            ctx.say(f"{name}: {k:,}/{len(defined):,} definitions read")
