"""Source kind ``ddxplus``: the DDXPlus knowledge base, its evidences mapped to shared findings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from kgrag.graph.schema import Edge
from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.report import SourceReport
from kgrag.pipeline.sources.base import written

if TYPE_CHECKING:
    from kgrag.ontology.ddxplus import DdxCondition


def build(
    ctx: BuildContext, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> SourceReport:
    """DDXPlus condition edges and their findings (see :class:`SourceBuilder`)."""
    from kgrag.graph import builders
    from kgrag.ontology.ddxplus import load_ddxplus

    d = ctx.settings.ontologies_dir
    ddx = load_ddxplus(
        d / "ddxplus/release_conditions.json.gz",
        d / "ddxplus/release_evidences.json.gz",
        d / "ddxplus/icd10_corrections.json",
    )
    # one pass over both kinds of edges: one count, to the source's total
    counts = ctx.write(
        name,
        [],
        chain(
            builders.ddxplus_edges(ddx.conditions, ctx.table, name),
            finding_edges(ctx, name, ddx.conditions, d),
        ),
    )
    return written(name, counts, warnings)


def finding_edges(
    ctx: BuildContext, name: str, conditions: Sequence[DdxCondition], directory: Path
) -> Iterator[Edge]:
    """DDXPlus conditions -> shared findings, through the curated evidence mapping.

    The mapping is ``ontologies/ddxplus/evidence_findings.tsv``; no edges when the file
    is absent.
    """
    from kgrag.graph import builders
    from kgrag.ontology.ddxplus import EVIDENCE_FINDINGS_FILE, load_evidence_findings

    path = directory / "ddxplus" / EVIDENCE_FINDINGS_FILE
    if not path.is_file():
        ctx.say(f"{name}: no {path.name}; DDXPlus evidences stay separate concepts")
        return
    mapping = load_evidence_findings(path)
    yield from builders.ddxplus_finding_edges(conditions, mapping, ctx.table, name)
