"""``kgrag build [RECIPE]``: build (or update) a knowledge base from a recipe."""

from __future__ import annotations

from pathlib import Path

import typer

from kgrag.cli._output import ProgressReporter, cli_errors, console, emit_json, err_console, safe
from kgrag.cli._tables import ESSENTIAL, Col, fit_table, shorten

_RECIPE_HELP = (
    "a recipe TOML file, or a shipped recipe's name: default (ingest/default.toml, the default) "
    "or full (adds every MedQuAD collection; much longer)"
)


def build(
    recipe: Path | None = typer.Argument(None, help=_RECIPE_HELP),
    store: str | None = typer.Option(
        None, "--store", help="a directory (embedded, default: the cache's kb/) or neo4j://host:7687"
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="rebuild every source"),
    json: bool = typer.Option(False, "--json", help="machine-readable report"),
    wait: float = typer.Option(
        0.0,
        "--wait",
        min=0,
        help="seconds to wait for another build of this knowledge base (0: fail at once)",
    ),
    allow: list[Path] | None = typer.Option(
        None, "--allow", help="a folder outside the recipe's own that it may read (repeatable)"
    ),
    engine: str = typer.Option(
        "local", "--engine", help="local (this process) or ray (Ray Data; pip install 'kgrag[scale]')"
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="shard workers: local: 1 runs in this process, N > 1 a pool of N processes "
        "(each holds a linker, ~0.7 GB); ray: actors",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="a Ray cluster (ray://head:10001, or auto); default: a local Ray"
    ),
    shard_docs: int = typer.Option(
        5000, "--shard-docs", min=1, help="documents per corpus shard (a shard is redone whole)"
    ),
) -> None:
    """Build the knowledge graph; unchanged sources are skipped, a killed build resumes."""
    from kgrag.api import build as run_build
    from kgrag.errors import InvalidRequest
    from kgrag.pipeline.context import BuildOptions

    with cli_errors():
        if engine not in ("local", "ray"):
            raise InvalidRequest(f"--engine must be local or ray, got {engine!r}")
        options = BuildOptions(
            engine=engine,  # type: ignore[arg-type]  # checked above
            workers=workers,
            ray_address=ray_address,
            shard_docs=shard_docs,
        )
        with ProgressReporter(json) as progress:
            report = run_build(
                recipe,
                store,
                rebuild=rebuild,
                progress=progress,
                wait=wait,
                allow=allow or (),
                options=options,
            )
        if json:
            emit_json(report)
        else:
            report = safe(report)
            columns = [
                Col("source", ESSENTIAL),
                Col("status", ESSENTIAL),
                Col("nodes", 5, "right"),
                Col("edges", 4, "right"),
                Col("seconds", 3, "right"),
                Col("note", 2),
            ]
            cells = []
            for s in report.sources:
                note = s.error or ", ".join(f"{k}: {v}" for k, v in s.warnings.items())
                counts = [f"{s.nodes:,}", f"{s.edges:,}", f"{s.seconds}"]
                cells.append([s.name, s.status, *counts, shorten(note)])
            out = fit_table(f"kgrag build: recipe {report.recipe!r} -> {report.status}", columns, cells)
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
