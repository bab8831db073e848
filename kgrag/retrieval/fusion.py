"""Fusing ranked candidate lists: reciprocal-rank fusion and a weighted score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: float = 60.0
) -> dict[str, float]:
    """``sum_list weight / (k + rank)`` per item (rank 1 = best), best first."""
    out: dict[str, float] = {}
    for name, items in rankings.items():
        w = weights.get(name, 1.0)
        for rank, item in enumerate(items, start=1):
            out[item] = out.get(item, 0.0) + w / (k + rank)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def weighted_fusion(
    scores: Mapping[str, Mapping[str, float]], weights: Mapping[str, float]
) -> dict[str, float]:
    """Min-max normalise each list's scores to 0..1, then ``sum_list weight * score``.

    A list of equal scores counts 1.
    """
    out: dict[str, float] = {}
    for name, items in scores.items():
        if not items:
            continue
        lo, hi = min(items.values()), max(items.values())
        w = weights.get(name, 1.0)
        for item, s in items.items():
            norm = (s - lo) / (hi - lo) if hi > lo else 1.0  # one score (or all equal): full
            out[item] = out.get(item, 0.0) + w * norm
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
