"""Vector indexes.

Exact numpy search (no dependencies) and faiss: flat or HNSW, and IVF-PQ for large collections
(:class:`IvfPqIndex`, chosen above :data:`IVFPQ_MIN_VECTORS` vectors). Flat and IVF-PQ move to
the GPU when faiss-gpu and a GPU are present. Saved with the encoder's name and dimension,
which are checked on load. docs/scaling.md ("Vectors at scale") gives the measurements behind
the IVF-PQ threshold and parameters.
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
from kgrag.types import BoundaryModel

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


def write_meta(path: Path, *, kind: str, dim: int, encoder: str, count: int, **extra: int | str) -> None:
    """Write the index's sidecar ``path.json``.

    Its kind, dimension, encoder name and vector count, and ``extra`` (an IVF-PQ index's
    parameters).
    """
    _meta_path(path).write_text(
        json.dumps({"kind": kind, "dim": dim, "encoder": encoder, "count": count, **extra})
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


class _FaissSearch:
    """Size and search of a faiss index held in ``self.index`` (dimension ``self.dim``)."""

    index: Any
    dim: int

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The ``k`` best inner products per query: ``(scores, ids)``, each of shape ``(n_queries, k')``.

        ``k'`` is ``min(k, len(self))``, best first. HNSW and IVF-PQ results are approximate;
        an IVF-PQ row whose ``nprobe`` lists hold fewer than ``k'`` vectors is padded with id -1.
        """
        queries = as_vectors(queries, self.dim)
        k = min(k, len(self))
        if k == 0:
            return (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
        scores, ids = self.index.search(queries, k)
        return scores.astype(np.float32), ids.astype(np.int64)


class FaissIndex(_FaissSearch):
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

    def add(self, vectors: Vectors) -> None:
        """Append ``vectors`` (shape ``(n, dim)``) to the faiss index."""
        self.index.add(as_vectors(vectors, self.dim))

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


# -- IVF-PQ --------------------------------------------------------------------------------
# Above this many vectors the passage index (``vector_index = "auto"``) is IVF-PQ, below it
# exact (flat). At 200,000 MiniLM vectors a flat index holds 307 MB of float32 and a query scans
# all of it (about 10 ms on one core here); IVF-PQ keeps IVFPQ_MAX_M bytes per vector (16x less)
# and scans nprobe of nlist lists. Below the threshold the flat index is exact and cheap enough,
# and IVF-PQ's training (k-means, tens of seconds) and recall loss buy nothing. At the
# threshold, nlist = 2048 lists (about 4 * sqrt(n), faiss's guideline of 4-16 * sqrt(n)) are
# trained on 64 points per list (131,072 sampled vectors: inside faiss's 39-256 points per
# centroid), which the collection has. Setting: ``vector_ivfpq_threshold``.
IVFPQ_MIN_VECTORS = 200_000
IVFPQ_MAX_M = 96  # PQ sub-quantizers (bytes per vector at 8 bits): 384 / 96 = 4 dims each
IVFPQ_NPROBE = 32  # lists scanned per query (setting ``vector_nprobe``)
IVFPQ_TRAIN_PER_LIST = 64  # training points per list (faiss: at least 39, at most 256 used)
_MIN_PER_CENTROID = 39  # faiss warns below this many training points per k-means centroid
IVFPQ_SEED = 25  # the training sample is drawn with this seed: the same vectors, the same index


class IvfPqShape(BoundaryModel):
    """The parameters of an IVF-PQ index for ``count`` vectors of dimension ``dim``.

    Attributes:
        nlist: inverted lists (coarse k-means centroids): the power of two nearest
            ``4 * sqrt(count)``, at most ``count / 39`` (each list needs 39 training points).
        m: PQ sub-quantizers: the largest divisor of ``dim`` not above :data:`IVFPQ_MAX_M`
            (96 for MiniLM's 384, 64 for the hashing encoder's 256).
        nbits: bits per sub-quantizer code: 8 when the sample has 39 * 256 points, fewer for
            tiny collections (tests).
        train: the training sample's size: ``IVFPQ_TRAIN_PER_LIST * nlist``, at least the PQ's
            ``39 * 2**nbits``, at most ``count``.
    """

    nlist: int
    m: int
    nbits: int
    train: int

    @classmethod
    def for_count(cls, count: int, dim: int) -> IvfPqShape:
        """The shape for ``count`` vectors (see the attributes).

        Raises:
            ConfigError: fewer than 39 * 16 vectors: too few to train any IVF-PQ index.
        """
        if count < _MIN_PER_CENTROID * 16:
            raise ConfigError(
                f"an IVF-PQ index needs at least {_MIN_PER_CENTROID * 16} vectors to train, got "
                f"{count:,}; use vector_index = 'flat' for so few"
            )
        target = 4.0 * float(np.sqrt(count))
        nlist = 2 ** max(4, round(np.log2(target)))
        while nlist > 16 and nlist * _MIN_PER_CENTROID > count:
            nlist //= 2
        m = max(d for d in range(1, min(dim, IVFPQ_MAX_M) + 1) if dim % d == 0)
        nbits = 8
        while nbits > 4 and _MIN_PER_CENTROID * 2**nbits > count:
            nbits -= 1
        train = min(count, max(IVFPQ_TRAIN_PER_LIST * nlist, _MIN_PER_CENTROID * 2**nbits))
        return cls(nlist=nlist, m=m, nbits=nbits, train=train)


def training_rows(count: int, size: int, seed: int = IVFPQ_SEED) -> npt.NDArray[np.int64]:
    """A seeded sample of ``size`` row numbers out of ``count``, sorted (read in order)."""
    rows = np.random.default_rng(seed).choice(count, size=min(size, count), replace=False)
    return np.sort(rows).astype(np.int64)


class IvfPqIndex(_FaissSearch):
    """faiss IVF-PQ (inverted lists of product-quantized codes), inner product: approximate.

    Made for ``count`` vectors (:class:`IvfPqShape`): :meth:`train` on a sample (the rows of
    :func:`training_rows`), then :meth:`add` in as many pieces as convenient (the vectors of
    one shard after another; nothing needs all of them in one array). An :meth:`add` before
    any :meth:`train` trains on a seeded sample of its own rows. A query scans ``nprobe``
    lists; the codes keep ``m`` bytes per vector. On a GPU (``gpu="auto"`` and faiss-gpu
    sees one) training, adding and search run there, with float16 lookup tables (faiss needs
    them for m > 48 on the GPU); the index is saved from a CPU copy.
    """

    kind = "ivfpq"

    def __init__(
        self,
        dim: int,
        encoder: str = "",
        *,
        count: int,
        nprobe: int = IVFPQ_NPROBE,
        gpu: bool | str = "auto",
        shape: IvfPqShape | None = None,
    ) -> None:
        try:
            import faiss
        except ImportError as e:
            raise MissingExtraError("faiss-cpu", "faiss", "An IVF-PQ vector index") from e
        self.faiss = faiss
        self.dim = dim
        self.encoder = encoder
        self.shape = shape or IvfPqShape.for_count(count, dim)
        self.nprobe = nprobe
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(
            quantizer, dim, self.shape.nlist, self.shape.m, self.shape.nbits, faiss.METRIC_INNER_PRODUCT
        )
        index.nprobe = nprobe
        self._quantizer = quantizer  # faiss does not own it: keep it alive with the index
        self.on_gpu = False
        self.index: Any = self._maybe_gpu(index, gpu)

    def _maybe_gpu(self, index: Any, gpu: bool | str) -> Any:
        if gpu is False:
            return index
        n_gpus = self.faiss.get_num_gpus() if hasattr(self.faiss, "get_num_gpus") else 0
        if n_gpus == 0:
            if gpu is True:
                raise ConfigError(
                    "gpu=True but faiss sees no GPU (install kgrag[gpu] on a CUDA machine)"
                )
            return index
        options = self.faiss.GpuClonerOptions()
        options.useFloat16 = True  # float16 lookup tables: m up to 96 fits the GPU's shared memory
        self._gpu_resources = self.faiss.StandardGpuResources()
        gpu_index = self.faiss.index_cpu_to_gpu(self._gpu_resources, 0, index, options)
        self.faiss.GpuParameterSpace().set_index_parameter(gpu_index, "nprobe", self.nprobe)
        self.on_gpu = True
        logger.info("IVF-PQ index on GPU 0")
        return gpu_index

    @property
    def is_trained(self) -> bool:
        """Whether the coarse quantizer and the PQ codebooks are trained."""
        return bool(self.index.is_trained)

    def train(self, sample: Vectors) -> None:
        """Train the lists and codebooks on ``sample`` (shape ``(n, dim)``; see :class:`IvfPqShape`).

        Raises:
            IndexMismatch: the sample has another dimension.
            ConfigError: the index holds vectors already, or the sample is smaller than nlist.
        """
        sample = as_vectors(sample, self.dim)
        if len(self):
            raise ConfigError("an IVF-PQ index is trained before any vector is added")
        if len(sample) < self.shape.nlist:
            raise ConfigError(
                f"{len(sample):,} training vectors for {self.shape.nlist:,} IVF lists; give at "
                f"least {self.shape.train:,}"
            )
        self.index.train(sample)

    def add(self, vectors: Vectors) -> None:
        """Append ``vectors`` (shape ``(n, dim)``); the first call trains when :meth:`train` was not."""
        vectors = as_vectors(vectors, self.dim)
        if not self.is_trained:
            self.train(vectors[training_rows(len(vectors), self.shape.train)])
        self.index.add(vectors)

    def save(self, path: Path) -> None:
        """Write the index (a CPU copy) to ``path`` and its metadata, with nlist, m, nbits and nprobe."""
        index = self.faiss.index_gpu_to_cpu(self.index) if self.on_gpu else self.index
        self.faiss.write_index(index, str(path))
        write_meta(
            path,
            kind=self.kind,
            dim=self.dim,
            encoder=self.encoder,
            count=len(self),
            nlist=self.shape.nlist,
            m=self.shape.m,
            nbits=self.shape.nbits,
            train=self.shape.train,
            nprobe=self.nprobe,
        )

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        encoder: str | None = None,
        dim: int | None = None,
        gpu: bool | str = "auto",
        nprobe: int | None = None,
    ) -> IvfPqIndex:
        """Load an index written by :meth:`save`, checking its encoder and dimension.

        Args:
            path: where it was saved.
            encoder: the encoder in use (another one's index is refused).
            dim: the dimension in use.
            gpu: ``"auto"``: to a GPU when faiss has one; True requires one; False stays on CPU.
            nprobe: lists scanned per query (default: the one it was built with).

        Raises:
            IndexMismatch: missing metadata, another encoder or dimension, or the file is not
                an IVF-PQ index of that shape.
        """
        meta = read_meta(path, encoder, dim)
        try:
            shape = IvfPqShape(
                nlist=int(meta["nlist"]),  # type: ignore[call-overload]
                m=int(meta["m"]),  # type: ignore[call-overload]
                nbits=int(meta["nbits"]),  # type: ignore[call-overload]
                train=int(meta["train"]),  # type: ignore[call-overload]
            )
        except (KeyError, TypeError, ValueError) as e:
            raise IndexMismatch(f"{path}.json lacks the IVF-PQ parameters; rebuild the index") from e
        out = cls(
            int(meta["dim"]),  # type: ignore[call-overload]
            str(meta["encoder"]),
            count=int(meta["count"]),  # type: ignore[call-overload]
            nprobe=int(nprobe if nprobe is not None else meta.get("nprobe", IVFPQ_NPROBE)),  # type: ignore[call-overload]
            gpu=False,
            shape=shape,
        )
        index = out.faiss.read_index(str(path))
        ivf = out.faiss.try_extract_index_ivf(index)
        if ivf is None or ivf.nlist != shape.nlist or index.d != out.dim:
            raise IndexMismatch(f"{path} is not the IVF-PQ index its metadata describes; rebuild it")
        ivf.nprobe = out.nprobe
        out.index = out._maybe_gpu(index, gpu)
        return out


# the saved ``kind`` -> the class that loads it. Neo4j's own vector index is not here: it
# lives in the graph (kgrag.graph.neo4j_vectors) and is opened with its store.
INDEX_KINDS: dict[str, type[VectorIndex]] = {
    "exact": ExactIndex,
    "flat": FaissIndex,
    "hnsw": FaissIndex,
    "ivfpq": IvfPqIndex,
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
