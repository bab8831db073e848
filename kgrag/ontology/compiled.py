"""The compiled concept table.

All default vocabularies loaded and unified once, saved as zstd-compressed JSON in the cache
directory, and loaded from there by later runs.

The file name carries a fingerprint of every input (the sha256 of each shipped file, the
ICD-10-CM release, the UMLS files if configured, and the compile format), so a changed
source means a new fingerprint and a rebuild. JSON rather than pickle: a cache file
cannot execute code when loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from kgrag import __version__
from kgrag._gc import paused_gc
from kgrag.config import Settings, get_settings
from kgrag.errors import OntologyFormatError
from kgrag.ontology.defaults import load_default_sources
from kgrag.ontology.icd10cm import icd10cm_release
from kgrag.ontology.manifest import file_checksums, read_manifest
from kgrag.ontology.table import ConceptTable
from kgrag.ontology.umls_rrf import load_umls_rrf
from kgrag.ontology.unify import UnifiedData, unify
from kgrag.progress import Progress
from kgrag.types import MergeConflict, SourceInfo

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
_PREFIX = "concepts-"
_SUFFIX = ".json.zst"


def _code_digest() -> str:
    """The compile code itself: editing a loader or the unifier invalidates old tables."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(settings: Settings) -> str:
    """A short hex key of everything the concept table is compiled from.

    It covers the format version, kgrag's version, the vocabulary files' checksums, the ICD-10-CM
    release, the compiler's code and (when set) the UMLS files' sizes and times.
    """
    directory = settings.ontologies_dir
    manifest = read_manifest(directory)
    parts: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "kgrag": __version__,
        "files": file_checksums(directory, manifest, strict=False),
        "icd10cm": icd10cm_release(),
        "code": _code_digest(),
    }
    if settings.umls_dir is not None:
        stats = {}
        for name in ("MRCONSO.RRF", "MRREL.RRF", "MRSTY.RRF"):
            p = settings.umls_dir / name
            if p.is_file():
                st = p.stat()
                stats[name] = [st.st_size, st.st_mtime_ns]
        parts["umls"] = stats
        parts["umls_languages"] = list(settings.umls_languages)
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]


def compile_sources(settings: Settings, progress: Progress | None = None) -> UnifiedData:
    """Load every vocabulary of the manifest (and UMLS when configured) and unify them.

    Raises:
        OntologySourceMissing: a manifest file is missing.
    """
    directory = settings.ontologies_dir
    manifest = read_manifest(directory)
    file_checksums(directory, manifest, strict=settings.verify_checksums)
    with paused_gc():
        results = load_default_sources(directory, manifest, progress)
        if settings.umls_dir is not None:
            if progress:
                progress("UMLS (RRF)")
            results.append(load_umls_rrf(settings.umls_dir, languages=settings.umls_languages))
        if progress:
            progress("unifying")
        for r in results:
            if r.warnings is not None:
                r.warnings.log()
        return unify(results)


def to_bytes(data: UnifiedData) -> bytes:
    """Serialize unified data as zstd-compressed JSON (the cache file format)."""
    import zstandard

    payload = {
        "format": FORMAT_VERSION,
        "sources": [s.model_dump() for s in data.sources],
        "ids": data.ids,
        "names": data.names,
        "kinds": data.kinds,
        "definitions": data.definitions,
        "codes": data.codes,
        "xrefs": data.xrefs,
        "synonyms": data.synonyms,
        "parents": data.parents,
        "aliases": data.aliases,
        "name_index": data.name_index,
        "link_keys": data.link_keys,
        "conflicts": [c.model_dump() for c in data.conflicts],
        "warnings": data.warnings,
        "per_source": data.per_source,
    }
    # with a content checksum: a flipped byte fails decompression and the table is rebuilt
    return zstandard.ZstdCompressor(level=3, write_checksum=True).compress(orjson.dumps(payload))


def from_bytes(blob: bytes, origin: str = "<bytes>") -> UnifiedData:
    """Read unified data written by :func:`to_bytes`; ``origin`` names it in errors.

    Raises:
        OntologyFormatError: the blob does not decompress, parse or have the current format.
    """
    import zstandard

    try:
        raw = orjson.loads(zstandard.ZstdDecompressor().decompress(blob))
    except (zstandard.ZstdError, orjson.JSONDecodeError) as e:
        raise OntologyFormatError(
            origin, None, f"compiled table is corrupt ({e}); it will be rebuilt if you delete it"
        ) from e
    if raw.get("format") != FORMAT_VERSION:
        raise OntologyFormatError(origin, None, "compiled table has another format version")
    return UnifiedData(
        sources=[SourceInfo.model_validate(s) for s in raw["sources"]],
        ids=raw["ids"],
        names=raw["names"],
        kinds=raw["kinds"],
        definitions=raw["definitions"],
        codes=raw["codes"],
        xrefs=raw["xrefs"],
        synonyms=raw["synonyms"],
        parents=raw["parents"],
        aliases=raw["aliases"],
        name_index=raw["name_index"],
        link_keys=raw["link_keys"],
        conflicts=[MergeConflict.model_validate(c) for c in raw["conflicts"]],
        warnings=raw["warnings"],
        per_source=raw["per_source"],
    )


def _write_atomic(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compiled_path(settings: Settings) -> Path:
    """The cache file of the concept table these settings compile to."""
    return settings.cache_dir / f"{_PREFIX}{fingerprint(settings)}{_SUFFIX}"


def load_concepts(
    settings: Settings | None = None,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> ConceptTable:
    """The unified concept table of the default vocabularies.

    Compiled on first use (about 14 s, written to the cache as zstd JSON), then loaded
    from the cache (about 1 s); a changed source file means a rebuild.

    Args:
        settings: where the vocabularies and the cache are (default: :func:`get_settings`).
        rebuild: compile again even if the cache is current.
        progress: called with one line per step.

    Returns:
        The :class:`~kgrag.ontology.table.ConceptTable` (about 139,000 concepts).

    Raises:
        OntologySourceMissing: a shipped vocabulary file is missing.
        ChecksumMismatch: a shipped file differs from its manifest.

    Examples:
        >>> import kgrag
        >>> kgrag.load_concepts().get("HP:0001945").name
        'Fever'
    """
    settings = settings or get_settings()
    path = compiled_path(settings)
    if path.is_file() and not rebuild:
        started = time.perf_counter()
        try:
            with paused_gc():
                table = ConceptTable(from_bytes(path.read_bytes(), str(path)))
            logger.info(
                "loaded %d concepts from %s in %.2fs", len(table), path, time.perf_counter() - started
            )
            return table
        except OntologyFormatError as e:
            logger.warning("%s; rebuilding", e)
    started = time.perf_counter()
    data = compile_sources(settings, progress)
    _write_atomic(path, to_bytes(data))
    for stale in settings.cache_dir.glob(f"{_PREFIX}*{_SUFFIX}"):
        if stale != path:
            stale.unlink(missing_ok=True)
    logger.info(
        "compiled %d concepts to %s in %.1fs", len(data.ids), path, time.perf_counter() - started
    )
    with paused_gc():
        return ConceptTable(data)
