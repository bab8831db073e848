"""Retrieval artifacts.

The diagnostic model and the passage index, made at build time from the graph and kept beside it
(``<kb>/retrieval/`` for the embedded store, the cache for Neo4j), stamped with the build's
fingerprint so a stale copy is refused.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from kgrag.config import Settings, get_settings
from kgrag.errors import RetrievalError
from kgrag.graph.base import GraphStore
from kgrag.progress import Progress

logger = logging.getLogger(__name__)

META_KEY = "retrieval"


def artifacts_dir(store: GraphStore, settings: Settings | None = None) -> Path:
    """Where a store's retrieval artifacts live: beside an embedded store, else in the cache."""
    if store.directory is not None:
        return store.directory / "retrieval"
    digest = hashlib.sha256(store.location.encode()).hexdigest()[:12]
    return (settings or get_settings()).cache_dir / "retrieval" / digest


def build_artifacts(
    store: GraphStore,
    *,
    fingerprint: str,
    encoder: str = "auto",
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Compile the diagnostic model and index the passages; record ``fingerprint``.

    Embeddings of chunks whose text is unchanged are taken from the previous index (when its
    manifest vouches for them). Ends by writing the manifest of every artifact
    (:mod:`kgrag.retrieval.manifest`), which opening the knowledge base checks.
    """
    from kgrag.errors import ArtifactDamaged
    from kgrag.retrieval.compile import compile_model
    from kgrag.retrieval.manifest import verify, write_manifest
    from kgrag.retrieval.model import FILE_NAME
    from kgrag.retrieval.passages import EMBEDDINGS_NAME, PassageIndex, encoder_by_name

    directory = artifacts_dir(store, settings)
    directory.mkdir(parents=True, exist_ok=True)
    store.set_meta(META_KEY, "building")
    reuse: Path | None = directory
    try:  # saved embeddings the manifest finds damaged are not reused (without a manifest, as
        # an older build left them, they are: the reuse checks their encoder and shape)
        verify(directory, names={EMBEDDINGS_NAME}, rehash=True)
    except RetrievalError as e:
        damaged = isinstance(e, ArtifactDamaged) and e.problem != "manifest"
        reuse = None if damaged else directory
    model = compile_model(store, fingerprint=fingerprint, progress=progress)
    model.save(directory / FILE_NAME)
    passages = PassageIndex.build(
        store,
        encoder_by_name(encoder),
        reuse=reuse,
        kind=(settings or get_settings()).vector_index,
        progress=progress,
    )
    passages.save(directory)
    write_manifest(directory, fingerprint)
    store.set_meta(META_KEY, fingerprint)
    return {
        "diseases": len(model.diseases),
        "finding_terms": len(model.terms),
        "annotations": len(model.annotations),
        "passages": len(passages),
    }
