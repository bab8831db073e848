"""``kgrag build [RECIPE]``: build (or update) a knowledge base from a recipe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
        "local", "--engine", help="local (this process) or ray (Ray Data; pip install 'kgrag\\[scale]')"
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
        with ProgressReporter(json) as progress, _interrupted():
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
                documents = ", ".join(f"{k} {v:,}" for k, v in s.documents.items() if v)
                skipped = ", ".join(f"{k}: {v}" for k, v in s.warnings.items())
                note = "failed (below)" if s.error else "; ".join(x for x in (documents, skipped) if x)
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
        if not json:
            for s in report.sources:  # whole, not cut to a column: each says what to do
                for kind, example in s.examples.items():
                    console.print(
                        f"{s.name}: {kind} x{s.warnings.get(kind, 1)}, first: {example}",
                        highlight=False,
                        markup=False,
                        soft_wrap=True,
                    )
                if s.error:
                    err_console.print(
                        f"{s.name} failed: {s.error}", highlight=False, markup=False, soft_wrap=True
                    )
        if report.status != "complete":
            if all(s.remedy == "fix" for s in report.sources if s.status == "failed"):
                advice = "fix what the error says, then rerun `kgrag build`"
            else:
                advice = "rerun `kgrag build` to resume (finished work is kept)"
            err_console.print(f"[red]the build is incomplete[/red]: {advice}")
            raise typer.Exit(1)


@contextmanager
def _interrupted() -> Iterator[None]:
    """Ctrl-C: say what was kept and how to go on, and exit 130 (as a shell does)."""
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(
            "[red]interrupted[/red]: finished shards' parts are kept; rerun `kgrag build` to resume"
        )
        raise typer.Exit(130) from None
