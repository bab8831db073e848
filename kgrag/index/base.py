"""The pluggable parts of vector search."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Text -> L2-normalized float32 vectors of shape (n, dim)."""

    name: str  # versioned, recorded in every index built with it
    dim: int

    def encode_queries(self, texts: list[str]) -> Vectors: ...

    def encode_documents(self, texts: list[str]) -> Vectors: ...


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product nearest neighbours over normalized vectors."""

    dim: int

    def __len__(self) -> int: ...

    def add(self, vectors: Vectors) -> None: ...

    def search(
        self, queries: Vectors, k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]: ...

    def save(self, path: Path) -> None: ...
