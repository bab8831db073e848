"""Retrieval artifacts.

The diagnostic model and the passage index, made at build time from the graph and kept beside it
(``<kb>/retrieval/`` for the embedded store, the cache for Neo4j), stamped with the build's
fingerprint so a stale copy is refused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from kgrag.config import Settings, get_settings
from kgrag.errors import RetrievalError
from kgrag.graph.base import GraphStore
from kgrag.index.part_embeddings import load_known
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
    part_embeddings: Sequence[Path] = (),
) -> dict[str, int]:
    """Compile the diagnostic model and index the passages; record ``fingerprint``.

    Embeddings of chunks whose text is unchanged are taken from the previous index (when its
    manifest vouches for them), then from ``part_embeddings`` (the build's parts' embeddings
    files, :mod:`kgrag.index.part_embeddings`; those of this encoder are read, by chunk-text
    SHA-256); the rest are encoded. Ends by writing the manifest of every artifact
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
    settings = settings or get_settings()
    passage_encoder = encoder_by_name(encoder)
    known = load_known(part_embeddings, passage_encoder.name, passage_encoder.dim)
    passages = PassageIndex.build(
        store,
        passage_encoder,
        reuse=reuse,
        known=known,
        kind=settings.vector_index,
        ivfpq_threshold=settings.vector_ivfpq_threshold,
        nprobe=settings.vector_nprobe,
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
