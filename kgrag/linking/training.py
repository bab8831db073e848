"""Training-set dictionary (the BioSyn/SapBERT protocol): annotated mention strings of a
training corpus become extra synonyms of their gold concepts."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from kgrag.corpus.pubtator import read_pubtator
from kgrag.linking.dictionary import DictionaryIndex

logger = logging.getLogger(__name__)


def pubtator_pairs(
    paths: Iterable[str | Path], *, skip_types: tuple[str, ...] = ("Chemical",)
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(mention text, gold ids)`` of every annotated mention with ids."""
    for path in paths:
        for doc in read_pubtator(path):
            for m in doc.mentions:
                if m.ids and m.type not in skip_types:
                    yield m.text, m.ids


def add_training_dictionary(
    dictionary: DictionaryIndex, pairs: Iterable[tuple[str, tuple[str, ...]]]
) -> int:
    """Add single-concept training mentions to ``dictionary``; returns how many were new.

    Composite mentions (several gold ids) are skipped: their string names no single concept.
    """
    table = dictionary.table
    added = 0
    for text, ids in pairs:
        targets = {t for t in (table.resolve(i) for i in ids) if t is not None}
        if len(targets) != 1:
            continue
        index = table._index(targets.pop())
        if index is not None and dictionary.add_training(text, index):
            added += 1
    logger.info("training dictionary: %d new entries", added)
    return added
