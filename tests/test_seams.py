"""The narrow seams between layers: ConceptTable rows, CandidateSource, VectorIndex.load
and its kind registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kgrag.errors import IndexMismatch
from kgrag.index.base import VectorIndex
from kgrag.index.encoders import HashingEncoder
from kgrag.index.vectors import INDEX_KINDS, ExactIndex, FaissIndex, load_index
from kgrag.linking.base import CandidateSource
from kgrag.linking.dense import DenseMatcher
from kgrag.linking.dictionary import DictionaryIndex
from kgrag.linking.fuzzy import FuzzyMatcher
from kgrag.ontology.table import ConceptTable


def test_concept_rows_agree_with_concepts(small_table: ConceptTable) -> None:
    i = small_table.index_of("MESH:D003924")
    assert i is not None and small_table.index_of("NOPE:1") is None
    concept = small_table.get("MESH:D003924")
    row = small_table.row(i)
    assert (row.id, row.name, row.kind) == (concept.id, concept.name, concept.kind.value)
    assert tuple(row.codes) == concept.codes
    assert tuple(dict.fromkeys(small_table.row(p.row).id for p in row.parents)) == concept.parents
    assert [s.text for s in small_table.synonyms(i)] == [s.text for s in concept.synonyms]
    assert all(s.key for s in small_table.synonyms(i))
    assert [r.id for r in small_table.rows()] == [c.id for c in small_table]


def test_matchers_are_candidate_sources(small_table: ConceptTable) -> None:
    dictionary = DictionaryIndex(small_table)
    for source in (FuzzyMatcher(dictionary), DenseMatcher(dictionary, HashingEncoder(64))):
        assert isinstance(source, CandidateSource)
        hits = source.candidates("diabetes type 2", k=3)
        assert 0 < len(hits) <= 3 and all(0.0 <= sim <= 1.0 + 1e-6 for _, sim, _ in hits)


@pytest.mark.parametrize("index", [ExactIndex(8, "enc-A"), FaissIndex(8, "enc-A", gpu=False)])
def test_load_index_opens_the_saved_kind(index: VectorIndex, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.add(vectors)
    index.save(tmp_path / "v.index")
    again = load_index(tmp_path / "v.index", encoder="enc-A", dim=8)
    assert type(again) is type(index) and isinstance(again, VectorIndex)
    assert np.array_equal(again.search(vectors[:3], 2)[1], index.search(vectors[:3], 2)[1])
    with pytest.raises(IndexMismatch):
        load_index(tmp_path / "v.index", encoder="enc-B")
    meta = tmp_path / "v.index.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "kind": "mystery"}))
    with pytest.raises(IndexMismatch, match="mystery"):
        load_index(tmp_path / "v.index")
    assert set(INDEX_KINDS) == {"exact", "flat", "hnsw", "ivfpq"}
