"""Neo4j's own vector index (HNSW, cosine) behind the :class:`VectorIndex` Protocol.

The vectors live on the graph's ``Chunk`` nodes (``embedding``), so a team's Neo4j holds
the passages and their embeddings together; positions map to node ids through ``keys``,
the chunk ids in the order they were added. The encoder's name and dimension are kept in
the store's meta and in the file saved beside the other retrieval artifacts, and checked
on load.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kgrag.errors import ConfigError, IndexMismatch
from kgrag.graph import neo4j_queries as q
from kgrag.index.base import Vectors
from kgrag.index.vectors import as_vectors, read_meta, write_meta

if TYPE_CHECKING:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

logger = logging.getLogger(__name__)

META_KEY = "vector_index"


class Neo4jVectorIndex:
    """A :class:`~kgrag.index.base.VectorIndex` whose vectors live on the chunk nodes of a Neo4j graph.

    Searched with Neo4j's own vector index; ``keys`` are the chunk node ids in vector order.
    """

    kind = "neo4j"

    def __init__(
        self, store: Neo4jGraphStore, dim: int, encoder: str, keys: list[str], *, batch: int = 500
    ) -> None:
        self.store = store
        self.dim = dim
        self.encoder = encoder
        self.keys = keys
        self.position = {k: i for i, k in enumerate(keys)}
        self.batch = batch
        self.count = 0

    def _ensure_index(self) -> None:
        info = self.store.cypher(q.VECTOR_INDEX_INFO, read=True, name=q.VECTOR_INDEX)
        if info and info[0]["dim"] != self.dim:
            logger.info(
                "Neo4j vector index has dimension %s, recreating with %d", info[0]["dim"], self.dim
            )
            self.store.cypher(q.DROP_VECTOR_INDEX)
            info = []
        if not info:
            self.store.cypher(q.CREATE_VECTOR_INDEX % int(self.dim))
        self.store.cypher(q.AWAIT_VECTOR_INDEX, name=q.VECTOR_INDEX, seconds=300)

    def __len__(self) -> int:
        return self.count

    def add(self, vectors: Vectors) -> None:
        """Write ``vectors`` (shape ``(n, dim)``) onto the next chunk nodes, in batches of ``batch``.

        Raises:
            IndexMismatch: more vectors than keys.
        """
        vectors = as_vectors(vectors, self.dim)
        if self.count + len(vectors) > len(self.keys):
            raise IndexMismatch(f"{len(self.keys)} keys for {self.count + len(vectors)} vectors")
        if self.count == 0:
            self._ensure_index()
            self.store.set_meta(META_KEY, "building")
        for start in range(0, len(vectors), self.batch):
            part = vectors[start : start + self.batch]
            rows = [
                {"id": self.keys[self.count + start + i], "vector": v.tolist()}
                for i, v in enumerate(part)
            ]
            self.store.cypher(q.SET_EMBEDDINGS, rows=rows)
        self.count += len(vectors)
        self.store.set_meta(META_KEY, _stamp(self.encoder, self.dim, self.count))

    def search(self, queries: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The ``k`` best cosine scores per query from Neo4j's vector index: ``(scores, ids)``.

        Both arrays are of shape ``(n_queries, min(k, count))``; ids are positions in ``keys``.
        """
        queries = as_vectors(queries, self.dim)
        k = min(k, self.count)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, query in enumerate(queries):
            if k == 0:
                break
            hits = self.store.cypher(
                q.QUERY_VECTORS, read=True, name=q.VECTOR_INDEX, k=k, vector=query.tolist()
            )
            found = [(h["score"], self.position[h["id"]]) for h in hits if h["id"] in self.position]
            for j, (score, position) in enumerate(found[:k]):
                scores[row, j] = 2.0 * float(score) - 1.0  # Neo4j reports (1 + cosine) / 2
                ids[row, j] = position
        return scores, ids

    def save(self, path: Path) -> None:
        """Write the metadata to ``path.json``; the vectors themselves stay in the graph."""
        write_meta(path, kind=self.kind, dim=self.dim, encoder=self.encoder, count=self.count)

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        encoder: str | None = None,
        dim: int | None = None,
        store: Neo4jGraphStore | None = None,
        keys: list[str] | None = None,
    ) -> Neo4jVectorIndex:
        """Open the vectors a build left in ``store``: the ``VectorIndex`` load, bound to a store.

        The vectors live in the graph; ``path`` holds only the metadata.

        Args:
            path: where ``save`` wrote the metadata.
            encoder: the encoder in use (another one's index is refused).
            dim: the dimension in use.
            store: the Neo4j store holding the vectors (required).
            keys: the chunk ids in row order (required).

        Returns:
            The index.

        Raises:
            ConfigError: ``store`` or ``keys`` not given.
            IndexMismatch: another encoder or dimension, or the vectors in Neo4j are not
                those this metadata was saved with.
        """
        if store is None or keys is None:
            raise ConfigError("Neo4jVectorIndex.load needs the store and the chunk ids (store=, keys=)")
        meta = read_meta(path, encoder, dim)
        out = cls(store, int(str(meta["dim"])), str(meta["encoder"]), keys)
        out.count = int(str(meta["count"]))
        stamp = _stamp(out.encoder, out.dim, out.count)
        if store.get_meta(META_KEY) != stamp:
            raise IndexMismatch(
                f"the vectors in Neo4j ({store.get_meta(META_KEY)}) are not those this index "
                f"was saved with ({stamp}); rerun `kgrag build --store {store.uri}`"
            )
        return out


def _stamp(encoder: str, dim: int, count: int) -> str:
    """What the store's meta records about the vectors it holds.

    A JSON array, compared whole (an encoder name may hold any character).
    """
    return json.dumps([encoder, dim, count])
