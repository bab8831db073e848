"""Dense candidates.

Every dictionary key embedded once by an :class:`Encoder` into a vector index; a mention's nearest
keys name its candidate concepts (SapBERT-style when the encoder is SapBERT; the offline MiniLM in
tests and CI). Embeddings are cached on disk by encoder name and key set.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kgrag.index.base import Encoder, VectorIndex, Vectors
from kgrag.index.vectors import ExactIndex
from kgrag.linking.dictionary import DictionaryIndex, Entry

logger = logging.getLogger(__name__)


class DenseMatcher:
    """A :class:`~kgrag.linking.base.CandidateSource`: embedding similarity to the dictionary's names."""

    name = "kgrag.DenseMatcher.v1"

    def __init__(
        self,
        dictionary: DictionaryIndex,
        encoder: Encoder,
        *,
        index_factory: Callable[[int, str], VectorIndex] | None = None,
        cache_dir: Path | None = None,
        max_rank: int = 1,
        batch: int = 4096,
    ) -> None:
        self.dictionary = dictionary
        self.encoder = encoder
        self.keys = [
            k for k, entries in dictionary.entries.items() if any(e.rank <= max_rank for e in entries)
        ]
        texts = [dictionary.entries[k][0].text for k in self.keys]
        vectors = self._cached(texts, cache_dir, batch)
        factory = index_factory or (lambda dim, name: ExactIndex(dim, name))
        self.index = factory(encoder.dim, encoder.name)
        self.index.add(vectors)

    def _cached(self, texts: list[str], cache_dir: Path | None, batch: int) -> Vectors:
        digest = hashlib.sha256(self.encoder.name.encode())
        for t in texts:
            digest.update(t.encode())
            digest.update(b"\0")
        path = cache_dir / f"dense-{digest.hexdigest()[:20]}.npy" if cache_dir else None
        if path is not None and path.is_file():
            return np.asarray(np.load(path), dtype=np.float32)
        started = time.perf_counter()
        parts = []
        for i in range(0, len(texts), batch):
            parts.append(self.encoder.encode_documents(texts[i : i + batch]))
            logger.info(
                "dense: embedded %d/%d names (%.0f/s)",
                min(i + batch, len(texts)),
                len(texts),
                (i + batch) / max(1e-9, time.perf_counter() - started),
            )
        vectors = np.vstack(parts) if parts else np.zeros((0, self.encoder.dim), np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        return vectors

    def candidates(self, text: str, k: int = 10) -> list[tuple[Entry, float, str]]:
        """Up to ``k`` dictionary entries nearest ``text`` by cosine: ``(entry, score, method)``."""
        if not text.strip() or len(self.index) == 0:
            return []
        scores, ids = self.index.search(self.encoder.encode_queries([text]), k * 2)
        out: list[tuple[Entry, float, str]] = []
        seen: set[int] = set()
        for score, i in zip(scores[0], ids[0], strict=True):
            if i < 0:
                continue
            key = self.keys[int(i)]
            for entry in self.dictionary.entries[key]:
                if entry.concept not in seen:
                    seen.add(entry.concept)
                    out.append((entry, float(max(0.0, score)), key))
        return out[:k]
