"""Fingerprints that decide what a rebuild may skip.

A source is rebuilt when the digest of its recipe entry, the concept table, the code that
writes it or (for a corpus) its files changes; see :class:`~kgrag.pipeline.runner.Builder`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from kgrag.errors import RecipePathRefused
from kgrag.pipeline.recipe import Recipe, SourceSpec

PACKAGE = Path(__file__).resolve().parents[1]


def digest(*parts: object) -> str:
    """A 20-hex-digit SHA-256 digest of the ``repr`` of ``parts``."""
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
    return h.hexdigest()[:20]


def code_digest(*folders: Path) -> str:
    """A digest of the Python sources of ``folders`` (and their subfolders).

    ``folders`` defaults to the graph builders, the fact extractors and this pipeline, so a
    code change rebuilds what that code wrote.
    """
    h = hashlib.sha256()
    for folder in folders or (PACKAGE / "graph", PACKAGE / "facts", PACKAGE / "pipeline"):
        for p in sorted(folder.rglob("*.py")):
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def files_digest(recipe: Recipe, spec: SourceSpec) -> str:
    """Names, sizes and times of a corpus source's files ('' for other sources)."""
    if spec.kind != "corpus" or not spec.path:
        return ""
    from kgrag.corpus.documents import walk_files

    try:
        folder = recipe.confined(spec.path)
    except RecipePathRefused:
        return ""  # the build of this source fails with the reason
    found = walk_files(folder, recipe.allowed()) if folder.is_dir() else iter(())
    files = [p for p in found if isinstance(p, Path)]
    return digest([(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files])
