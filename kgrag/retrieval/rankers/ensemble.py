"""The ensemble ranker: the graph's likelihood ratios and the semantic similarity, combined and learned.

Differently biased rankers err on different cases (PhenoBrain, Mao et al., 2024, the
lesson this follows): the graph's likelihood ratios punish a finding the disease lacks
hard and count absent findings; the Phenomizer-style similarity
(:mod:`~kgrag.retrieval.rankers.semantic`) gives partial credit to near matches.

Per request:

1. candidates: the union of the graph's top ``candidates`` (with the pretest probability)
   and the semantic ranker's top ``candidates``;
2. per candidate, the features of :data:`FEATURES` (each ranker's score and log rank
   among the candidates, matched-finding fractions, what the disease expects that the
   patient lacks, the disease's annotation count);
3. a conditional-logit model (multinomial logistic regression over the candidates of a
   case): ``score = w . standardised(features) + log prior``, the pretest probability
   entering as a fixed offset, so one model serves every setting;
4. the softmax over the candidates, calibrated by Platt scaling of its logit
   (``sigmoid(a logit(p) + b)``), is the candidate's ``score``: the probability that it
   is the diagnosis, fitted on the development cases' held-out folds.

The personalized-PageRank ranker is not a member: its two walks cost several times the
graph's scoring, past the latency budget.

The weights are a small versioned JSON file (:data:`ENSEMBLE_FILE`) made by
``benchmarks/train_ensemble.py`` from the phenopacket development cases (see
``docs/rare-disease-ranking.md``); :func:`load_ensemble` checks its format and version.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from kgrag.config import Settings
from kgrag.errors import ConfigError
from kgrag.retrieval.model import DiagnosticModel, FloatArray, IntArray
from kgrag.retrieval.rankers.base import RankedList, RankRequest, graph_ranks
from kgrag.retrieval.rankers.semantic import SemanticIndex
from kgrag.types import BoundaryModel

ENSEMBLE_FILE = Path(__file__).resolve().parent / "data" / "ensemble_v1.json"
FORMAT = "kgrag-ensemble"
VERSION = 1
FEATURES: tuple[str, ...] = (
    "graph_llr",  # summed log likelihood ratio, no prior (nats)
    "graph_log_rank",  # log of the rank by graph_llr + log prior among the candidates
    "semantic",  # Phenomizer similarity, patient -> disease (nats)
    "semantic_log_rank",  # log of the semantic ranker's rank among the candidates
    "semantic_reverse",  # frequency-weighted disease -> patient similarity (nats)
    "exact_fraction",  # share of present findings the disease shows at that term or below
    "absent_expected",  # sum over absent findings of the disease's frequency of them
    "log_annotations",  # log(1 + the disease's direct annotations)
)


class Calibration(BoundaryModel):
    """Platt scaling of the softmax's logit: ``p = sigmoid(a * logit(raw) + b)``."""

    method: Literal["platt"] = "platt"
    a: float = Field(gt=0, description="slope (> 0, so the order is kept)")
    b: float


class EnsembleWeights(BoundaryModel):
    """The ensemble's weights file.

    Attributes:
        format: always ``kgrag-ensemble``.
        version: the file format version this kgrag reads (:data:`VERSION`).
        features: the feature names, in :data:`FEATURES` order.
        mean, scale: standardisation of each feature.
        coef: the conditional-logit weight of each standardised feature.
        candidates: each ranker's top-N that makes the candidate set.
        calibration: the probability calibration.
        trained: provenance (cases, command, date, cross-validated figures).
    """

    format: Literal["kgrag-ensemble"]
    version: int
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    candidates: int = Field(gt=0, le=5000)
    calibration: Calibration
    trained: dict[str, object] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> EnsembleWeights:
        if self.version != VERSION:
            raise ValueError(f"version {self.version}, this kgrag reads version {VERSION}")
        if tuple(self.features) != FEATURES:
            raise ValueError(f"features {self.features} are not this kgrag's {list(FEATURES)}")
        n = len(FEATURES)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError(f"mean, scale and coef must each have {n} values")
        values = [*self.mean, *self.scale, *self.coef]
        if not all(math.isfinite(v) for v in values) or min(self.scale) <= 0:
            raise ValueError("mean, scale and coef must be finite and scale positive")
        return self


def load_ensemble(path: Path = ENSEMBLE_FILE) -> EnsembleWeights:
    """Read and check an ensemble weights file.

    Args:
        path: the JSON file (default: the shipped one).

    Returns:
        The weights.

    Raises:
        ConfigError: the file is missing, not JSON, not an ensemble file, or of another version.
    """
    retrain = "retrain it with `python benchmarks/train_ensemble.py` or reinstall kgrag"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"no ensemble weights file at {path}; {retrain}") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"the ensemble weights file {path} is unreadable ({e}); {retrain}") from e
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(
            f"{path} is not a kgrag ensemble weights file (no format {FORMAT!r}); {retrain}"
        )
    try:
        return EnsembleWeights.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'file'}: {x['msg']}" for x in e.errors())
        raise ConfigError(f"the ensemble weights file {path} does not fit: {problems}; {retrain}") from e


@dataclass(frozen=True)
class Candidates:
    """One request's candidate diseases and their features.

    Attributes:
        diseases: model disease indices.
        features: shape ``(len(diseases), len(FEATURES))``, raw (not standardised).
        log_prior: each candidate's log pretest probability (nats).
        semantic_order: disease indices by semantic similarity, best first (the ranker's
            top ``n``).
    """

    diseases: IntArray
    features: FloatArray
    log_prior: FloatArray
    semantic_order: IntArray


def _top(scores: FloatArray, n: int) -> IntArray:
    """The ``n`` best indices by ``scores``, best first (ties by index)."""
    n = min(n, len(scores))
    part = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    out: IntArray = part[np.lexsort((part, -scores[part]))]
    return out


def _log_rank(scores: FloatArray) -> FloatArray:
    """Log of each item's 1-based rank by ``scores``, best first (ties share the best rank)."""
    ordered = np.sort(-scores)
    out: FloatArray = np.log1p(np.searchsorted(ordered, -scores, side="left").astype(np.float64))
    return out


def candidate_features(
    model: DiagnosticModel, index: SemanticIndex, request: RankRequest, n: int
) -> Candidates:
    """The candidate set of one request and its features (the same code trains and ranks).

    Args:
        model: the diagnostic model.
        index: the semantic index of the model.
        request: the findings and graph scores; ``request.log_lr`` includes the log prior,
            ``request.log_prior`` is that prior (zeros when None).
        n: each ranker's top-N in the candidate set.

    Returns:
        The candidates and their raw features.
    """
    n_d = len(model.diseases)
    prior = request.log_prior if request.log_prior is not None else np.zeros(n_d)
    scored = np.asarray(request.log_lr, np.float64)
    sim = index.similarity(request.present)
    semantic_order = _top(sim.score, n)
    cand = np.union1d(_top(scored, n), semantic_order)
    present, absent = model.distinct(request.present, request.absent)
    expected = np.zeros(len(cand))
    F = model.F
    col = np.empty(n_d)
    for e in absent:
        col.fill(0.0)
        col[F.indices[F.indptr[e] : F.indptr[e + 1]]] = F.data[F.indptr[e] : F.indptr[e + 1]]
        expected += col[cand]
    llr = scored[cand] - prior[cand]
    feats = np.column_stack(
        [
            llr,
            _log_rank(scored[cand]),
            sim.patient_to_disease[cand],
            _log_rank(sim.score[cand]),
            sim.disease_to_patient[cand],
            sim.exact[cand] / max(len(present), 1),
            expected,
            np.log1p(index.annotation_count[cand]),
        ]
    )
    return Candidates(cand, feats, prior[cand], semantic_order)


def softmax(z: FloatArray) -> FloatArray:
    """The softmax of ``z`` (numerically stable)."""
    e = np.exp(z - z.max())
    out: FloatArray = e / e.sum()
    return out


def platt(p: FloatArray, calibration: Calibration) -> FloatArray:
    """Calibrated probabilities from raw ones (:class:`Calibration`), each in [0, 1]."""
    raw = np.clip(p, 1e-12, 1 - 1e-12)
    z = np.clip(calibration.a * np.log(raw / (1 - raw)) + calibration.b, -700.0, 700.0)
    out: FloatArray = 1.0 / (1.0 + np.exp(-z))
    return out


class EnsembleRanker:
    """Ranks by the learned combination (module docstring).

    ``score`` is the calibrated probability that the candidate is the diagnosis. The graph's and
    the semantic ranker's own ranks are reported under ``graph`` and ``semantic``.

    Raises:
        ConfigError: the weights file is missing or damaged (on construction).
    """

    needs_passages: ClassVar[bool] = False

    def __init__(
        self, model: DiagnosticModel, settings: Settings, weights: EnsembleWeights | None = None
    ) -> None:
        self.model = model
        self.weights = weights or load_ensemble()
        self.index = SemanticIndex(model)
        w = self.weights
        self._mean = np.asarray(w.mean)
        self._coef = np.asarray(w.coef) / np.asarray(w.scale)

    def raw_probabilities(self, c: Candidates) -> FloatArray:
        """The uncalibrated softmax over the candidates."""
        return softmax((c.features - self._mean) @ self._coef + c.log_prior)

    def rank(self, request: RankRequest) -> RankedList:
        """See :class:`~kgrag.retrieval.rankers.base.Ranker`."""
        ranked = graph_ranks(self.model, request.log_lr)
        c = candidate_features(self.model, self.index, request, self.weights.candidates)
        p = platt(self.raw_probabilities(c), self.weights.calibration)
        order = np.lexsort((c.diseases, -p))
        ids = [self.model.diseases[i] for i in c.diseases[order]]
        for r, i in enumerate(c.semantic_order, start=1):
            ranked.ranks.setdefault(self.model.diseases[i], {})["semantic"] = r
        scores = {d: float(p[j]) for d, j in zip(ids, order, strict=True)}
        return RankedList(ids, scores, ranked.ranks)
