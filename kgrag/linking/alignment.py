"""Self-alignment of a sentence encoder to the concept table (SapBERT's recipe, small).

SapBERT pulls together the names of one UMLS concept and pushes apart those of others.
This does the same for any sentence-transformers model (the offline MiniLM by default)
over kgrag's unified concepts: pairs of two names of one concept, plus, when a training
corpus is given, pairs of an annotated mention and a name of its gold concept. The loss is
the symmetric in-batch InfoNCE (every other pair in the batch is a negative; a concept
appears once per batch). The aligned model is saved as an ordinary sentence-transformers
directory, so :class:`~kgrag.index.encoders.SentenceTransformerEncoder` loads it by path
and :class:`~kgrag.linking.dense.DenseMatcher` uses it like SapBERT.

Training is cached: a directory that already holds a model aligned from the same base,
pairs and settings is reused.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import Field

from kgrag.errors import ConfigError
from kgrag.index.encoders import OFFLINE_MINILM, SentenceTransformerEncoder
from kgrag.linking.dictionary import DictionaryIndex
from kgrag.linking.training import single_concept
from kgrag.progress import Progress, report_count
from kgrag.types import BoundaryModel

logger = logging.getLogger(__name__)

Pair = tuple[str, str, int]  # (text, a name of its concept, concept index)
STAMP = "alignment.json"


class AlignmentSettings(BoundaryModel):
    """How long and how hard to align (defaults: ~10-15 minutes on 2 CPU cores)."""

    steps: int = Field(default=300, ge=1)
    batch_size: int = Field(default=128, ge=2)
    learning_rate: float = Field(default=2e-5, gt=0)
    scale: float = Field(default=20.0, gt=0, description="inverse temperature of the InfoNCE logits")
    mention_repeats: int = Field(default=3, ge=1, description="pairs per training mention")
    seed: int = 0


class AlignmentReport(BoundaryModel):
    """What an alignment run did (also written to ``alignment.json`` in the model folder)."""

    base: str
    path: str
    digest: str
    pairs: int
    steps: int
    first_loss: float
    last_loss: float
    seconds: float
    reused: bool = False


def alignment_pairs(
    dictionary: DictionaryIndex,
    training: Iterable[tuple[str, Sequence[str]]] = (),
    settings: AlignmentSettings | None = None,
) -> tuple[list[Pair], int]:
    """Training pairs, shuffled.

    Every training mention (``(text, gold ids)``, single-concept ones) ``mention_repeats`` times
    with a random name of its concept, then synonym pairs (two names of one concept, one pair per
    concept per pass) up to ``steps * batch_size``. Returns the pairs and how many are mention
    pairs.
    """
    s = settings or AlignmentSettings()
    rng = random.Random(s.seed)
    table = dictionary.table
    names: dict[int, list[str]] = {}

    def names_of(i: int) -> list[str]:
        if i not in names:
            distinct = {s.text.casefold(): s.text for s in table.synonyms(i)}
            names[i] = sorted(distinct.values())
        return names[i]

    mentions: list[Pair] = []
    for text, ids in training:
        index = single_concept(table, ids)
        if index is None or not dictionary.allowed[index]:
            continue
        for _ in range(s.mention_repeats):
            mentions.append((text, rng.choice(names_of(index)), index))
    synonymous = [i for i, ok in enumerate(dictionary.allowed) if ok and len(names_of(i)) >= 2]
    wanted = max(0, s.steps * s.batch_size - len(mentions))
    synonyms: list[Pair] = []
    while synonymous and len(synonyms) < wanted:
        rng.shuffle(synonymous)
        for i in synonymous[: wanted - len(synonyms)]:
            a, b = rng.sample(names_of(i), 2)
            synonyms.append((a, b, i))
    pairs = mentions + synonyms
    rng.shuffle(pairs)
    return pairs, len(mentions)


def _digest(base: str, pairs: Sequence[Pair], settings: AlignmentSettings) -> str:
    h = hashlib.sha256(f"{base}\0{settings.model_dump_json()}".encode())
    for a, b, i in pairs:
        h.update(f"{a}\0{b}\0{i}\n".encode())
    return h.hexdigest()[:20]


def _batches(pairs: Sequence[Pair], size: int, steps: int) -> Iterable[list[Pair]]:
    """``steps`` batches of up to ``size`` pairs, each concept at most once per batch."""
    position = 0
    for _ in range(steps):
        batch: list[Pair] = []
        seen: set[int] = set()
        tried = 0
        while len(batch) < size and tried < size * 2:
            pair = pairs[position % len(pairs)]
            position += 1
            tried += 1
            if pair[2] not in seen:
                seen.add(pair[2])
                batch.append(pair)
        yield batch


def align_encoder(
    pairs: Sequence[Pair],
    out_dir: str | Path,
    *,
    base: str = OFFLINE_MINILM,
    settings: AlignmentSettings | None = None,
    device: str = "auto",
    progress: Progress | None = None,
) -> AlignmentReport:
    """Fine-tune ``base`` on ``pairs`` (see :func:`alignment_pairs`) and save it in ``out_dir``.

    A folder already aligned the same way is reused.
    """
    s = settings or AlignmentSettings()
    if len({i for _, _, i in pairs}) < 2:
        raise ConfigError("alignment needs pairs of at least two concepts (in-batch negatives)")
    out = Path(out_dir)
    digest = _digest(base, pairs, s)
    stamp = out / STAMP
    if stamp.is_file():
        previous = AlignmentReport.model_validate_json(stamp.read_text(encoding="utf-8"))
        if previous.digest == digest:
            return previous.model_copy(update={"reused": True})
    import torch
    import torch.nn.functional as F

    encoder = SentenceTransformerEncoder(base, device=device)
    model = encoder.model
    torch.manual_seed(s.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.learning_rate)
    preprocess = getattr(model, "preprocess", None) or model.tokenize

    def embed(texts: list[str]) -> torch.Tensor:
        features = {
            k: v.to(model.device) if isinstance(v, torch.Tensor) else v
            for k, v in preprocess(texts).items()
        }
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    started = time.perf_counter()
    losses: list[float] = []
    model.train()
    for step, batch in enumerate(_batches(pairs, s.batch_size, s.steps), start=1):
        logits = embed([a for a, _, _ in batch]) @ embed([b for _, b, _ in batch]).T * s.scale
        labels = torch.arange(len(batch), device=logits.device)
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.item()))
        report_count(progress, "aligning the encoder", step, s.steps)
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    window = max(1, min(20, len(losses) // 5))
    report = AlignmentReport(
        base=base,
        path=str(out),
        digest=digest,
        pairs=len(pairs),
        steps=s.steps,
        first_loss=round(sum(losses[:window]) / window, 4),
        last_loss=round(sum(losses[-window:]) / window, 4),
        seconds=round(time.perf_counter() - started, 1),
    )
    stamp.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    logger.info(
        "aligned %s in %.0f s: loss %.3f -> %.3f",
        base,
        report.seconds,
        report.first_loss,
        report.last_loss,
    )
    return report
