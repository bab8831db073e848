"""``ontologies/manifest.json``.

What the embedded default ships, with versions, licenses and checksums.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from kgrag.errors import ChecksumMismatch, OntologyFormatError, OntologySourceMissing
from kgrag.ontology.sourcefile import sha256_file
from kgrag.types import BoundaryModel


class ManifestFile(BoundaryModel):
    """One file of a vocabulary: its path under ``ontologies/``, SHA-256 and size in bytes."""

    path: str
    sha256: str
    bytes: int


class ManifestSource(BoundaryModel):
    """One vocabulary of the manifest: version, licence, attribution, origin and files."""

    name: str
    version: str
    license: str
    attribution: str
    origin: str
    files: tuple[ManifestFile, ...]


class Manifest(BoundaryModel):
    """The shipped vocabularies' ``manifest.json``."""

    format: int
    sources: tuple[ManifestSource, ...]

    def source(self, name: str) -> ManifestSource:
        """The source called ``name``.

        Raises:
            OntologySourceMissing: the manifest has no such source.
        """
        for s in self.sources:
            if s.name == name:
                return s
        raise OntologySourceMissing(f"manifest source {name}")


def read_manifest(directory: Path) -> Manifest:
    """Read ``directory/manifest.json``.

    Raises:
        OntologySourceMissing: the file is missing (the message says how to point to it).
    """
    path = directory / "manifest.json"
    if not path.is_file():
        raise OntologySourceMissing(
            path, "set KGRAG_ONTOLOGIES_DIR to the ontologies/ folder of a kgrag checkout"
        )
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as e:
        raise OntologyFormatError(path, None, f"invalid manifest: {e}") from e


def file_checksums(directory: Path, manifest: Manifest, *, strict: bool) -> dict[str, str]:
    """sha256 of every shipped file, as found on disk.

    With ``strict``, a file that differs from the manifest raises :class:`ChecksumMismatch`.
    """
    out: dict[str, str] = {}
    for source in manifest.sources:
        for f in source.files:
            path = directory / f.path
            if not path.is_file():
                raise OntologySourceMissing(path, "the shipped vocabularies are incomplete")
            actual = sha256_file(path)
            if strict and actual != f.sha256:
                raise ChecksumMismatch(path, f.sha256, actual)
            out[f.path] = actual
    return out
