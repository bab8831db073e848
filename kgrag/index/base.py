"""The pluggable parts of vector search."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Text -> L2-normalized float32 vectors of shape (n, dim)."""

    name: str  # versioned, recorded in every index built with it
    dim: int

    def encode_queries(self, texts: list[str]) -> Vectors:
        """Embed search queries: shape ``(len(texts), dim)``, float32, rows L2-normalized."""

    def encode_documents(self, texts: list[str]) -> Vectors:
        """Embed passages to index: shape ``(len(texts), dim)``, float32, rows L2-normalized."""


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product nearest neighbours over normalized vectors.

    ``save(path)`` writes the index and ``path.json`` (kind, dim, encoder, count);
    ``load(path)`` reads it back, refusing another encoder or dimension.
    :func:`kgrag.index.vectors.load_index` picks the class from the saved kind
    (``INDEX_KINDS``).
    """

    dim: int

    def __len__(self) -> int: ...

    def add(self, vectors: Vectors) -> None:
        """Append ``vectors`` (shape ``(n, dim)``, L2-normalized float32)."""
        ...

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The ``k`` best rows per query.

        Scores (inner products) and row ids, each of shape ``(len(queries), min(k, len(self)))``,
        best first.
        """
        ...

    def save(self, path: Path) -> None:
        """Write the index to ``path`` and its metadata beside it."""
        ...

    @classmethod
    def load(cls, path: Path, *, encoder: str | None = None, dim: int | None = None) -> Self:
        """Read an index saved by ``save``.

        Args:
            path: where it was saved.
            encoder: the encoder in use; another one's index is refused.
            dim: the dimension in use; another one is refused.

        Returns:
            The index.

        Raises:
            IndexMismatch: missing metadata, another encoder or another dimension.
        """
        ...
