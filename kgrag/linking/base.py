"""The pluggable parts of linking: one narrow Protocol each."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kgrag.types import Candidate, Mention


@runtime_checkable
class Linker(Protocol):
    """Finds concept mentions in free text. Every mention's span indexes ``text``."""

    name: str

    def link(self, text: str) -> list[Mention]: ...


@runtime_checkable
class Normalizer(Protocol):
    """Ranks concepts for a given mention string (optionally with its context)."""

    name: str

    def normalize(self, mention: str, context: str | None = None, k: int = 5) -> list[Candidate]: ...
