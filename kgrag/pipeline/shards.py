"""Shards: a corpus source split into groups of files, each with a content fingerprint.

The driver lists a corpus folder once (:func:`plan_shards`) and groups its readable files,
in the order :func:`~kgrag.corpus.documents.read_corpus` reads them, into shards of about
``shard_docs`` documents (every reader makes one document of one file). A shard's
fingerprint is a digest of the build's settings (``base``), and of each file's relative path
and the SHA-256 of its bytes: an edited file changes its shard's fingerprint and no other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from kgrag.corpus.documents import ReadFailure, reads, walk_files
from kgrag.types import BoundaryModel

DEFAULT_SHARD_DOCS = 5000
"""Documents per shard: small enough that a lost shard costs seconds to minutes of linking."""


class Shard(BoundaryModel):
    """A group of corpus files, in read order, and the fingerprint that names its part."""

    files: tuple[str, ...] = Field(description="paths relative to the corpus folder, posix")
    fingerprint: str = Field(description="SHA-256 hex of the build base and the files' bytes")


class ShardPlan(BoundaryModel):
    """The shards of one corpus source, and what the folder walk could not follow."""

    folder: str
    shards: tuple[Shard, ...]
    failures: tuple[tuple[str, str, str], ...] = Field(
        default=(), description="(path, reason, kind) of each entry not followed"
    )


def order_key(relative: str) -> tuple[str, ...]:
    """The position of a file in read order: its path's parts (folders are read name by name)."""
    return tuple(relative.split("/"))


def file_digest(path: Path) -> str:
    """SHA-256 hex of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def plan_shards(
    folder: Path,
    *,
    base: str,
    format: str | None = None,
    allowed: Sequence[Path] | None = None,
    shard_docs: int = DEFAULT_SHARD_DOCS,
) -> ShardPlan:
    """Split the readable files of ``folder`` into shards of ``shard_docs`` files, in read order.

    Args:
        folder: the corpus folder (resolved, inside the recipe's allowed folders).
        base: a digest of everything else the shard's output depends on (code, concept table,
            recipe entry); part of every fingerprint.
        format: the source's reader name (None/``auto``: by suffix).
        allowed: folders symbolic links may point into.
        shard_docs: files (documents) per shard, at least 1.

    Returns:
        The plan; files no reader of ``format`` reads are left out, as ``read_corpus`` does.
    """
    roots = [Path(a).resolve() for a in allowed] if allowed is not None else [folder.resolve()]
    files: list[Path] = []
    failures: list[tuple[str, str, str]] = []
    for entry in walk_files(folder, roots):
        if isinstance(entry, ReadFailure):
            failures.append((entry.path, entry.reason, entry.kind))
        elif reads(entry, format) is not None:
            files.append(entry)
    size = max(1, shard_docs)
    shards = []
    for i in range(0, len(files), size):
        group = files[i : i + size]
        h = hashlib.sha256(base.encode())
        names = tuple(p.relative_to(folder).as_posix() for p in group)
        for name, path in zip(names, group, strict=True):
            h.update(f"\0{name}\0{file_digest(path)}".encode())
        shards.append(Shard(files=names, fingerprint=h.hexdigest()))
    return ShardPlan(folder=str(folder), shards=tuple(shards), failures=tuple(failures))
