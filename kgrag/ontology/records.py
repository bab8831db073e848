"""What a vocabulary loader produces, before unification (plain dataclasses)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from kgrag.types import SemanticKind, SourceInfo, SynonymScope

logger = logging.getLogger(__name__)

SynonymRow = tuple[str, SynonymScope, str | None]  # text, scope, type


@dataclass(slots=True)
class SourceConcept:
    """One term of one vocabulary."""

    id: str
    name: str
    kind: SemanticKind
    source: str
    synonyms: list[SynonymRow] = field(default_factory=list)
    definition: str | None = None
    parents: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Warnings:
    """Counted, skippable problems of one load, with the first example of each kind."""

    source: str
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, example: str) -> None:
        """Count one problem of ``kind``, keeping ``example`` when it is the first."""
        self.counts[kind] += 1
        self.examples.setdefault(kind, example)

    def log(self) -> None:
        """Log one line per kind of problem: the count and the first example."""
        for kind, n in sorted(self.counts.items()):
            logger.info("%s: skipped %d x %s (first: %s)", self.source, n, kind, self.examples[kind])


@dataclass(slots=True)
class Equivalence:
    """Two codes that a source declares to name the same thing."""

    left: str
    right: str
    evidence: str


@dataclass(slots=True)
class LoadResult:
    """Everything one source contributes to the concept table."""

    info: SourceInfo
    concepts: list[SourceConcept] = field(default_factory=list)
    equivalences: list[Equivalence] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # retired/alt id -> current id
    warnings: Warnings | None = None
    # side tables a later build stage consumes live in typed subclasses
    # (disease_ontology.DoLoadResult, ddxplus.DdxLoadResult), never in an untyped dict
