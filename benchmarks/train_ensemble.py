"""Train the ensemble ranker's weights on the phenopacket development cases.

    python benchmarks/train_ensemble.py
        [--cases ../shared/data/phenopackets_dev/phenopackets_dev.jsonl.gz] [--folds 5]
        [--candidates 200] [--l2 1.0] [--limit N]
        [--out kgrag/retrieval/rankers/data/ensemble_v1.json]
        [--plot docs/img/ensemble_reliability.png]

Needs the default knowledge base (``kgrag build``). Every case's coded findings are
ranked under the ``rare`` setting (a genetics clinic: the population these cases come
from); the candidate features (:func:`kgrag.retrieval.rankers.ensemble.candidate_features`)
are fitted by a conditional logit (:mod:`kgrag.retrieval.rankers.ensemble_fit`). Grouped
cross-validation (no cohort and no disease in two folds) gives the held-out
probabilities that the Platt calibration is fitted on, and the held-out figures recorded
in the file; the shipped logit is then fitted on every case. Also draws the reliability
diagram of the held-out calibrated probabilities.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (a worktree sits one level deeper)
DEFAULT_CASES = next(
    (
        p
        for p in (d / "shared/data/phenopackets_dev/phenopackets_dev.jsonl.gz" for d in ROOT.parents)
        if p.is_file()
    ),
    ROOT.parent / "shared/data/phenopackets_dev/phenopackets_dev.jsonl.gz",
)
DEFAULT_OUT = ROOT / "kgrag/retrieval/rankers/data/ensemble_v1.json"
DEFAULT_PLOT = ROOT / "docs/img/ensemble_reliability.png"
TRAIN_SETTING = "rare"


def load_cases(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The phenopackets of a ``.jsonl(.gz)`` file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        cases = [json.loads(line) for line in fh if line.strip()]
    return cases[:limit] if limit else cases


def coded(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A phenopacket's features as kgrag's coded findings (HPO id, absent or not)."""
    return [
        {"id": f["type"]["id"], "absent": bool(f.get("excluded"))}
        for f in case.get("phenotypicFeatures") or []
    ]


def render_text(case: dict[str, Any]) -> str:
    """The case as sentences ("The patient has A and B. No C."), as diagnosis.py renders it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from diagnosis import render_text as render_features

    return str(render_features(case.get("phenotypicFeatures") or []))


def gold_ids(case: dict[str, Any]) -> list[str]:
    """The case's diagnosis codes (OMIM)."""
    return [d["term"]["id"] for d in case.get("diseases") or []]


class CaseFeatures:
    """Candidate features of dev cases over one Diagnoser (shared with ``diagnosis.py``).

    Args:
        dx: the Diagnoser over the default knowledge base.
        candidates: each ranker's top-N.
    """

    def __init__(self, dx: Any, candidates: int) -> None:
        from kgrag.retrieval.rankers.semantic import SemanticIndex

        self.dx, self.candidates = dx, candidates
        self.index = SemanticIndex(dx.model)

    def gold(self, case: dict[str, Any]) -> set[int]:
        """Model disease indices of the case's diagnosis."""
        model, table = self.dx.model, self.dx.table
        out = set()
        for g in gold_ids(case):
            c = table.resolve(g)
            if c is not None and c in model.disease_index:
                out.add(model.disease_index[c])
        return out

    def rows(self, case: dict[str, Any], setting: str, text: bool = False) -> Any:
        """The case's :class:`CaseRows` under ``setting`` (no candidates when no finding is usable)."""
        from kgrag.errors import NoUsableFindings
        from kgrag.retrieval.findings import read_findings
        from kgrag.retrieval.rankers import RankRequest
        from kgrag.retrieval.rankers.ensemble import candidate_features
        from kgrag.retrieval.rankers.ensemble_fit import CaseRows

        dx = self.dx
        try:
            f = read_findings(
                dx.model,
                render_text(case) if text else None,
                None if text else coded(case),
                resolve=dx.table.resolve,
                link=lambda t: dx.linker.link(t),
            )
        except NoUsableFindings:
            n = len(FEATURES_NAMES())
            return CaseRows(np.zeros((0, n)), np.zeros(0), np.zeros(0, bool))
        prior = dx.log_prior(setting)
        log_lr = dx.model.score(f.present, f.absent)
        c = candidate_features(
            dx.model,
            self.index,
            RankRequest(log_lr + prior, f.present, f.absent, (), prior),
            self.candidates,
        )
        gold = self.gold(case)
        return CaseRows(c.features, c.log_prior, np.isin(c.diseases, list(gold)))


def FEATURES_NAMES() -> tuple[str, ...]:
    from kgrag.retrieval.rankers.ensemble import FEATURES

    return FEATURES


def folds_for(cases: Sequence[dict[str, Any]], k: int) -> Any:
    """Grouped folds: no cohort and no disease in two folds."""
    from kgrag.retrieval.rankers.ensemble_fit import grouped_folds

    return grouped_folds([c.get("_cohort", c["id"]) for c in cases], [gold_ids(c) for c in cases], k)


def reliability_plot(
    p: np.ndarray, y: np.ndarray, path: Path, title: str, ece: float, bins: int = 10
) -> None:
    """Draw the reliability diagram of held-out probabilities to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kgrag.retrieval.rankers.ensemble_fit import reliability

    pts = reliability(p, y, bins)
    fig, (ax, hx) = plt.subplots(
        2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfectly calibrated")
    ax.plot([m for m, _, _ in pts], [f for _, f, _ in pts], "o-", label="ensemble, held out")
    ax.set_ylabel("observed frequency correct")
    ax.set_title(f"{title}\nECE {ece:.3f}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    hx.bar([m for m, _, _ in pts], [n for _, _, n in pts], width=0.05)
    hx.set_yscale("log")
    hx.set_xlabel("predicted probability (calibrated)")
    hx.set_ylabel("candidates")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_rows(
    fx: CaseFeatures,
    cases: Sequence[dict[str, Any]],
    setting: str,
    text: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[Any]:
    """Every case's rows under ``setting``."""
    out, t = [], time.perf_counter()
    for i, case in enumerate(cases):
        out.append(fx.rows(case, setting, text))
        if progress and (i + 1) % 500 == 0:
            elapsed = time.perf_counter() - t
            progress(f"{setting}{' text' if text else ''}: {i + 1}/{len(cases)}, {elapsed:.0f}s")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    args = ap.parse_args()

    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.rankers.ensemble_fit import (
        cross_validate,
        expected_calibration_error,
        fit_weights,
    )

    def say(msg: str) -> None:
        print(msg, file=sys.stderr)

    dx = Diagnoser()
    cases = load_cases(args.cases, args.limit)
    fx = CaseFeatures(dx, args.candidates)
    rows = build_rows(fx, cases, TRAIN_SETTING, progress=say)
    folds = folds_for(cases, args.folds)
    cv = cross_validate(rows, rows, folds, args.l2)
    r = np.asarray(cv.ranks)
    p, y = np.concatenate(cv.top_p), np.concatenate(cv.top_gold)
    ece = expected_calibration_error(p, y)
    held_out = {
        "setting": TRAIN_SETTING,
        "cases": len(cases),
        "top1": round(float((r <= 1).mean()), 4),
        "top10": round(float((r <= 10).mean()), 4),
        "mrr": round(float((1 / r).mean()), 4),
        "ece_top10": round(ece, 4),
    }
    say(f"held out: {held_out}")
    command = "python benchmarks/train_ensemble.py " + " ".join(
        f"--{k} {v}"
        for k, v in (("folds", args.folds), ("candidates", args.candidates), ("l2", args.l2))
    )
    weights = fit_weights(
        rows,
        np.concatenate(cv.top_raw),
        y,
        args.candidates,
        {
            "command": command,
            "cases_file": args.cases.name,
            "cases": len(cases),
            "folds": args.folds,
            "grouping": "connected cohorts and diseases (no cohort, no disease in two folds)",
            "knowledge_base": dx.model.fingerprint,
            "cross_validated": held_out,
        },
        args.l2,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(weights.model_dump_json(indent=1) + "\n", encoding="utf-8")
    reliability_plot(
        p,
        y,
        args.plot,
        f"ensemble, top-10 candidates, {TRAIN_SETTING}, {args.folds}-fold grouped CV",
        ece,
    )
    say(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
