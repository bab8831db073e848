"""Progress of long work (builds, embedding, batches): step lines and counted tasks.

Long-running functions take a ``progress`` callable. Any ``Callable[[str], None]`` gets
one line per step; a reporter that also has ``count(task, done, total)`` (the CLI's
rich progress bars) is told how far each counted task has got as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar, runtime_checkable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[str], None]


@runtime_checkable
class CountingProgress(Protocol):
    """A progress reporter that draws counted tasks (a bar, a counter)."""

    def __call__(self, step: str) -> None:
        """Report a step (a line of text)."""

    def count(self, task: str, done: int, total: int | None) -> None:
        """Report that ``task`` has done ``done`` of ``total`` items (``total`` None when unknown)."""


def log_progress(step: str) -> None:
    """A :class:`Progress` step reporter that logs each step at INFO."""
    logger.info("%s", step)


def report_count(progress: Progress | None, task: str, done: int, total: int | None) -> None:
    """Tell ``progress`` how far ``task`` has got.

    A plain step reporter gets a line when the task is done (``done == total``).
    """
    if progress is None:
        return
    if isinstance(progress, CountingProgress):
        progress.count(task, done, total)
    elif total is not None and done >= total:
        progress(f"{task}: {done:,}")


def counted(
    items: Iterable[T],
    progress: Progress | None,
    task: str,
    total: int | None = None,
    *,
    interval: float = 0.2,
) -> Iterator[T]:
    """Yield ``items`` unchanged, reporting the count every ``interval`` seconds and once at the end."""
    done = 0
    last = time.monotonic()
    for item in items:
        yield item
        done += 1
        if progress is not None and time.monotonic() - last >= interval:
            last = time.monotonic()
            report_count(progress, task, done, total)
    report_count(progress, task, done, done)
