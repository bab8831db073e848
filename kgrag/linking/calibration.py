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
    "dense": [-10.0, 12.0, -0.3, 0.0],
}


@dataclass(frozen=True, slots=True)
class Calibration:
    """``p = sigmoid(b0 + b1*similarity + b2*rank + b3*log(n_alternatives))`` per method."""

    weights: dict[str, list[float]] = field(default_factory=lambda: dict(_DEFAULT))
    source: str = "default"

    def score(self, method: str, similarity: float, rank: int, n_alternatives: int) -> float:
        b = self.weights.get(method) or self.weights["exact"]
        z = b[0] + b[1] * similarity + b[2] * rank + b[3] * math.log(max(1, n_alternatives))
        return round(1.0 / (1.0 + math.exp(-z)), 4)


def load_calibration(path: Path | None = None) -> Calibration:
    path = path or _PATH
    if not path.is_file():
        return Calibration()
    data = json.loads(path.read_text(encoding="utf-8"))
    weights = dict(_DEFAULT)
    weights.update(data["weights"])
    return Calibration(weights=weights, source=str(data.get("fitted_on", path.name)))
