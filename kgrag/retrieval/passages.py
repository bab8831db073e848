"""Vector search over the corpus chunks.

Embedded once at build time, saved beside the knowledge base with the encoder's name and dimension
(checked on load).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np

from kgrag.errors import ConfigError, MissingExtraError, RetrievalNotBuilt
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Label
from kgrag.index.base import Encoder, VectorIndex, Vectors
from kgrag.index.encoders import OFFLINE_MINILM, HashingEncoder, SentenceTransformerEncoder
from kgrag.index.part_embeddings import text_sha256
from kgrag.index.vectors import (
    IVFPQ_MIN_VECTORS,
    IVFPQ_NPROBE,
    ExactIndex,
    FaissIndex,
    IvfPqIndex,
    load_index,
    read_meta,
    training_rows,
)
from kgrag.progress import Progress, log_progress, report_count

logger = logging.getLogger(__name__)

INDEX_NAME = "passages.index"
IDS_NAME = "passages.ids.json"
EMBEDDINGS_NAME = "passages.embeddings.npz"
KEY_BYTES = 16
MANIFEST_NAME = "manifest.json"  # kgrag.retrieval.manifest's
# what loading the index reads (the embeddings are read by the next build only)
INDEX_FILES = (INDEX_NAME, INDEX_NAME + ".json", "passages.npy", IDS_NAME)


def encoder_by_name(name: str) -> Encoder:
    """The encoder an index records.

    ``auto`` (the offline MiniLM when installed, else the hashing encoder), ``hashing``, a recorded
    name (``sentence-transformers:MODEL``, ``kgrag.HashingEncoder.v1-256``) or any
    sentence-transformers model name or path.
    """
    if name == "auto":
        try:
            return SentenceTransformerEncoder(OFFLINE_MINILM)
        except MissingExtraError:
            logger.warning("no sentence-transformers: passages use the lexical hashing encoder")
            return HashingEncoder()
    if name == "hashing" or name.startswith("kgrag.HashingEncoder.v1-"):
        dim = int(name.rsplit("-", 1)[1]) if "-" in name else 256
        return HashingEncoder(dim)
    return SentenceTransformerEncoder(name.removeprefix("sentence-transformers:"))


def text_key(encoder: str, text: str) -> bytes:
    """The key of a saved embedding: BLAKE2b-128 of the encoder's name and the text."""
    return hashlib.blake2b(f"{encoder}\0{text}".encode(), digest_size=KEY_BYTES).digest()


def _saved_embeddings(directory: Path, encoder: Encoder) -> dict[bytes, Vectors]:
    """Text key -> vector saved by an earlier build with ``encoder`` (empty if none)."""
    path = directory / EMBEDDINGS_NAME
    try:
        with np.load(path) as saved:
            if str(saved["encoder"]) != encoder.name or saved["vectors"].shape[1:] != (encoder.dim,):
                return {}
            keys = [k.tobytes() for k in saved["keys"]]
            return dict(zip(keys, saved["vectors"], strict=True))
    except (OSError, KeyError, ValueError) as e:
        if path.exists():
            logger.warning("ignoring unreadable saved embeddings %s: %s", path, e)
        return {}


IndexKind = Literal["auto", "flat", "hnsw", "ivfpq", "exact", "neo4j"]
ADD_ROWS = 65_536  # vectors handed to the index per add (an IVF-PQ index never gets all at once)


def _new_index(
    kind: IndexKind,
    encoder: Encoder,
    store: GraphStore,
    keys: list[str],
    *,
    ivfpq_threshold: int = IVFPQ_MIN_VECTORS,
    nprobe: int = IVFPQ_NPROBE,
) -> VectorIndex:
    """The vector index ``kind`` names (``auto``: the one for ``store`` and ``len(keys)``).

    ``auto``: Neo4j's own index when the graph lives in Neo4j; else faiss IVF-PQ from
    ``ivfpq_threshold`` vectors on, faiss flat below it (exact numpy search without faiss).
    """
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    if kind == "neo4j" or (kind == "auto" and isinstance(store, Neo4jGraphStore)):
        if not isinstance(store, Neo4jGraphStore):
            raise ConfigError("vector_index = 'neo4j' needs the graph in Neo4j (--store neo4j://...)")
        from kgrag.graph.neo4j_vectors import Neo4jVectorIndex

        return Neo4jVectorIndex(store, encoder.dim, encoder.name, keys)
    if kind == "exact":
        return ExactIndex(encoder.dim, encoder.name)
    if kind == "ivfpq" or (kind == "auto" and len(keys) >= ivfpq_threshold):
        try:
            return IvfPqIndex(encoder.dim, encoder.name, count=len(keys), nprobe=nprobe)
        except MissingExtraError:
            if kind == "ivfpq":
                raise
            logger.warning("no faiss: %s passages get an exact numpy index", f"{len(keys):,}")
            return ExactIndex(encoder.dim, encoder.name)
    try:
        return FaissIndex(encoder.dim, encoder.name, kind="hnsw" if kind == "hnsw" else "flat")
    except MissingExtraError:
        if kind == "hnsw":
            raise
        return ExactIndex(encoder.dim, encoder.name)


class PassageIndex:
    """Vector search over the corpus chunks: an encoder, a vector index and the chunk id of each row."""

    def __init__(
        self,
        encoder: Encoder,
        index: VectorIndex,
        chunk_ids: list[str],
        embeddings: tuple[list[bytes], Vectors] | None = None,
    ) -> None:
        self.encoder = encoder
        self.index = index
        self.chunk_ids = chunk_ids
        self.embeddings = embeddings  # (text keys, vectors) of a fresh build, kept for reuse

    @classmethod
    def build(
        cls,
        store: GraphStore,
        encoder: Encoder,
        *,
        batch: int = 256,
        reuse: Path | None = None,
        known: Mapping[str, Vectors] | None = None,
        kind: IndexKind = "auto",
        ivfpq_threshold: int = IVFPQ_MIN_VECTORS,
        nprobe: int = IVFPQ_NPROBE,
        progress: Progress | None = None,
    ) -> PassageIndex:
        """Embed every chunk in ``store`` (or take its vector from an earlier embedding) and index it.

        Args:
            store: the graph whose chunk nodes are indexed.
            encoder: the passage encoder.
            batch: chunks encoded per call.
            reuse: an artifacts folder whose saved embeddings (an earlier build with the same
                encoder) are taken for chunks whose text is unchanged.
            known: vectors by the SHA-256 (hex) of the chunk text, made with ``encoder``: the
                build's part embeddings (:mod:`kgrag.index.part_embeddings`); taken for the
                chunks whose text they hold.
            kind: the index kind (``auto``: see :func:`_new_index`).
            ivfpq_threshold: with ``auto``, an IVF-PQ index from this many chunks on.
            nprobe: lists an IVF-PQ index scans per query.
            progress: the progress reporter.

        Returns:
            The index, with the (text keys, vectors) kept for the next build's reuse.
        """
        chunks = [(n.id, str(n.props.get("text", ""))) for n in store.iter_nodes(Label.CHUNK)]
        keys = [text_key(encoder.name, t) for _, t in chunks]
        vectors = np.zeros((len(chunks), encoder.dim), dtype=np.float32)
        saved = _saved_embeddings(reuse, encoder) if reuse else {}
        todo = []
        from_parts = 0
        for i, key in enumerate(keys):
            if (row := saved.get(key)) is not None:
                vectors[i] = row
            elif known and (row := known.get(text_sha256(chunks[i][1]))) is not None:
                vectors[i] = row
                from_parts += 1
            else:
                todo.append(i)
        if saved:
            (progress or log_progress)(
                f"passages: {len(chunks) - len(todo) - from_parts:,} embeddings reused"
            )
        if from_parts:
            (progress or log_progress)(f"passages: {from_parts:,} embeddings from the parts")
        for start in range(0, len(todo), batch):
            rows = todo[start : start + batch]
            vectors[rows] = encoder.encode_documents([chunks[i][1] for i in rows])
            report_count(progress, "passages: embedding", start + len(rows), len(todo))
        ids = [c for c, _ in chunks]
        index = _new_index(
            kind, encoder, store, ids, ivfpq_threshold=ivfpq_threshold, nprobe=nprobe
        )
        if isinstance(index, IvfPqIndex):
            sample = training_rows(len(vectors), index.shape.train)
            (progress or log_progress)(
                f"passages: IVF-PQ ({index.shape.nlist:,} lists, {index.shape.m} bytes a vector), "
                f"trained on {len(sample):,} of {len(vectors):,}"
            )
            index.train(vectors[sample])
        for start in range(0, len(vectors), ADD_ROWS):
            index.add(vectors[start : start + ADD_ROWS])
        return cls(encoder, index, ids, (keys, vectors))

    def save(self, directory: Path) -> None:
        """Save the index, the chunk ids and (after a fresh build) the embeddings to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self.index.save(directory / INDEX_NAME)
        (directory / IDS_NAME).write_text(json.dumps(self.chunk_ids))
        if self.embeddings is not None:
            keys, vectors = self.embeddings
            with (directory / EMBEDDINGS_NAME).open("wb") as f:
                flat = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, KEY_BYTES)
                np.savez(f, keys=flat, vectors=vectors, encoder=self.encoder.name)

    @classmethod
    def load(
        cls, directory: Path, encoder: Encoder | None = None, *, store: GraphStore | None = None
    ) -> PassageIndex:
        """The index saved in ``directory``; ``store`` is needed when its vectors live in Neo4j.

        Its files are checked against the build's manifest first (sizes; SHA-256 on the first
        load in a process, see :mod:`kgrag.retrieval.manifest`).

        Raises:
            RetrievalNotBuilt: no passage index in ``directory``.
            ArtifactDamaged: one of its files is missing, truncated, altered or another build's.
            IndexMismatch: it was built with another encoder or dimension than ``encoder``.
        """
        from kgrag.retrieval.manifest import verify

        path = directory / INDEX_NAME
        if not (directory / IDS_NAME).is_file() and not (directory / MANIFEST_NAME).is_file():
            raise RetrievalNotBuilt(f"no passage index in {directory}; run `kgrag build`")
        verify(directory, names=set(INDEX_FILES))
        meta = read_meta(path, encoder.name if encoder else None, encoder.dim if encoder else None)
        encoder = encoder or encoder_by_name(str(meta["encoder"]))
        ids: list[str] = json.loads((directory / IDS_NAME).read_text())
        index: VectorIndex
        if meta["kind"] == "neo4j":
            from kgrag.graph.neo4j_store import Neo4jGraphStore
            from kgrag.graph.neo4j_vectors import Neo4jVectorIndex

            if not isinstance(store, Neo4jGraphStore):
                raise RetrievalNotBuilt(
                    f"the passage vectors of {directory} live in Neo4j; open that store"
                )
            index = Neo4jVectorIndex.load(
                path, encoder=encoder.name, dim=encoder.dim, store=store, keys=ids
            )
        else:
            index = load_index(path, encoder=encoder.name, dim=encoder.dim)
        return cls(encoder, index, ids)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """``(chunk node id, cosine)`` best first."""
        if not query.strip() or not self.chunk_ids:
            return []
        scores, ids = self.index.search(self.encoder.encode_queries([query]), k)
        return [
            (self.chunk_ids[int(i)], float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0 and np.isfinite(s)
        ]
