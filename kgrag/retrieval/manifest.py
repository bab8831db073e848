"""The manifest of a knowledge base's retrieval artifacts: what each file must be.

``kgrag build`` ends by writing ``manifest.json`` into the artifacts directory (beside an
embedded store: ``<kb>/retrieval/``): for every artifact file its path, size in bytes, SHA-256
and format version, with the build's fingerprint (the one the graph records under
``retrieval``). Opening a knowledge base checks the files against it:

* **sizes and presence on every open** (a ``stat`` per file, microseconds);
* **SHA-256 on the first open in a process** of each file version (path, size, mtime, ctime, inode):
  a warm process that reopens the knowledge base (the server after a rebuild, the API's shared
  diagnoser) hashes only files that changed; ``kgrag info --check`` hashes every file again.

A missing, truncated, emptied or altered file, a file of another kind in its place, a file or a
whole directory copied from another build, or a missing or unreadable manifest raise
:class:`~kgrag.errors.ArtifactDamaged`, whose message names the file and says to rerun
``kgrag build``. The build itself reads the manifest to decide whether the artifacts can be kept
(:func:`intact`), so a rebuild repairs damage even when no source changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from kgrag.errors import ArtifactDamaged, RetrievalNotBuilt

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20  # bytes hashed per read

# the format version of each artifact, by file name (a file not listed: "1"). The diagnostic
# model's is its own FORMAT_VERSION, filled in by ``_formats``.
_FILE_FORMATS = {
    "passages.index": "passages-index/1",
    "passages.index.json": "passages-index-meta/1",
    "passages.npy": "passages-vectors/1",
    "passages.ids.json": "passages-ids/1",
    "passages.embeddings.npz": "passages-embeddings/1",
}

_verified: set[tuple[str, int, int, int, int, str]] = set()  # path, size, mtime, ctime, inode, sha
_failed: set[tuple[str, int, int, int, int, str]] = set()  # versions found damaged (not hashed again)
_verified_lock = threading.Lock()


class ArtifactEntry(BaseModel):
    """One artifact file as its build wrote it."""

    path: str = Field(description="file name, relative to the artifacts directory")
    size: int = Field(ge=0, description="size in bytes")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the whole file, hex")
    format: str = Field(description="the artifact's kind and format version, e.g. diagnostic-model/3")


class Manifest(BaseModel):
    """Every retrieval artifact of one build (``manifest.json``)."""

    format: int = Field(description="the manifest's own format version")
    fingerprint: str = Field(description="the build's fingerprint (the graph's ``retrieval`` meta)")
    files: list[ArtifactEntry]


def _formats() -> dict[str, str]:
    from kgrag.retrieval.model import FILE_NAME, FORMAT_VERSION

    return {**_FILE_FORMATS, FILE_NAME: f"diagnostic-model/{FORMAT_VERSION}"}


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, fingerprint: str) -> Manifest:
    """Record every file in ``directory`` (but the manifest and temporary files), atomically.

    Called once, at the end of the build's artifact step, after every artifact is written.

    Args:
        directory: the artifacts directory.
        fingerprint: the build's fingerprint.

    Returns:
        The manifest written to ``directory / MANIFEST_NAME``.
    """
    formats = _formats()
    entries = [
        ArtifactEntry(
            path=p.name,
            size=p.stat().st_size,
            sha256=sha256_of(p),
            format=formats.get(p.name, "1"),
        )
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.endswith(".tmp")
    ]
    manifest = Manifest(format=MANIFEST_FORMAT, fingerprint=fingerprint, files=entries)
    fd, tmp = tempfile.mkstemp(prefix=MANIFEST_NAME, suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(manifest.model_dump_json(indent=1))
        os.replace(tmp, directory / MANIFEST_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return manifest


def read_manifest(directory: Path) -> Manifest:
    """The manifest of ``directory``.

    Raises:
        RetrievalNotBuilt: neither a manifest nor a diagnostic model: nothing was built here.
        ArtifactDamaged: the manifest is missing (but artifacts are there), unreadable, or of
            another format.
    """
    from kgrag.retrieval.model import FILE_NAME

    path = directory / MANIFEST_NAME
    if not path.is_file():
        if not (directory / FILE_NAME).exists():
            raise RetrievalNotBuilt(
                f"no retrieval artifacts in {directory}; run `kgrag build` to make them"
            )
        raise ArtifactDamaged(
            path, "manifest", "the manifest is missing (an older build, or it was deleted)"
        )
    try:
        manifest = Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as e:
        raise ArtifactDamaged(
            path, "manifest", f"the manifest is unreadable ({type(e).__name__})"
        ) from e
    if manifest.format != MANIFEST_FORMAT:
        raise ArtifactDamaged(
            path, "manifest", f"manifest format {manifest.format}, expected {MANIFEST_FORMAT}"
        )
    return manifest


def verify(
    directory: Path,
    fingerprint: str | None = None,
    *,
    names: set[str] | None = None,
    rehash: bool = False,
) -> Manifest:
    """Check the artifacts in ``directory`` against their manifest.

    Sizes always; SHA-256 for each file version not yet verified in this process (every file
    when ``rehash``).

    Args:
        directory: the artifacts directory.
        fingerprint: the graph's fingerprint of its artifacts (``None``: not compared).
        names: check only these files (``None``: every file of the manifest).
        rehash: hash even files this process verified before.

    Returns:
        The manifest.

    Raises:
        ArtifactDamaged: a file is missing, of another size or content, or the manifest is
            another build's (or damaged).
        RetrievalNotBuilt: nothing was built in ``directory``.
    """
    manifest = read_manifest(directory)
    if fingerprint is not None and manifest.fingerprint != fingerprint:
        raise ArtifactDamaged(
            directory / MANIFEST_NAME,
            "foreign",
            f"the artifacts are from another build (manifest {manifest.fingerprint!r:.20}, "
            f"the graph {fingerprint!r:.20})",
        )
    formats = _formats()
    for entry in manifest.files:
        if names is not None and entry.path not in names:
            continue
        path = directory / entry.path
        want = formats.get(entry.path, "1")
        if entry.format != want:
            raise ArtifactDamaged(path, "format", f"format {entry.format}, this kgrag reads {want}")
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ArtifactDamaged(path, "missing", "the file is missing") from None
        if st.st_size != entry.size:
            raise ArtifactDamaged(
                path,
                "size",
                f"{st.st_size:,} bytes, the build wrote {entry.size:,} (truncated or replaced)",
            )
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, entry.sha256)
        with _verified_lock:
            known = key in _verified
            failed = key in _failed
        if known and not rehash:
            continue
        if (failed and not rehash) or sha256_of(path) != entry.sha256:
            with _verified_lock:
                _failed.add(key)
            raise ArtifactDamaged(
                path, "sha256", "its SHA-256 differs from the build's (altered, or another build's copy)"
            )
        with _verified_lock:
            _verified.add(key)
    return manifest


def intact(directory: Path, fingerprint: str) -> bool:
    """Whether the artifacts in ``directory`` are whole and of the build ``fingerprint``.

    The build keeps artifacts only when this holds (every file hashed again).
    """
    try:
        verify(directory, fingerprint, rehash=True)
    except (ArtifactDamaged, RetrievalNotBuilt) as e:
        logger.info("retrieval artifacts will be remade: %s", e)
        return False
    return True


def manifest_entries(directory: Path) -> list[ArtifactEntry]:
    """The files the manifest of ``directory`` lists (for checks and tests)."""
    return read_manifest(directory).files


__all__ = [
    "MANIFEST_NAME",
    "ArtifactEntry",
    "Manifest",
    "intact",
    "manifest_entries",
    "read_manifest",
    "sha256_of",
    "verify",
    "write_manifest",
]
