"""The pluggable parts of linking: one narrow Protocol each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kgrag.types import Candidate, Mention

if TYPE_CHECKING:
    from kgrag.linking.dictionary import Entry


@runtime_checkable
class Linker(Protocol):
    """Finds concept mentions in free text. Every mention's span indexes ``text``."""

    name: str

    def link(self, text: str) -> list[Mention]:
        """Mentions found in ``text``, each with its assertion and ranked candidates, in text order."""


@runtime_checkable
class Normalizer(Protocol):
    """Ranks concepts for a given mention string (optionally with its context).

    The contract, for every implementation: at most ``k`` candidates, best first, each with a
    ``method`` naming the stage that found it; an empty (or all-space) mention gives ``[]``; a
    mention no candidate clears the implementation's threshold for gives ``[]`` (never an
    error), and an implementation that returns fewer than ``k`` for another reason says so in
    its docstring. ``ScispacyLinker`` (extra ``scispacy``) keeps scispaCy's own limits: it
    returns no candidate under similarity 0.7 and at most 5 (its ``max_entities``) whatever
    ``k`` asks, and ignores ``context``; ``ConceptLinker`` returns up to ``k`` over its
    ``nil_threshold`` and uses ``context`` to expand abbreviations.
    """

    name: str

    def normalize(self, mention: str, context: str | None = None, k: int = 5) -> list[Candidate]:
        """Up to ``k`` candidate concepts for ``mention``, best first; ``context`` is its document."""


@runtime_checkable
class CandidateSource(Protocol):
    """Nearest dictionary entries for a mention no dictionary key matches exactly.

    The fuzzy matcher (character 3-grams, :class:`~kgrag.linking.fuzzy.FuzzyMatcher`) and
    the dense matcher (an encoder in a vector index, :class:`~kgrag.linking.dense.DenseMatcher`)
    implement it; :class:`~kgrag.linking.linker.ConceptLinker` asks them, in that order,
    to fill up its candidates.
    """

    def candidates(self, text: str, k: int = 10) -> list[tuple[Entry, float, str]]:
        """The ``k`` nearest entries to ``text``.

        Args:
            text: the mention (any case; the source normalizes it).
            k: how many to return at most.

        Returns:
            ``(entry, similarity, matched key)`` best first; similarity in 0..1.
        """
        ...
