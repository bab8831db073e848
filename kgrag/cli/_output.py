"""Shared console, JSON output and error reporting for CLI commands.

Every string that came from data or from the user is escaped before rich renders it
(:func:`safe`), so text such as ``[/x]`` prints as itself instead of being read as markup;
emoji codes (``:x:``) are left as typed. :func:`clean_argv` makes command-line arguments
that are not valid UTF-8 printable (undecodable bytes become U+FFFD, with a warning).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from kgrag.errors import KgragError

console = Console(stderr=False, emoji=False)
err_console = Console(stderr=True, emoji=False)

T = TypeVar("T")


def safe(value: T) -> T:
    """``value`` with every string in it escaped for rich markup.

    Strings, and the strings inside pydantic models, lists, tuples and dicts (keys too),
    recursively; enums and other values unchanged. Apply it to data before formatting it into
    markup.
    """
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return escape(value)  # type: ignore[return-value]
    if isinstance(value, BaseModel):
        return value.model_copy(update={k: safe(getattr(value, k)) for k in type(value).model_fields})
    if isinstance(value, list):
        return [safe(v) for v in value]  # type: ignore[return-value]
    if isinstance(value, tuple):
        items = [safe(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {safe(k): safe(v) for k, v in value.items()}  # type: ignore[return-value]
    return value


def clean_argv(argv: list[str]) -> list[str]:
    """Command-line arguments with undecodable bytes re-decoded, U+FFFD in their place.

    A byte such as 0xFF in a UTF-8 locale arrives as a lone surrogate; each such argument gets one
    warning on stderr, so nothing downstream fails to encode it.
    """
    out = []
    for i, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            fixed = os.fsencode(arg).decode("utf-8", errors="replace")
            err_console.print(
                f"[yellow]warning:[/yellow] argument {i} is not valid UTF-8; undecodable bytes "
                f"replaced with U+FFFD: {escape(fixed)!r}",
                highlight=False,
            )
            arg = fixed
        out.append(arg)
    return out


_LITERAL = re.compile(r"``(.+?)``")
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")


def plain_text(doc: str) -> str:
    """Docstring text without its reStructuredText markup, for ``--help``.

    Double-backquoted literals lose their backquotes; a role (``:func:``, ``:class:``, ...)
    becomes its target's name.

    Examples:
        >>> plain_text("Options come from ``KGRAG_SERVE_*``; see :func:`~kgrag.build`.")
        'Options come from KGRAG_SERVE_*; see kgrag.build.'
    """
    return _ROLE.sub(r"\1", _LITERAL.sub(r"\1", doc))


def plain_help(app: typer.Typer) -> None:
    """Make every help text of ``app`` plain (:func:`plain_text`): commands, groups, options.

    Typer takes a command's help from its docstring, written in reStructuredText for the API
    docs; call this once the commands are registered (sub-apps included).
    """
    if isinstance(app.info.help, str):
        app.info.help = plain_text(app.info.help)
    for command in app.registered_commands:
        if command.callback is None:
            continue
        doc = command.help if command.help is not None else inspect.getdoc(command.callback)
        command.help = plain_text(doc) if doc else doc
        for param in inspect.signature(command.callback).parameters.values():
            info = param.default
            if isinstance(info, typer.models.ParameterInfo) and isinstance(info.help, str):
                info.help = plain_text(info.help)
    for group in app.registered_groups:
        if isinstance(group.help, str):
            group.help = plain_text(group.help)
        if group.typer_instance is not None:
            plain_help(group.typer_instance)


def usage_error(message: str) -> NoReturn:
    """Refuse a command line: one red line, exit code 2."""
    err_console.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False)
    raise typer.Exit(2)


def input_option(help: str) -> Any:
    return typer.Option(None, "--input", "-i", help=help, exists=True, dir_okay=False)


def output_option() -> Any:
    return typer.Option(None, "--output", "-o", help="JSONL output (default stdout)")


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
        err_console.print(f"[red]error:[/red] {escape(str(e))}", markup=True, highlight=False)
        raise typer.Exit(2 if isinstance(e, (KeyError, ValueError)) else 1) from e


class ProgressReporter:
    """Step lines and rich progress bars on stderr (so ``--json`` stdout stays clean).

    Silent in JSON mode. Bars are drawn on a terminal only; elsewhere (CI, pipes, a log file) a
    counted task prints a line with its count at most every ``line_every`` seconds while it runs
    (``embedding: 1,024 of 7,207 (14%)``), and one when it finishes. Use as a context manager.

    Args:
        json_mode: print nothing (the command writes JSON on stdout).
        line_every: seconds between two lines of one running task when there is no terminal.
    """

    def __init__(self, json_mode: bool = False, *, line_every: float = 30.0) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        self.quiet = json_mode
        self.live = not json_mode and err_console.is_terminal
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            disable=not self.live,
        )
        self.tasks: dict[str, TaskID] = {}
        self.finished: set[str] = set()
        self.line_every = line_every
        self.last_line: dict[str, float] = {}  # task -> time.monotonic() of its last line

    def __enter__(self) -> ProgressReporter:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def __call__(self, step: str) -> None:
        if not self.quiet:
            err_console.print(f"[dim]… {escape(step)}[/dim]", markup=True, highlight=False)

    def count(self, task: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        if task not in self.tasks:
            self.tasks[task] = self.bars.add_task(escape(task), total=total)
        self.bars.update(self.tasks[task], completed=done, total=total)
        if not self.live:
            self._line(task, done, total)

    def _line(self, task: str, done: int, total: int | None) -> None:
        """A line of a task when there is no terminal: at its end, or ``line_every`` s after the last."""
        if task in self.finished:
            return
        now = time.monotonic()
        if total is not None and done >= total:
            self.finished.add(task)
            self(f"{task}: {done:,}")
        elif now - self.last_line.setdefault(task, now) >= self.line_every:
            self.last_line[task] = now
            of = f" of {total:,} ({100 * done // total}%)" if total else " so far"
            self(f"{task}: {done:,}{of}")


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
    """Run ``handle(lineno, record)`` over a JSONL file with a progress bar.

    A bad line becomes an ``error`` record for that line and the batch goes on; when every
    record is an error the command exits with status 1 (nothing came out of the batch).
    """
    lines = input.read_bytes().splitlines()
    sink = output.open("wb") if output else sys.stdout.buffer
    errors = records = 0
    try:
        with ProgressReporter() as progress:
            for lineno, raw in enumerate(lines, start=1):
                if raw.strip():
                    record = _line_record(lineno, raw)
                    if "error" not in record or "line" not in record:
                        try:
                            record = handle(lineno, record)
                        except (KgragError, ValueError, TypeError) as e:
                            record = {"id": record.get("id", lineno), "error": str(e)}
                    errors += "error" in record
                    records += 1
                    sink.write(orjson.dumps(record) + b"\n")
                progress.count(label, lineno, len(lines))
    finally:
        if output:
            sink.close()
    err_console.print(f"{len(lines)} lines, {errors} with errors", highlight=False)
    if records and errors == records:
        raise typer.Exit(1)
