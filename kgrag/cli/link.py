"""``kgrag link``: link one text, or a JSONL batch of texts / mentions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kgrag.cli._output import cli_errors, console, emit_json, err_console


def _line_result(linker: Any, lineno: int, raw: bytes, k: int) -> dict[str, Any]:
    """One output record for one input line; problems become an ``error`` field."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return {"line": lineno, "error": f"not valid UTF-8 at byte {e.start}"}
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return {"line": lineno, "error": f"not JSON: {e}"}
    if not isinstance(record, dict):
        return {"line": lineno, "error": "expected a JSON object"}
    rid = record.get("id", lineno)
    try:
        if isinstance(record.get("text"), str):
            mentions = linker.link(record["text"])
            return {"id": rid, "mentions": [m.model_dump(mode="json") for m in mentions]}
        if isinstance(record.get("mention"), str):
            context = record.get("context")
            if context is not None and not isinstance(context, str):
                return {"id": rid, "error": "'context' must be a string"}
            cands = linker.normalize(record["mention"], context, k)
            return {
                "id": rid,
                "mention": record["mention"],
                "candidates": [c.model_dump(mode="json") for c in cands],
            }
        return {"id": rid, "error": "expected a 'text' or a 'mention' string field"}
    except (ValueError, TypeError) as e:
        return {"id": rid, "error": str(e)}


def link(
    text: str | None = typer.Argument(None, help="text to link (or use --input)"),
    input: Path | None = typer.Option(
        None,
        "--input",
        "-i",
        help="JSONL: {id, text} or {id, mention, context}",
        exists=True,
        dir_okay=False,
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="JSONL output (default stdout)"),
    top_k: int = typer.Option(5, "--top-k", "-k", min=1, max=50),
    json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Find disease and finding mentions (with assertion) and rank their concepts."""
    from kgrag.api import default_linker

    with cli_errors():
        if (text is None) == (input is None):
            err_console.print("[red]error:[/red] give a TEXT argument or --input FILE, not both")
            raise typer.Exit(2)
        linker = default_linker()
        linker.top_k = top_k
        if text is not None:
            mentions = linker.link(text)
            if json:
                emit_json(mentions)
                return
            _print_mentions(mentions)
            return
        assert input is not None
        lines = input.read_bytes().splitlines()
        sink = output.open("wb") if output else sys.stdout.buffer
        errors = 0
        try:
            with Progress(
                TextColumn("linking"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                disable=not err_console.is_terminal,
            ) as bar:
                task = bar.add_task("link", total=len(lines))
                for lineno, raw in enumerate(lines, start=1):
                    if raw.strip():
                        result = _line_result(linker, lineno, raw, top_k)
                        errors += "error" in result
                        sink.write(orjson.dumps(result) + b"\n")
                    bar.advance(task)
        finally:
            if output:
                sink.close()
        err_console.print(f"{len(lines)} lines, {errors} with errors", highlight=False)


def _print_mentions(mentions: list[Any]) -> None:
    if not mentions:
        console.print("no mentions found")
        return
    out = Table(title="mentions")
    for col in ("span", "text", "assertion", "concept", "name", "score", "via"):
        out.add_column(col, overflow="fold")
    for m in mentions:
        best = m.candidates[0]
        out.add_row(
            f"{m.start}-{m.end}",
            m.text,
            m.assertion.value,
            best.concept_id,
            best.name,
            f"{best.score:.2f}",
            best.method,
        )
    console.print(out)
