"""A progress reporter for tests: keeps every step line and every count it is told."""

from __future__ import annotations


class Recorder:
    """A :class:`~kgrag.progress.CountingProgress` that records instead of printing."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.counts: list[tuple[str, int, int | None]] = []

    def __call__(self, step: str) -> None:
        self.steps.append(step)

    def count(self, task: str, done: int, total: int | None) -> None:
        self.counts.append((task, done, total))
