"""Fitting the ensemble ranker: grouped folds, the conditional logit, Platt calibration, its error.

Used by ``benchmarks/train_ensemble.py`` (the shipped weights) and
``benchmarks/diagnosis.py`` (the cross-validated figures); plain numpy and scipy.

Sources: McFadden, "Conditional logit analysis of qualitative choice behavior", 1973 (the
softmax over a case's candidates); Platt, "Probabilistic outputs for support vector
machines", 1999 (a logistic map of a score to a probability, fitted on held-out data);
Naeini et al., AAAI 2015 and Guo et al., ICML 2017 (expected calibration error over
equal-width bins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from kgrag.retrieval.model import FloatArray, IntArray
from kgrag.retrieval.rankers.ensemble import (
    FEATURES,
    VERSION,
    Calibration,
    EnsembleWeights,
    platt,
    softmax,
)

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class CaseRows:
    """One case's candidates for fitting.

    Attributes:
        features: raw features, shape ``(n_candidates, len(FEATURES))``.
        log_prior: the candidates' log pretest probability (nats).
        gold: which candidates are the case's diagnosis (may be none).
    """

    features: FloatArray
    log_prior: FloatArray
    gold: BoolArray


def grouped_folds(cohorts: Sequence[str], diseases: Sequence[Sequence[str]], k: int) -> IntArray:
    """A fold per case such that no cohort and no disease has cases in two folds.

    Cases are linked when they share a cohort or a disease; each connected group goes
    whole to the fold with the fewest cases so far (largest groups first, ties by name),
    so the split is deterministic.

    Args:
        cohorts: each case's cohort.
        diseases: each case's diagnosis ids.
        k: the number of folds (>= 2).

    Returns:
        The fold (``0..k-1``) of each case.

    Raises:
        ValueError: ``k`` < 2 or fewer groups than folds.
    """
    if k < 2:
        raise ValueError("at least 2 folds")
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for cohort, ds in zip(cohorts, diseases, strict=True):
        root = find(f"cohort:{cohort}")
        for d in ds:
            parent[find(f"disease:{d}")] = root
    groups: dict[str, list[int]] = {}
    for i, cohort in enumerate(cohorts):
        groups.setdefault(find(f"cohort:{cohort}"), []).append(i)
    if len(groups) < k:
        raise ValueError(f"{len(groups)} groups cannot fill {k} folds")
    folds = np.zeros(len(cohorts), np.int64)
    sizes = [0] * k
    for _, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        f = sizes.index(min(sizes))
        folds[members] = f
        sizes[f] += len(members)
    return folds


@dataclass(frozen=True)
class LogitModel:
    """A fitted conditional logit over standardised features."""

    mean: FloatArray
    scale: FloatArray
    coef: FloatArray

    def scores(self, rows: CaseRows) -> FloatArray:
        """``w . standardised(features) + log prior`` per candidate."""
        out: FloatArray = ((rows.features - self.mean) / self.scale) @ self.coef + rows.log_prior
        return out

    def probabilities(self, rows: CaseRows) -> FloatArray:
        """The softmax of :meth:`scores` over the case's candidates (uncalibrated)."""
        return softmax(self.scores(rows)) if len(rows.gold) else np.zeros(0)


def fit_logit(cases: Sequence[CaseRows], l2: float = 1.0) -> LogitModel:
    """Fit the conditional logit by maximum likelihood with an L2 penalty (L-BFGS).

    The likelihood of a case is the softmax mass of its gold candidates; cases whose
    diagnosis is not among their candidates carry no information and are left out.

    Args:
        cases: the training cases.
        l2: the penalty on the standardised weights.

    Returns:
        The model.

    Raises:
        ValueError: no case has its diagnosis among its candidates.
    """
    from scipy.optimize import minimize

    used = [c for c in cases if c.gold.any()]
    if not used:
        raise ValueError("no training case has its diagnosis among its candidates")
    X = np.vstack([c.features for c in used])
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    X = (X - mean) / scale
    offset = np.concatenate([c.log_prior for c in used])
    gold = np.concatenate([c.gold for c in used])
    sizes = np.array([len(c.gold) for c in used])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    case_of = np.repeat(np.arange(len(used)), sizes)

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        z = X @ w + offset
        zmax = np.maximum.reduceat(z, starts)
        e = np.exp(z - zmax[case_of])
        total = np.add.reduceat(e, starts)
        g_total = np.add.reduceat(np.where(gold, e, 0.0), starts)
        nll = float(np.sum(np.log(total) - np.log(g_total)))
        p_all = e / total[case_of]
        p_gold = np.where(gold, e / g_total[case_of], 0.0)
        grad = X.T @ (p_all - p_gold)
        return nll + 0.5 * l2 * float(w @ w), grad + l2 * w

    res = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B")
    return LogitModel(mean, scale, np.asarray(res.x))


def fit_platt(p: FloatArray, y: BoolArray) -> Calibration:
    """Platt scaling of the logit of ``p`` to the outcomes ``y`` (slope kept positive).

    Args:
        p: raw probabilities, in (0, 1).
        y: whether each was right.

    Returns:
        The calibration.
    """
    from scipy.optimize import minimize

    raw = np.clip(p, 1e-12, 1 - 1e-12)
    x = np.log(raw / (1 - raw))
    t = y.astype(np.float64)

    def loss(ab: FloatArray) -> tuple[float, FloatArray]:
        z = ab[0] * x + ab[1]
        q = 1.0 / (1.0 + np.exp(-z))
        nll = float(np.sum(np.logaddexp(0.0, z) - t * z))
        d = q - t
        return nll, np.array([float(d @ x), float(d.sum())])

    res = minimize(
        loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(1e-3, None), (None, None)]
    )
    return Calibration(a=float(res.x[0]), b=float(res.x[1]))


def reliability(p: FloatArray, y: BoolArray, bins: int = 10) -> list[tuple[float, float, int]]:
    """Per equal-width bin of ``p``: (mean predicted, observed frequency, count); empty bins left out."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        if m.any():
            out.append((float(p[m].mean()), float(y[m].mean()), int(m.sum())))
    return out


def expected_calibration_error(p: FloatArray, y: BoolArray, bins: int = 10) -> float:
    """The count-weighted mean gap between predicted and observed frequency over bins.

    Returns:
        A value in [0, 1]; 0 for no predictions.
    """
    if len(p) == 0:
        return 0.0
    return sum(n * abs(mp - fy) for mp, fy, n in reliability(p, y, bins)) / len(p)


def gold_rank(scores: FloatArray, gold: BoolArray) -> float:
    """The 1-based rank of the best gold candidate; inf when none.

    Other candidates that tie with it count as ranked above it.
    """
    if not gold.any():
        return float("inf")
    best = scores[gold].max()
    return float(1 + np.sum(scores > best) + np.sum((scores == best) & ~gold))


@dataclass(frozen=True)
class CrossValidation:
    """Held-out results of the ensemble, one entry per case.

    Attributes:
        ranks: the gold disease's rank (inf when it is not among the candidates).
        top_raw: the uncalibrated probabilities of each case's top ``k`` candidates.
        top_p: their calibrated probabilities.
        top_gold: whether each of those is the diagnosis.
    """

    ranks: list[float]
    top_raw: list[FloatArray]
    top_p: list[FloatArray]
    top_gold: list[BoolArray]


def cross_validate(
    train: Sequence[CaseRows],
    test: Sequence[CaseRows],
    folds: IntArray,
    l2: float = 1.0,
    k: int = 10,
) -> CrossValidation:
    """Held-out ranks and calibrated probabilities by grouped cross-validation.

    For each fold the logit is fitted on the other folds' ``train`` rows and applied to
    the fold's ``test`` rows (the same cases, possibly under another setting); the Platt
    calibration applied to a fold is fitted on the other folds' held-out probabilities,
    so neither step sees the fold it is measured on.

    Args:
        train: per case, the rows to fit on.
        test: per case, the rows to measure on.
        folds: each case's fold.
        l2: the logit's penalty.
        k: candidates per case in the calibration figures.

    Returns:
        Per case, the held-out rank and top-``k`` probabilities.
    """
    n = len(test)
    raw: list[FloatArray] = [np.zeros(0)] * n
    for f in np.unique(folds):
        model = fit_logit([train[i] for i in range(n) if folds[i] != f], l2)
        for i in np.flatnonzero(folds == f):
            raw[i] = model.probabilities(test[i])
    ranks = [gold_rank(raw[i], test[i].gold) for i in range(n)]
    tops = [np.argsort(-raw[i], kind="stable")[:k] for i in range(n)]
    top_p: list[FloatArray] = [np.zeros(0)] * n
    for f in np.unique(folds):
        others = [i for i in range(n) if folds[i] != f]
        cal = fit_platt(
            np.concatenate([raw[i][tops[i]] for i in others]),
            np.concatenate([test[i].gold[tops[i]] for i in others]),
        )
        for i in np.flatnonzero(folds == f):
            top_p[i] = platt(raw[i][tops[i]], cal)
    return CrossValidation(
        ranks, [raw[i][tops[i]] for i in range(n)], top_p, [test[i].gold[tops[i]] for i in range(n)]
    )


def fit_weights(
    cases: Sequence[CaseRows],
    held_out_p: FloatArray,
    held_out_y: BoolArray,
    candidates: int,
    trained: dict[str, object],
    l2: float = 1.0,
) -> EnsembleWeights:
    """The shipped weights: the logit fitted on every case, calibrated on held-out probabilities.

    Args:
        cases: all training cases.
        held_out_p: raw held-out probabilities of the top candidates (from the folds).
        held_out_y: whether each was the diagnosis.
        candidates: each ranker's top-N in the candidate set.
        trained: provenance to record (the command, the cases, figures).
        l2: the logit's penalty.

    Returns:
        The weights, ready to write as JSON.
    """
    model = fit_logit(cases, l2)
    return EnsembleWeights(
        format="kgrag-ensemble",
        version=VERSION,
        features=list(FEATURES),
        mean=[float(x) for x in model.mean],
        scale=[float(x) for x in model.scale],
        coef=[float(x) for x in model.coef],
        candidates=candidates,
        calibration=fit_platt(held_out_p, held_out_y),
        trained={"date": datetime.now(UTC).strftime("%Y-%m-%d"), "l2": l2, **trained},
    )
