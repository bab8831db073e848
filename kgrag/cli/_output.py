"""Shared console, JSON output and error reporting for CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
