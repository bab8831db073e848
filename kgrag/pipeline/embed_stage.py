"""The embed stage: the vectors of a finished part's chunks, written beside the part.

After the shard stage, every part's chunk texts are encoded with the recipe's encoder and
written to ``<part>/embeddings-<encoder digest>.parquet`` (:mod:`kgrag.index.part_embeddings`:
chunk node id, text SHA-256, float32 vector), atomically. The passage index build then takes
its vectors from these files by text hash instead of encoding again
(:func:`kgrag.retrieval.artifacts.build_artifacts`), so the encoder runs where the shards run:
in the build's process (``--engine local``) or in a Ray actor pool of its own with one GPU per
actor where there is one (``--engine ray``).

* An :class:`EmbedWorker` builds its encoder once (per process or Ray actor), and only when
  a part needs it: a part whose embeddings file exists is skipped (a resumed build).
* Vectors are reused by text hash, as the passage index does: a chunk whose text the previous
  build's saved passage embeddings hold (local engine; its manifest must vouch for them) or
  another part of the source already embedded (an edited file's shard: its unchanged
  documents) is copied, not encoded; a text repeated within the part is encoded once.
* The embeddings file is not part of :func:`~kgrag.pipeline.parts.is_part`: a part is complete
  with its three tables, and a missing embeddings file is made by the next build.
* ``encoder = "hashing"`` in the recipe skips the stage (the lexical hashing encoder costs
  less than reading and writing its vectors): that is the recipe option for a build without
  neural embedding (the 100k-document benchmark uses it).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kgrag.graph.schema import Label
from kgrag.index.base import Encoder, Vectors
from kgrag.index.encoders import OFFLINE_MINILM, HashingEncoder
from kgrag.index.part_embeddings import (
    PREFIX,
    SUFFIX,
    embeddings_path,
    read_embeddings,
    text_sha256,
    write_embeddings,
)
from kgrag.pipeline.context import BuildContext
from kgrag.pipeline.parts import is_part, read_part

logger = logging.getLogger(__name__)

BATCH = 256  # chunk texts per encoder call


def recorded_name(encoder: str) -> str:
    """The name an encoder records (``Encoder.name``) for the recipe's ``encoder``, without loading it.

    Matches :func:`kgrag.retrieval.passages.encoder_by_name` (``auto``: the offline MiniLM
    when sentence-transformers and the model package are installed, else the hashing encoder).
    """
    if encoder == "auto":
        installed = all(
            importlib.util.find_spec(m) is not None
            for m in ("sentence_transformers", OFFLINE_MINILM.replace("-", "_"))
        )
        return f"sentence-transformers:{OFFLINE_MINILM}" if installed else HashingEncoder().name
    if encoder == "hashing" or encoder.startswith("kgrag.HashingEncoder.v1-"):
        dim = int(encoder.rsplit("-", 1)[1]) if "-" in encoder else 256
        return HashingEncoder(dim).name
    return "sentence-transformers:" + encoder.removeprefix("sentence-transformers:")


def stage_encoder(encoder: str) -> str | None:
    """The recipe encoder the embed stage runs with, or None when it is skipped (hashing)."""
    return None if recorded_name(encoder).startswith("kgrag.HashingEncoder") else encoder


class EmbedWorker:
    """Writes the embeddings of parts' chunks, with one encoder for all of them.

    Args:
        encoder: the recipe's encoder (``auto``, a model name; see :func:`recorded_name`).
        parts_dir: the source's parts folder: vectors of texts its other parts hold are reused.
        batch: chunk texts per encoder call.
        device: the encoder's device (``auto``: CUDA when torch sees a GPU).
        saved: the previous build's saved passage embeddings (``passages.embeddings.npz``,
            vouched for by its manifest): vectors of texts it holds are reused too.
    """

    def __init__(
        self,
        encoder: str,
        parts_dir: str | Path,
        *,
        batch: int = BATCH,
        device: str = "auto",
        saved: Path | None = None,
    ) -> None:
        self.saved = saved
        self._saved: dict[bytes, Vectors] | None = None
        self.spec = encoder
        self.name = recorded_name(encoder)
        self.parts_dir = Path(parts_dir)
        self.batch = batch
        self.device = device
        self._encoder: Encoder | None = None
        self._known: dict[str, tuple[Path, int]] | None = None  # text hash -> (file, row)
        self.encoded = 0  # texts encoded by this worker
        self.reused = 0  # chunks whose vector came from another part or an earlier row

    def encoder(self) -> Encoder:
        """The encoder, built on first use (once per worker)."""
        if self._encoder is None:
            from kgrag.index.encoders import SentenceTransformerEncoder

            model = self.name.removeprefix("sentence-transformers:")
            self._encoder = SentenceTransformerEncoder(model, device=self.device)
            if self._encoder.name != self.name:  # recorded_name and the encoder disagree
                raise AssertionError(f"{self._encoder.name} != {self.name}")
        return self._encoder

    def _other_parts(self, part: Path) -> dict[str, tuple[Path, int]]:
        """Text hash -> (embeddings file, row) over the source's other parts (read once)."""
        if self._known is None:
            self._known = {}
            pattern = f"*/{PREFIX}*{SUFFIX}"
            for path in sorted(self.parts_dir.glob(pattern)) if self.parts_dir.is_dir() else []:
                if path.parent == part or path.name != embeddings_path(path.parent, self.name).name:
                    continue
                try:
                    _, shas, _ = read_embeddings(path, self.name, vectors=False)
                except Exception as e:  # another encoder's, or damaged: not reused
                    logger.debug("not reusing %s: %s", path, e)
                    continue
                for row, sha in enumerate(shas):
                    self._known.setdefault(sha, (path, row))
        return self._known

    def _saved_vectors(self) -> dict[bytes, Vectors]:
        """Text key -> vector of the previous build's saved embeddings (read once; empty if none)."""
        if self._saved is None:
            self._saved = {}
            if self.saved is not None and self.saved.is_file():
                from kgrag.retrieval.passages import KEY_BYTES

                try:
                    with np.load(self.saved) as data:
                        if str(data["encoder"]) == self.name:
                            keys = [bytes(k.tobytes()) for k in data["keys"]]
                            if keys and len(keys[0]) != KEY_BYTES:
                                raise ValueError(f"keys of {len(keys[0])} bytes")
                            self._saved = dict(zip(keys, data["vectors"], strict=True))
                except (OSError, KeyError, ValueError) as e:
                    logger.warning("not reusing %s: %s", self.saved, e)
        return self._saved

    def _reuse(
        self,
        wanted: dict[str, list[int]],
        texts: list[str],
        vectors: dict[str, Vectors],
        part: Path,
    ) -> None:
        previous = self._saved_vectors()
        if previous:
            from kgrag.retrieval.passages import text_key

            for sha, positions in wanted.items():
                vector = previous.get(text_key(self.name, texts[positions[0]]))
                if vector is not None:
                    vectors[sha] = vector
        known = self._other_parts(part)
        by_file: dict[Path, list[tuple[str, int]]] = {}
        for sha in wanted:
            if sha in known and sha not in vectors:
                path, row = known[sha]
                by_file.setdefault(path, []).append((sha, row))
        for path, rows in by_file.items():
            try:
                _, _, stored = read_embeddings(path, self.name)
            except Exception as e:  # removed or damaged since it was listed: encode instead
                logger.debug("not reusing %s: %s", path, e)
                continue
            for sha, row in rows:
                vectors[sha] = stored[row]

    def run(self, part: Path) -> tuple[Path, bool]:
        """Write ``part``'s embeddings unless they exist.

        Returns:
            The embeddings file, and whether it was written now (False: it existed).

        Raises:
            ValueError: ``part`` is not a finished part.
        """
        path = embeddings_path(part, self.name)
        if path.is_file():
            return path, False
        if not is_part(part):
            raise ValueError(f"{part} is not a finished part; run the shard stage first")
        chunks: list[str] = []
        texts: list[str] = []
        for row in read_part(part, "nodes"):
            if row["label"] == Label.CHUNK.value:
                chunks.append(str(row["id"]))
                texts.append(str(json.loads(row["props"] or "{}").get("text", "")))
        shas = [text_sha256(t) for t in texts]
        first: dict[str, list[int]] = {}
        for i, sha in enumerate(shas):
            first.setdefault(sha, []).append(i)
        vectors: dict[str, Vectors] = {}
        if first:
            self._reuse(first, texts, vectors, part)
        todo = [sha for sha in first if sha not in vectors]
        dim = 0
        for start in range(0, len(todo), self.batch):
            group = todo[start : start + self.batch]
            encoded = self.encoder().encode_documents([texts[first[s][0]] for s in group])
            vectors.update(zip(group, encoded, strict=True))
        self.encoded += len(todo)
        self.reused += len(chunks) - len(todo)
        if vectors:
            dim = len(next(iter(vectors.values())))
        elif self._encoder is not None:
            dim = self._encoder.dim
        matrix = np.zeros((len(chunks), dim), dtype=np.float32)
        for i, sha in enumerate(shas):
            matrix[i] = vectors[sha]
        return write_embeddings(path, chunks, shas, matrix, self.name), True


def embed_parts_locally(ctx: BuildContext, parts_dir: str | Path, parts: Sequence[Path]) -> int:
    """The embed stage in this process: every part of ``parts`` gets its embeddings file.

    Args:
        ctx: the build context (its recipe names the encoder).
        parts_dir: the source's parts folder.
        parts: the finished parts.

    Returns:
        How many embeddings files were written (0 when the stage is skipped: hashing encoder).
    """
    encoder = stage_encoder(ctx.recipe.encoder)
    if encoder is None or not parts:
        return 0
    worker = EmbedWorker(encoder, parts_dir, saved=saved_embeddings(ctx))
    made = 0
    for k, part in enumerate(parts, start=1):
        _, new = worker.run(part)
        made += new
        if new:
            ctx.say(f"embed: part {k:,}/{len(parts):,} ({worker.encoded:,} texts encoded so far)")
    ctx.say(
        f"embed: {made:,} parts embedded, {len(parts) - made:,} kept, {worker.reused:,} vectors reused"
    )
    return made


def saved_embeddings(ctx: BuildContext) -> Path | None:
    """The previous build's saved passage embeddings, when its manifest vouches for them."""
    from kgrag.errors import RetrievalError
    from kgrag.retrieval.artifacts import artifacts_dir
    from kgrag.retrieval.manifest import verify
    from kgrag.retrieval.passages import EMBEDDINGS_NAME

    directory = artifacts_dir(ctx.store, ctx.settings)
    try:
        verify(directory, names={EMBEDDINGS_NAME}, rehash=True)
    except RetrievalError:
        return None
    path = directory / EMBEDDINGS_NAME
    return path if path.is_file() else None


def embed_gpus(ctx: BuildContext) -> float:
    """GPUs per embed actor on Ray: the build option, else 1 when torch sees CUDA here, else 0."""
    if ctx.options.embed_gpus is not None:
        return ctx.options.embed_gpus
    try:
        import torch
    except ImportError:
        return 0.0
    return 1.0 if torch.cuda.is_available() else 0.0


class RayEmbedWorker:
    """One Ray actor of the embed stage: an :class:`EmbedWorker` over batches of part names."""

    def __init__(self, encoder: str, parts_dir: str) -> None:
        self.worker = EmbedWorker(encoder, parts_dir)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        """Embed the parts named in ``batch["part"]``; return their names."""
        names = []
        for raw in batch["part"]:
            part = self.worker.parts_dir / str(raw)
            self.worker.run(part)
            names.append(part.name)
        return {"part": names}


def with_ray_embed_stage(ds: Any, ctx: BuildContext, parts_dir: str) -> Any:
    """``ds`` (rows ``{"part": name}``) followed by the embed stage as an actor pool of its own.

    The actors take one GPU each where :func:`embed_gpus` says so (as many actors as the
    cluster has GPUs), else one CPU each (``options.workers`` actors). Without an embed
    stage (hashing encoder) ``ds`` is returned as it is.
    """
    encoder = stage_encoder(ctx.recipe.encoder)
    if encoder is None:
        return ds
    gpus = embed_gpus(ctx)
    if gpus > 0:
        import ray

        available = ray.cluster_resources()  # type: ignore[no-untyped-call]
        actors = max(1, int(available.get("GPU", 1) // gpus))
        resources: dict[str, float] = {"num_gpus": gpus}
    else:
        actors, resources = ctx.options.workers, {"num_cpus": 1}
    import ray.data

    return ds.map_batches(
        RayEmbedWorker,
        fn_constructor_kwargs={"encoder": encoder, "parts_dir": parts_dir},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=actors),
        **resources,
    )
