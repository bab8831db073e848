"""The interface of a source kind: build one recipe source into the context's store."""

from __future__ import annotations

from typing import Protocol

from kgrag.ontology.records import Warnings
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.recipe import SourceSpec
from kgrag.pipeline.report import SourceReport


class SourceBuilder(Protocol):
    """Builds one recipe source (``spec``, provenance ``name``) into ``ctx.store``."""

    def __call__(
        self,
        ctx: BuildContext,
        spec: SourceSpec,
        name: str,
        warnings: Warnings,
        *,
        incremental: bool = False,
    ) -> SourceReport:
        """Write the source and report what it wrote.

        Args:
            ctx: the build's recipe, store, concept table, settings and progress.
            spec: the source's recipe entry.
            name: its provenance name (every node and claim it writes carries it).
            warnings: counts skippable problems.
            incremental: the store holds an earlier build of this source with the same
                code and settings (corpus sources update document by document).

        Returns:
            What was written.
        """
        ...


def written(name: str, counts: tuple[int, int], warnings: Warnings) -> SourceReport:
    """The report of a source that wrote ``counts`` = (nodes, distinct edges)."""
    return SourceReport(
        name=name,
        status="built",
        nodes=counts[0],
        edges=counts[1],
        warnings=dict(warnings.counts),
        examples=dict(warnings.examples),
    )
