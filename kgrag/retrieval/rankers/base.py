"""The ranker contract.

Every ranker sees the same request (the graph's likelihood ratios are always computed, since the
report's probabilities come from them) and returns its candidates best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from kgrag.retrieval.model import DiagnosticModel, FloatArray
from kgrag.retrieval.types import Passage

CANDIDATES = 500  # diseases a ranker keeps, best first


@dataclass(frozen=True)
class RankRequest:
    """What a ranker may use.

    Attributes:
        log_lr: the graph model's summed log likelihood ratio per disease, shape
            ``(len(model.diseases),)``, nats.
        present: the present finding terms (model term indices).
        absent: the absent finding terms.
        passages: vector-search hits, best first (empty unless the ranker needs passages
            or the report shows them).
        log_prior: the log pretest probability per disease already added to ``log_lr``
            (nats), None when unknown (a ranker then takes it as zero).
    """

    log_lr: FloatArray
    present: Sequence[int]
    absent: Sequence[int]
    passages: Sequence[Passage] = ()
    log_prior: FloatArray | None = None


@dataclass
class RankedList:
    """A ranker's answer.

    Attributes:
        order: disease (or group) ids, best first, at most a few hundred.
        scores: id -> the ranker's score (see ``DiagnosisCandidate.score``).
        ranks: id -> {list name: 1-based rank} in each list the ranker used.
    """

    order: list[str]
    scores: dict[str, float]
    ranks: dict[str, dict[str, int]] = field(default_factory=dict)


class Ranker(Protocol):
    """Ranks diseases for one request. Implementations take ``(model, settings)``."""

    needs_passages: ClassVar[bool]  # passages are searched for every request

    def rank(self, request: RankRequest) -> RankedList:
        """The candidates best first.

        Args:
            request: the findings, the graph scores and the passages.

        Returns:
            The ranked list.
        """
        ...


def top_by_score(
    model: DiagnosticModel, scores: FloatArray, name: str, ranks: dict[str, dict[str, int]]
) -> RankedList:
    """The ``CANDIDATES`` best diseases by a per-disease score array (stable ties).

    Their ranks are recorded under ``name`` in ``ranks``.
    """
    order = np.argsort(-scores, kind="stable")[:CANDIDATES]
    ids = [model.diseases[i] for i in order]
    for r, d in enumerate(ids, start=1):
        ranks.setdefault(d, {})[name] = r
    return RankedList(ids, {d: float(scores[i]) for d, i in zip(ids, order, strict=True)}, ranks)


def graph_ranks(model: DiagnosticModel, log_lr: FloatArray) -> RankedList:
    """The graph model's own ranking (every ranker reports it under ``graph``)."""
    return top_by_score(model, log_lr, "graph", {})
