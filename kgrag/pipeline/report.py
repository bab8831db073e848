"""What a build did: one :class:`SourceReport` per recipe source, one :class:`BuildReport` in all."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kgrag.graph.schema import GraphCounts
from kgrag.types import BoundaryModel


class SourceReport(BoundaryModel):
    """What one recipe source did in a build (``status``: built, skipped as unchanged, failed)."""

    name: str
    status: Literal["built", "skipped", "failed"]
    nodes: int = 0
    edges: int = 0
    seconds: float = 0.0
    warnings: dict[str, int] = Field(default_factory=dict)
    documents: dict[str, int] = Field(
        default_factory=dict, description="corpus sources: documents added, changed, unchanged, removed"
    )
    examples: dict[str, str] = Field(
        default_factory=dict, description="the first example (file and reason) of each warning"
    )
    error: str | None = None
    remedy: Literal["fix", "resume"] | None = Field(
        default=None,
        description="a failure's way out: fix what the error says, or rerun to resume",
    )


class BuildReport(BoundaryModel):
    """What :func:`kgrag.build` (and ``kgrag build``) did.

    One :class:`SourceReport` per recipe source, the store's counts afterwards, and what the
    retrieval artifacts hold.

    ``status`` is ``complete`` or ``incomplete`` (a source failed: rerun to resume);
    ``seconds`` is wall-clock time. Renders as a table in a notebook.

    Examples:
        >>> import kgrag
        >>> report = kgrag.build("notebooks/guidelines/recipe.toml", store="/tmp/guidelines-kb")
        >>> [s.name for s in report.sources]
        ['ddxplus', 'guidelines']
    """

    store: str
    status: str
    recipe: str
    seconds: float
    sources: list[SourceReport]
    counts: GraphCounts
    retrieval: dict[str, int] = Field(
        default_factory=dict, description="what the retrieval artifacts hold (empty: unchanged)"
    )

    # --- notebook rendering (#11) ---
    def _table(self) -> tuple[str, tuple[str, ...], list[tuple[object, ...]]]:
        rows: list[tuple[object, ...]] = [
            (
                s.name,
                s.status,
                f"{s.nodes:,}",
                f"{s.edges:,}",
                s.seconds,
                s.error or ", ".join(f"{k}: {v}" for k, v in {**s.documents, **s.warnings}.items()),
            )
            for s in self.sources
        ]
        c = self.counts
        rows.append(
            (
                "total",
                self.status,
                f"{sum(c.nodes.values()):,}",
                f"{sum(c.edges.values()):,}",
                self.seconds,
                "",
            )
        )
        title = f"kgrag build: recipe {self.recipe!r} -> {self.status} ({self.store})"
        return title, ("source", "status", "nodes", "edges", "seconds", "note"), rows

    def _repr_html_(self) -> str:
        from kgrag._render import html_table

        return html_table(*self._table())

    def _repr_markdown_(self) -> str:
        from kgrag._render import markdown_table

        return markdown_table(*self._table())
