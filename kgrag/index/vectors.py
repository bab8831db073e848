"""Vector indexes.

Exact numpy search (no dependencies) and faiss (flat or HNSW, moved to the GPU when faiss-gpu and a
GPU are present). Saved with the encoder's name and dimension, which are checked on load.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kgrag.errors import ConfigError, IndexMismatch, MissingExtraError
from kgrag.index.base import VectorIndex, Vectors

logger = logging.getLogger(__name__)


def as_vectors(vectors: Vectors, dim: int) -> Vectors:
    """``vectors`` as a C-contiguous float32 array, checked to be of shape ``(n, dim)``.

    Raises:
        IndexMismatch: the array is not two-dimensional with ``dim`` columns.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise IndexMismatch(f"expected vectors of shape (n, {dim}), got {vectors.shape}")
    return vectors


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def write_meta(path: Path, *, kind: str, dim: int, encoder: str, count: int) -> None:
    """Write the index's sidecar ``path.json``: its kind, dimension, encoder name and vector count."""
    _meta_path(path).write_text(
        json.dumps({"kind": kind, "dim": dim, "encoder": encoder, "count": count})
    )


def read_meta(path: Path, encoder: str | None, dim: int | None) -> dict[str, object]:
    """Read the sidecar ``path.json`` of an index and check it against the loading encoder.

    Args:
        path: The index file.
        encoder: The expected encoder name, or None to accept any.
        dim: The expected vector dimension, or None to accept any.

    Returns:
        The metadata dict (``kind``, ``dim``, ``encoder``, ``count``).

    Raises:
        IndexMismatch: the sidecar is missing, or its encoder or dimension differ.
    """
    meta_file = _meta_path(path)
    if not meta_file.is_file():
        raise IndexMismatch(f"{path} has no {meta_file.name}; rebuild the index")
    meta: dict[str, object] = json.loads(meta_file.read_text())
    if encoder is not None and meta["encoder"] != encoder:
        raise IndexMismatch(
            f"{path} was built with encoder {meta['encoder']!r}, not "
            f"{encoder!r}; rebuild it or load the same encoder"
        )
    if dim is not None and meta["dim"] != dim:
        raise IndexMismatch(f"{path} has dimension {meta['dim']}, the encoder gives {dim}")
    return meta


class ExactIndex:
    """Brute-force inner product in numpy: exact, dependency-free, fine to ~10^5 vectors."""

    kind = "exact"

    def __init__(self, dim: int, encoder: str = "") -> None:
        self.dim = dim
        self.encoder = encoder
        self._data = np.zeros((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._data)

    def add(self, vectors: Vectors) -> None:
        """Append ``vectors`` (shape ``(n, dim)``) after the ones already held."""
        self._data = np.vstack([self._data, as_vectors(vectors, self.dim)])

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The ``k`` best inner products per query: ``(scores, ids)``, each of shape ``(n_queries, k')``.

        ``k'`` is ``min(k, len(self))``; rows are sorted best first.
        """
        queries = as_vectors(queries, self.dim)
        k = min(k, len(self))
        if k == 0:
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        scores = queries @ self._data.T
        idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part = np.take_along_axis(scores, idx, axis=1)
        order = np.argsort(-part, axis=1)
        return (
            np.take_along_axis(part, order, axis=1).astype(np.float32),
            np.take_along_axis(idx, order, axis=1).astype(np.int64),
        )

    def save(self, path: Path) -> None:
        """Write the vectors to ``path.npy`` and the sidecar metadata to ``path.json``."""
        np.save(path.with_suffix(".npy"), self._data)
        write_meta(path, kind=self.kind, dim=self.dim, encoder=self.encoder, count=len(self))

    @classmethod
    def load(cls, path: Path, *, encoder: str | None = None, dim: int | None = None) -> ExactIndex:
        """Load an index written by :meth:`save`, checking encoder and dimension (:func:`read_meta`)."""
        meta = read_meta(path, encoder, dim)
        index = cls(int(meta["dim"]), str(meta["encoder"]))  # type: ignore[call-overload]
        index._data = np.load(path.with_suffix(".npy"))
        return index


class FaissIndex:
    """faiss inner-product index: ``kind="flat"`` (exact) or ``"hnsw"`` (approximate).

    ``gpu="auto"`` moves a flat index to GPU 0 when faiss was built with CUDA and sees a
    device; ``gpu=True`` insists (error if impossible); ``False`` stays on the CPU.
    """

    def __init__(
        self,
        dim: int,
        encoder: str = "",
        *,
        kind: str = "flat",
        hnsw_m: int = 32,
        ef_search: int = 128,
        gpu: bool | str = "auto",
    ) -> None:
        try:
            import faiss
        except ImportError as e:
            raise MissingExtraError("faiss-cpu", "faiss", "Vector search with faiss") from e
        if kind not in ("flat", "hnsw"):
            raise ConfigError(f"unknown faiss index kind {kind!r}; use 'flat' or 'hnsw'")
        self.faiss = faiss
        self.dim = dim
        self.encoder = encoder
        self.kind = kind
        if kind == "flat":
            index: Any = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = ef_search
        self.on_gpu = False
        self.index = self._maybe_gpu(index, gpu)

    def _maybe_gpu(self, index, gpu: bool | str):  # type: ignore[no-untyped-def]
        if gpu is False:
            return index
        n_gpus = self.faiss.get_num_gpus() if hasattr(self.faiss, "get_num_gpus") else 0
        if n_gpus == 0 or self.kind != "flat":
            if gpu is True:
                raise ConfigError(
                    "gpu=True but faiss sees no GPU (install kgrag[gpu] on a "
                    "CUDA machine) or the index kind is not 'flat'"
                )
            return index
        resources = self.faiss.StandardGpuResources()
        self._gpu_resources = resources
        self.on_gpu = True
        logger.info("faiss index on GPU 0")
        return self.faiss.index_cpu_to_gpu(resources, 0, index)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: Vectors) -> None:
        """Append ``vectors`` (shape ``(n, dim)``) to the faiss index."""
        self.index.add(as_vectors(vectors, self.dim))

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The ``k`` best inner products per query: ``(scores, ids)``, each of shape ``(n_queries, k')``.

        ``k'`` is ``min(k, len(self))``; HNSW results are approximate.
        """
        queries = as_vectors(queries, self.dim)
        k = min(k, len(self))
        if k == 0:
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        scores, ids = self.index.search(queries, k)
        return scores.astype(np.float32), ids.astype(np.int64)

    def save(self, path: Path) -> None:
        """Write the faiss index (moved to CPU first) to ``path`` and its metadata to ``path.json``."""
        index = self.faiss.index_gpu_to_cpu(self.index) if self.on_gpu else self.index
        self.faiss.write_index(index, str(path))
        write_meta(path, kind=self.kind, dim=self.dim, encoder=self.encoder, count=len(self))

    @classmethod
    def load(
        cls, path: Path, *, encoder: str | None = None, dim: int | None = None, gpu: bool | str = "auto"
    ) -> FaissIndex:
        """Load an index written by :meth:`save`, checking its encoder and dimension.

        ``gpu``: ``"auto"`` moves it to a GPU when faiss has one, True requires one, False keeps
        it on CPU.
        """
        meta = read_meta(path, encoder, dim)
        out = cls(int(meta["dim"]), str(meta["encoder"]), kind=str(meta["kind"]), gpu=False)  # type: ignore[call-overload]
        out.index = out._maybe_gpu(out.faiss.read_index(str(path)), gpu)
        return out


# the saved ``kind`` -> the class that loads it. Neo4j's own vector index is not here: it
# lives in the graph (kgrag.graph.neo4j_vectors) and is opened with its store.
INDEX_KINDS: dict[str, type[VectorIndex]] = {
    "exact": ExactIndex,
    "flat": FaissIndex,
    "hnsw": FaissIndex,
}


def load_index(path: Path, *, encoder: str | None = None, dim: int | None = None) -> VectorIndex:
    """Load the index saved at ``path`` with the class its saved kind names.

    Args:
        path: where ``save`` wrote it.
        encoder: the encoder in use (another one's index is refused).
        dim: the dimension in use (another one is refused).

    Returns:
        The index.

    Raises:
        IndexMismatch: no metadata, an unknown kind, another encoder or dimension.
    """
    kind = str(read_meta(path, encoder, dim).get("kind"))
    cls = INDEX_KINDS.get(kind)
    if cls is None:
        raise IndexMismatch(
            f"{path} holds a {kind!r} index, which this process cannot open "
            f"(known: {', '.join(sorted(INDEX_KINDS))}); rebuild it with `kgrag build`"
        )
    return cls.load(path, encoder=encoder, dim=dim)
