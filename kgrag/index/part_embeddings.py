"""Per-shard embeddings: the vectors of one part's chunks, in a Parquet file beside the part.

The embed stage (:mod:`kgrag.pipeline.embed_stage`) writes, for a finished part and one
encoder, ``<part>/embeddings-<encoder digest>.parquet`` with one row per chunk:

* ``chunk``: the chunk's graph node id (``chunk:...``);
* ``text_sha256``: the SHA-256 (hex) of the chunk's text, the key vectors are reused by;
* ``vector``: the encoder's float32 vector, a fixed-size list of ``dim`` floats.

The file's schema metadata names the encoder (``kgrag.encoder``) and its dimension
(``kgrag.dim``), so a file is never read for another encoder. Files are written to a temporary
name and renamed (atomic): a file that exists is whole. The passage index build
(:func:`kgrag.retrieval.artifacts.build_artifacts`) takes vectors from these files by text
hash instead of encoding the chunks again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kgrag.errors import IndexMismatch
from kgrag.index.base import Vectors

logger = logging.getLogger(__name__)

PREFIX = "embeddings-"
SUFFIX = ".parquet"
_ENCODER_KEY = b"kgrag.encoder"
_DIM_KEY = b"kgrag.dim"


def text_sha256(text: str) -> str:
    """The SHA-256 (hex) of a chunk's text (UTF-8; lone surrogates escaped), the reuse key."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def encoder_digest(encoder: str) -> str:
    """A short digest of an encoder's recorded name (16 hex digits), for file names."""
    return hashlib.sha256(encoder.encode()).hexdigest()[:16]


def embeddings_path(part: Path, encoder: str) -> Path:
    """Where the embeddings of ``part``'s chunks by ``encoder`` (its recorded name) live."""
    return part / f"{PREFIX}{encoder_digest(encoder)}{SUFFIX}"


def write_embeddings(
    path: Path, chunks: Sequence[str], shas: Sequence[str], vectors: Vectors, encoder: str
) -> Path:
    """Write one part's embeddings to ``path``, atomically (temporary file, then rename).

    Args:
        path: the file (:func:`embeddings_path`).
        chunks: the chunk node ids, one per row.
        shas: the SHA-256 of each chunk's text (:func:`text_sha256`).
        vectors: float32 vectors, shape ``(len(chunks), dim)``.
        encoder: the encoder's recorded name.

    Returns:
        ``path``.

    Raises:
        IndexMismatch: the three columns differ in length.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or not len(chunks) == len(shas) == len(vectors):
        raise IndexMismatch(
            f"{len(chunks)} chunks, {len(shas)} hashes and {vectors.shape} vectors for {path}"
        )
    dim = int(vectors.shape[1])
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    table = pa.table(
        {
            "chunk": pa.array(list(chunks), type=pa.string()),
            "text_sha256": pa.array(list(shas), type=pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
        }
    ).replace_schema_metadata({_ENCODER_KEY: encoder.encode(), _DIM_KEY: str(dim).encode()})
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_embeddings(
    path: Path, encoder: str, dim: int | None = None, *, vectors: bool = True
) -> tuple[list[str], list[str], Vectors]:
    """The rows of an embeddings file written with ``encoder``.

    Args:
        path: the file.
        encoder: the encoder's recorded name; a file of another encoder is refused.
        dim: the dimension in use (None: any).
        vectors: False reads the ids and hashes only (the vectors come back empty, ``(n, 0)``).

    Returns:
        Chunk ids, text hashes and the vectors (float32, ``(n, dim)``).

    Raises:
        IndexMismatch: another encoder's or dimension's file, or not an embeddings file.
        OSError: the file cannot be read.
    """
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    written_by = meta.get(_ENCODER_KEY, b"").decode()
    if written_by != encoder:
        raise IndexMismatch(f"{path} holds {written_by or '?'!r} vectors, not {encoder!r}")
    stored = int(meta.get(_DIM_KEY, b"0"))
    if dim is not None and stored != dim:
        raise IndexMismatch(f"{path} holds vectors of dimension {stored}, the encoder gives {dim}")
    columns = ["chunk", "text_sha256", "vector"] if vectors else ["chunk", "text_sha256"]
    table = pq.read_table(path, columns=columns)
    chunks = [str(c) for c in table.column("chunk").to_pylist()]
    shas = [str(s) for s in table.column("text_sha256").to_pylist()]
    if not vectors:
        return chunks, shas, np.zeros((len(chunks), 0), np.float32)
    column = table.column("vector").combine_chunks()
    values = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return chunks, shas, values.reshape(len(chunks), stored)


def load_known(files: Iterable[Path], encoder: str, dim: int) -> dict[str, Vectors]:
    """Text SHA-256 -> vector from every readable embeddings file of ``encoder`` among ``files``.

    A file of another encoder or dimension, or one that cannot be read, is skipped (with a
    warning when unreadable): its chunks are encoded again.
    """
    known: dict[str, Vectors] = {}
    for path in files:
        try:
            _, shas, vectors = read_embeddings(path, encoder, dim)
        except IndexMismatch:
            continue
        except Exception as e:  # a damaged file: pyarrow raises its own errors
            logger.warning("ignoring unreadable part embeddings %s: %s", path, type(e).__name__)
            continue
        known.update(zip(shas, vectors, strict=True))
    return known


def embedding_files(parts: Iterable[Path], encoder: str | None = None) -> list[Path]:
    """The embeddings files of ``parts`` (of ``encoder`` only, when given), in part order."""
    out: list[Path] = []
    for part in parts:
        if encoder is not None:
            path = embeddings_path(part, encoder)
            if path.is_file():
                out.append(path)
        elif part.is_dir():
            out.extend(sorted(part.glob(f"{PREFIX}*{SUFFIX}")))
    return out
