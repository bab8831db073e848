"""Learning from an annotated training corpus (PubTator format).

- The training-set dictionary (the BioSyn/SapBERT protocol): annotated mention strings
  become extra synonyms of their gold concepts, the majority concept first.
- Detection: dictionary keys that the linker finds in the training documents but the
  annotators rarely marked ("disease", "strain", "THE" in "The ...") are skipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kgrag.corpus.pubtator import PubtatorDocument, read_pubtator
from kgrag.linking.dictionary import DictionaryIndex
from kgrag.ontology.table import ConceptTable
from kgrag.tokens import key_of
from kgrag.types import BoundaryModel

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker

logger = logging.getLogger(__name__)


def document_pairs(
    documents: Iterable[PubtatorDocument], *, skip_types: tuple[str, ...] = ("Chemical",)
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(mention text, gold ids)`` of every annotated mention with ids."""
    for doc in documents:
        for m in doc.mentions:
            if m.ids and m.type not in skip_types:
                yield m.text, m.ids


def pubtator_pairs(
    paths: Iterable[str | Path], *, skip_types: tuple[str, ...] = ("Chemical",)
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """:func:`document_pairs` of PubTator files."""
    for path in paths:
        yield from document_pairs(read_pubtator(path), skip_types=skip_types)


def single_concept(table: ConceptTable, ids: Iterable[str]) -> int | None:
    """The table index of the one concept that gold ``ids`` name.

    ``None`` for a composite mention (several concepts: its string names none of them alone) or
    unknown ids.
    """
    targets = {t for t in (table.resolve(i) for i in ids) if t is not None}
    return table.index_of(targets.pop()) if len(targets) == 1 else None


def add_training_dictionary(
    dictionary: DictionaryIndex, pairs: Iterable[tuple[str, tuple[str, ...]]]
) -> int:
    """Add single-concept training mentions to ``dictionary``; returns how many were new.

    Annotators are not always consistent: each string counts its votes per concept and
    carries them as the entry's support, so the majority concept ranks first. Composite
    mentions (several gold ids) are skipped: their string names no single concept.
    """
    votes: Counter[tuple[str, int]] = Counter()  # (key, concept) -> annotations
    first_text: dict[tuple[str, int], str] = {}
    for text, ids in pairs:
        index = single_concept(dictionary.table, ids)
        if index is not None:
            voted = (key_of(text), index)
            votes[voted] += 1
            first_text.setdefault(voted, text)
    added = sum(dictionary.add_training(first_text[v], v[1], n) for v, n in votes.items())
    logger.info("training dictionary: %d new entries", added)
    return added


def learn_detection(
    linker: ConceptLinker,
    documents: Iterable[PubtatorDocument],
    *,
    min_seen: int = 2,
    max_rate: float = 0.2,
    skip_types: tuple[str, ...] = ("Chemical",),
) -> frozenset[str]:
    """Reject keys that annotators rarely mark, and return them.

    Keys the linker detects at least ``min_seen`` times in ``documents`` whose spans annotators
    marked less than ``max_rate`` of the time are added to ``linker.rejected_keys``.
    """
    if min_seen < 1 or not 0.0 < max_rate <= 1.0:
        raise ValueError("learn_detection needs min_seen >= 1 and 0 < max_rate <= 1")
    found: Counter[str] = Counter()
    marked: Counter[str] = Counter()
    for doc in documents:
        gold = {(m.start, m.end) for m in doc.mentions if m.type not in skip_types}
        for mention in linker.link(doc.text):
            key = key_of(mention.text)
            found[key] += 1
            marked[key] += (mention.start, mention.end) in gold
    rejected = frozenset(k for k, n in found.items() if n >= min_seen and marked[k] / n < max_rate)
    linker.rejected_keys = linker.rejected_keys | rejected
    logger.info("detection: %d keys rarely annotated in the training corpus", len(rejected))
    return rejected


class TrainingReport(BoundaryModel):
    """What a training corpus added to a linker."""

    documents: int
    dictionary_entries: int
    rejected_keys: int


def train_linker(linker: ConceptLinker, paths: Iterable[str | Path]) -> TrainingReport:
    """Adapt ``linker`` to an annotated corpus.

    Its training-set dictionary, then the detection filter (learned with that dictionary in place).
    """
    documents = [doc for path in paths for doc in read_pubtator(path)]
    added = add_training_dictionary(linker.dictionary, document_pairs(documents))
    rejected = learn_detection(linker, documents)
    return TrainingReport(
        documents=len(documents), dictionary_entries=added, rejected_keys=len(rejected)
    )
