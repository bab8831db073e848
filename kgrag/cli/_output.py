"""Shared console, JSON output and error reporting for CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console

from kgrag.errors import KgragError

console = Console(stderr=False)
err_console = Console(stderr=True)


def emit_json(value: Any) -> None:
    def default(obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            return obj.model_dump(mode="json")
        raise TypeError(type(obj).__name__)

    sys.stdout.write(orjson.dumps(value, default=default, option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn kgrag errors into a one-line message and exit code 1 (2 for bad input)."""
    try:
        yield
    except KgragError as e:
        err_console.print(f"[red]error:[/red] {e}", markup=True, highlight=False)
        raise typer.Exit(2 if isinstance(e, (KeyError, ValueError)) else 1) from e


def progress_printer(json_mode: bool) -> Callable[[str], None]:
    """A step reporter for long work, on stderr so that --json stdout stays clean."""

    def report(step: str) -> None:
        err_console.print(f"[dim]… {step}[/dim]", markup=True, highlight=False)

    return report if not json_mode else (lambda step: None)


def _line_record(lineno: int, raw: bytes) -> dict[str, Any]:
    """The JSON object on one input line, or ``{"line": n, "error": ...}``."""
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
    return record


def jsonl_batch(
    input: Path, output: Path | None, label: str, handle: Callable[[int, dict[str, Any]], dict[str, Any]]
) -> None:
    """Run ``handle(lineno, record)`` over a JSONL file with a progress bar; a bad line
    becomes an ``error`` record for that line and the batch goes on."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    lines = input.read_bytes().splitlines()
    sink = output.open("wb") if output else sys.stdout.buffer
    errors = 0
    try:
        with Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
        ) as bar:
            task = bar.add_task(label, total=len(lines))
            for lineno, raw in enumerate(lines, start=1):
                if raw.strip():
                    record = _line_record(lineno, raw)
                    if "error" not in record or "line" not in record:
                        try:
                            record = handle(lineno, record)
                        except (KgragError, ValueError, TypeError) as e:
                            record = {"id": record.get("id", lineno), "error": str(e)}
                    errors += "error" in record
                    sink.write(orjson.dumps(record) + b"\n")
                bar.advance(task)
    finally:
        if output:
            sink.close()
    err_console.print(f"{len(lines)} lines, {errors} with errors", highlight=False)
