"""``kgrag concepts get CODE`` and ``kgrag concepts search TEXT``."""

from __future__ import annotations

import typer

from kgrag.cli._output import ProgressReporter, cli_errors, console, emit_json, safe, usage_error
from kgrag.cli._tables import ESSENTIAL, Col, fit_table, shorten
from kgrag.ontology.compiled import load_concepts
from kgrag.types import SemanticKind

app = typer.Typer(help="Look up unified concepts by code or search their names.", no_args_is_help=True)


@app.command("get")
def get(
    code: str = typer.Argument(..., help="any source code or id, e.g. MESH:D003924, MIM:125853"),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Show the unified concept that has CODE among its codes."""
    with cli_errors():
        concept = load_concepts(progress=ProgressReporter(json)).get(code)
        if json:
            emit_json(concept)
            return
        concept = safe(concept)
        console.print(f"[bold]{concept.name}[/bold]  {concept.id}  ({concept.kind.value})")
        if concept.definition:
            console.print(concept.definition, highlight=False)
        console.print(f"codes: {', '.join(concept.codes)}")
        if concept.parents:
            console.print(f"parents: {', '.join(concept.parents)}")
        syns = [s.text for s in concept.synonyms if s.scope.value != "preferred"]
        if syns:
            console.print(
                f"synonyms ({len(syns)}): {'; '.join(syns[:15])}" + (" …" if len(syns) > 15 else ""),
                highlight=False,
            )


@app.command("search")
def search(
    query: str = typer.Argument(..., help="a name, synonym or code, e.g. 'heart attack'"),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=500),
    kind: list[SemanticKind] | None = typer.Option(None, "--kind", help="only these kinds"),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Find concepts by code, exact name or synonym, then fuzzy name match."""
    with cli_errors():
        if not query.strip():
            usage_error("the query is empty")
        matches = load_concepts(progress=ProgressReporter(json)).search(
            query, limit=limit, kinds=kind or None
        )
        if json:
            emit_json(matches)
            return
        if not matches:
            console.print(f"no concept matches {safe(repr(query))}")
            raise typer.Exit(1)
        matches = safe(matches)
        columns = [
            Col("score", 3, "right"),
            Col("id", ESSENTIAL),
            Col("name", ESSENTIAL),
            Col("kind", 4),
            Col("matched", 2),
            Col("codes", 5),
        ]
        cells = [
            [
                f"{m.score:.2f}",
                m.concept_id,
                shorten(m.name),
                m.kind.value,
                f"{shorten(m.matched)} ({m.match})",
                ", ".join(m.codes[:3]) + (f" +{len(m.codes) - 3}" if len(m.codes) > 3 else ""),
            ]
            for m in matches
        ]
        out = fit_table(f"concepts matching {safe(repr(query))}", columns, cells)
        console.print(out)
