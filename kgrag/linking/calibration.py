"""Calibrated candidate scores: the estimated probability that a candidate is right.

A logistic model per method over the raw similarity, the synonym rank and the number of
concepts sharing the matched key, fitted on the NCBI-disease and BC5CDR *training* splits
by ``benchmarks/linking.py --calibrate`` and stored in ``calibration.json`` beside this
file. A NIL threshold on these scores (``ConceptLinker(nil_threshold=0.5)``) means "drop
candidates that are more likely wrong than right".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

_PATH = Path(__file__).with_name("calibration.json")
# Used until a fitted file exists: hand-set, monotone, conservative.
_DEFAULT = {
    "exact": [-1.0, 4.5, -0.6, -0.5],
    "abbreviation": [-1.0, 4.0, -0.6, -0.5],
    "training": [-1.0, 4.8, -0.6, -0.5],
    "bag": [-1.5, 4.3, -0.6, -0.5],
    "swap": [-2.0, 4.0, -0.6, -0.5],
    "composite": [-2.5, 4.0, -0.6, -0.5],
    "backoff": [-3.0, 4.0, -0.6, -0.5],
    "fuzzy": [-9.0, 11.0, -0.3, 0.0],
    # a respelled word ("chron" -> "crohn"): similarity is the edit ratio of the two keys
    "spelling": [-5.0, 7.5, -0.6, -0.5],
    "dense": [-10.0, 12.0, -0.3, 0.0],
}


@dataclass(frozen=True, slots=True)
class Calibration:
    """``p = sigmoid(b0 + b1*similarity + b2*rank + b3*log(n_alternatives))`` per method.

    Weights depend on the vocabulary the linker ranks over (a profile): ambiguity means
    something else among all diseases and findings than among MeSH/OMIM concepts.
    """

    weights: dict[str, list[float]] = field(default_factory=lambda: dict(_DEFAULT))
    source: str = "default"

    def score(self, method: str, similarity: float, rank: int, n_alternatives: int) -> float:
        """The calibrated probability (0..1, 4 places) that a candidate is right.

        A logistic model over the match ``method``'s weights: similarity, rank and log of the number of
        alternatives.
        """
        b = self.weights.get(method) or self.weights["exact"]
        z = b[0] + b[1] * similarity + b[2] * rank + b[3] * math.log(max(1, n_alternatives))
        return round(1.0 / (1.0 + math.exp(-z)), 4)


def profile_name(prefixes: object) -> str:
    """``None`` -> ``"default"``; ``("MESH", "OMIM")`` -> ``"MESH+OMIM"``."""
    return "+".join(sorted(prefixes)) if prefixes else "default"  # type: ignore[call-overload]


def fit_logistic(
    features: list[list[float]], labels: list[int], l2: float = 1.0, steps: int = 200
) -> list[float]:
    """Logistic regression by Newton's method (with an intercept and an L2 penalty)."""
    import numpy as np

    x = np.hstack([np.ones((len(features), 1)), np.asarray(features, dtype=np.float64)])
    y = np.asarray(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + penalty @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return [round(float(v), 4) for v in w]


def save_calibration(
    profiles: dict[str, dict[str, list[float]]], fitted_on: str, path: Path | None = None
) -> Path:
    """Write calibration ``profiles`` and what they were fitted on as JSON (default: shipped file)."""
    path = path or _PATH
    payload = {"fitted_on": fitted_on, "profiles": profiles}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def load_calibration(profile: str = "default", path: Path | None = None) -> Calibration:
    """The fitted weights of ``profile`` (falling back to hand-set ones per method)."""
    path = path or _PATH
    weights = dict(_DEFAULT)
    if not path.is_file():
        return Calibration(weights=weights)
    data = json.loads(path.read_text(encoding="utf-8"))
    fitted = data.get("profiles", {}).get(profile) or data.get("profiles", {}).get("default", {})
    weights.update(fitted)
    return Calibration(weights=weights, source=f"{data.get('fitted_on', path.name)} [{profile}]")
