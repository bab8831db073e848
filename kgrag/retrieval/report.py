"""A ranking (every candidate in order, what benchmarks need) and the report made from its top.

Candidates with as much evidence as the request asks for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import get_args

import numpy as np

from kgrag.errors import InvalidRequest
from kgrag.graph.base import GraphStore
from kgrag.retrieval.differences import follow_ups
from kgrag.retrieval.evidence import EvidenceBuilder
from kgrag.retrieval.model import DiagnosticModel, FloatArray
from kgrag.retrieval.types import (
    CategoryScore,
    DiagnosisCandidate,
    DiagnosisReport,
    EvidenceLevel,
    FollowUp,
    Method,
    Passage,
    QueryFindings,
)


class Laps:
    """Milliseconds per step of one request (``lap(name)`` ends a step)."""

    def __init__(self) -> None:
        self.started = self._last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Record the time since the previous lap as step ``name``."""
        now = time.perf_counter()
        self.ms[name] = (now - self._last) * 1000
        self._last = now


def check_request(top_k: int, evidence: str) -> None:
    """Raise :class:`InvalidRequest` for a ``top_k`` below 1 or an unknown evidence level."""
    if top_k < 1:
        raise InvalidRequest("top_k must be at least 1")
    if evidence not in get_args(EvidenceLevel):
        raise InvalidRequest(f"evidence must be one of none, summary, full (not {evidence!r})")


def posterior(log_lr: FloatArray) -> FloatArray:
    """The softmax of the graph scores: a probability per disease."""
    p = np.exp(log_lr - log_lr.max())
    out: FloatArray = p / p.sum()
    return out


@dataclass
class Ranking:
    """Every candidate of one request in rank order, without evidence.

    Attributes:
        method: the ranker's name.
        order: candidate ids, best first.
        scores: id -> the ranker's score.
        ranks: id -> {list name: rank} in each list the ranker used.
        log_lr: the graph model's score per disease (nats), shape ``(n_diseases,)``.
        posterior: softmax of ``log_lr``, shape ``(n_diseases,)``.
        present: present finding terms; absent: absent finding terms.
        query: the findings as read, with what was ignored and why.
        passages: vector-search hits (empty when none were searched).
        dropped: references left out of the scoring.
        warnings: notes for the report.
        laps: milliseconds per step so far.
        setting: the pretest-probability setting (:mod:`kgrag.retrieval.priors`).
        log_prior: the log prior per disease under ``setting`` (nats, shape
            ``(n_diseases,)``), added to ``log_lr`` before ranking; None for none.
        prior_classes: each disease's prior class (``common``, ``rare``, ...), or None.
    """

    method: Method
    order: list[str]
    scores: dict[str, float]
    ranks: dict[str, dict[str, int]]
    log_lr: FloatArray
    posterior: FloatArray
    present: list[int]
    absent: list[int]
    query: QueryFindings
    passages: list[Passage]
    dropped: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    laps: Laps = field(default_factory=Laps)
    setting: str = "uniform"
    log_prior: FloatArray | None = None
    prior_classes: Sequence[str] | None = None


def build_report(
    r: Ranking, top_k: int, level: EvidenceLevel, store: GraphStore, evidence: EvidenceBuilder
) -> DiagnosisReport:
    """The top ``top_k`` of a ranking as a report.

    Args:
        r: the ranking.
        top_k: candidates in the report.
        level: ``none``, ``summary`` or ``full`` (see :data:`~kgrag.retrieval.types.EvidenceLevel`).
        store: names and codes of the candidates are read from it.
        evidence: builds the candidates' evidence.

    Returns:
        The report, with ``timings_ms`` completed.
    """
    model = evidence.model
    top = r.order[:top_k]
    nodes = store.get_nodes(top)
    candidates = []
    for rank, d in enumerate(top, start=1):
        di = model.disease_index.get(d)
        node = nodes.get(d)
        candidates.append(
            DiagnosisCandidate(
                rank=rank,
                concept_id=d,
                name=node.name if node else (model.disease_names[di] if di is not None else d),
                codes=list(node.codes) if node else [],
                score=round(r.scores[d], 6),
                probability=round(float(r.posterior[di]), 6) if di is not None else 0.0,
                log_lr=round(float(r.log_lr[di]), 4) if di is not None else None,
                log_prior=(
                    round(float(r.log_prior[di]), 4)
                    if di is not None and r.log_prior is not None
                    else None
                ),
                prior_class=r.prior_classes[di] if di is not None and r.prior_classes else None,
                ranks=r.ranks.get(d, {}),
                category_path=evidence.category_path(d) if level != "none" else [],
                findings=(
                    evidence.findings(di, r.present, r.absent, r.dropped, cite=level == "full")
                    if level != "none" and di is not None
                    else []
                ),
                passages=[p for p in r.passages if d in p.concepts][:3] if level == "full" else [],
            )
        )
    categories: list[CategoryScore] = []
    follow: list[FollowUp] = []
    if level != "none":
        categories = evidence.roll_up(r.posterior)
        follow = _follow_ups(model, r, candidates)
    r.laps.lap("evidence")
    r.laps.ms["total"] = (time.perf_counter() - r.laps.started) * 1000
    return DiagnosisReport(
        method=r.method,
        setting=r.setting,
        query=r.query,
        candidates=candidates,
        categories=categories,
        follow_ups=follow,
        warnings=r.warnings,
        timings_ms={k: round(v, 2) for k, v in r.laps.ms.items()},
    )


def _follow_ups(
    model: DiagnosticModel, r: Ranking, candidates: list[DiagnosisCandidate]
) -> list[FollowUp]:
    """Questions that separate the top five candidates the model knows."""
    top = [
        model.disease_index[c.concept_id] for c in candidates[:5] if c.concept_id in model.disease_index
    ]
    weights = [float(r.posterior[i]) + 1e-9 for i in top]
    return follow_ups(model, top, weights, r.present, r.absent)
