"""``kgrag build [RECIPE]``: build (or update) a knowledge base from a recipe."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from kgrag.cli._output import ProgressReporter, cli_errors, console, emit_json, err_console


def build(
    recipe: Path | None = typer.Argument(None, help="recipe TOML (default: ingest/default.toml)"),
    store: str | None = typer.Option(
        None, "--store", help="a directory (embedded, default: the cache's kb/) or neo4j://host:7687"
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="rebuild every source"),
    json: bool = typer.Option(False, "--json", help="machine-readable report"),
) -> None:
    """Build the knowledge graph; unchanged sources are skipped, a killed build resumes."""
    from kgrag.graph.stores import open_store
    from kgrag.pipeline.runner import Builder, load_recipe

    with cli_errors():
        spec = load_recipe(recipe)
        graph = open_store(store)
        try:
            with ProgressReporter(json) as progress:
                report = Builder(spec, graph, progress=progress).run(rebuild=rebuild)
        finally:
            graph.close()
        if json:
            emit_json(report)
        else:
            out = Table(title=f"kgrag build: recipe {report.recipe!r} -> {report.status}")
            for col in ("source", "status", "nodes", "edges", "seconds", "note"):
                out.add_column(col)
            for s in report.sources:
                note = s.error or ", ".join(f"{k}: {v}" for k, v in s.warnings.items())
                out.add_row(s.name, s.status, f"{s.nodes:,}", f"{s.edges:,}", f"{s.seconds}", note[:60])
            console.print(out)
            c = report.counts
            console.print(
                "nodes: "
                + ", ".join(f"{k} {v:,}" for k, v in c.nodes.items())
                + " | edges: "
                + ", ".join(f"{k} {v:,}" for k, v in c.edges.items())
                + f" | {report.seconds}s",
                highlight=False,
            )
        if report.status != "complete":
            err_console.print("[red]the build is incomplete[/red]: rerun `kgrag build` to resume")
            raise typer.Exit(1)
