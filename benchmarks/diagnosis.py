"""Phenotype -> disease on published phenopackets, coded findings and rendered text.

    python benchmarks/diagnosis.py [--cases ../shared/data/phenopackets_dev/phenopackets_dev.jsonl.gz]
                                   [--limit N] [--out benchmarks/out/diagnosis.json]
                                   [--latency-cases 300] [--throughput-cases 500]

Needs the default knowledge base (``kgrag build``). For every case (HPO features present
and excluded, OMIM diagnosis) it ranks the diseases with each method and reports top-1,
top-3, top-10 recall and the median rank of the gold disease:

* ``graph``: likelihood ratios over the HPO-annotated graph; ``ppr``: personalized
  PageRank; ``fused``: graph + passage vector search (reciprocal-rank fusion);
  ``semantic``: the Phenomizer's Resnik similarity; ``ensemble``: graph + semantic
  combined by the shipped learned weights (trained on these same cases, so its figures
  here are in-sample: the held-out ones are in ``cross_validated``).
* ``graph, own-paper annotations dropped``: annotations whose only reference is the
  case's own paper (``PMID_<id>_...`` case ids) are left out, since HPO curated some
  annotations from the same papers as the cases.
* ``text``: the case rendered as sentences ("The patient has A, B and C. No D or E."),
  linked and assertion-tagged by kgrag, then ranked by the graph.

Cases are reported over all cases and over those whose gold disease has annotations in
the knowledge base (the shipped HPO annotations are the 2025-01-16 release; newer OMIM
entries have none). The two halves (even/odd case index) are reported apart: the scoring
constants were chosen on the even half.
``cross_validated`` (``--cv-folds``, 0 to skip): the ensemble refitted by grouped
cross-validation (no cohort and no disease in two folds; ``benchmarks/train_ensemble.py``
fits the shipped weights the same way), with top-1/3/10 and MRR of the graph, the
semantic ranker and the held-out ensemble on the same cases and candidates, under each
of ``--cv-settings`` on coded findings and under ``rare`` on the rendered text (the model
fitted on coded cases of the other folds), and the expected calibration error of the
held-out calibrated probabilities (top 1 and top 10 candidates). Ranks there count ties
against the gold disease.
Latency p50/p99 is measured warm in this process for the full ``diagnose`` call (top 10
with evidence), for the graph and the ensemble ranker.
``ranking_only``: coded cases per second through ``rank`` (no report) for the graph, the
semantic and the ensemble ranker, interleaved in blocks of 50 cases so that the load of
a shared machine falls on each alike.
Throughput: coded cases per second through ``diagnose`` (top 10, the
default method) at each evidence level (``none``, ``summary``, ``full``), one after the
other in this one process, over the same cases.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import statistics
import sys
import time
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


def load_cases(path: Path, limit: int | None) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        cases = [json.loads(line) for line in fh if line.strip()]
    return cases[:limit] if limit else cases


def render_text(features: list[dict[str, Any]]) -> str:
    def join(names: list[str], word: str) -> str:
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {word} " + names[-1]

    present = [f["type"]["label"].lower() for f in features if not f.get("excluded")]
    absent = [f["type"]["label"].lower() for f in features if f.get("excluded")]
    out = []
    if present:
        out.append(f"The patient has {join(present, 'and')}.")
    if absent:
        out.append(f"No {join(absent, 'or')}.")
    return " ".join(out)


def metrics(ranks: list[float]) -> dict[str, float]:
    r = np.asarray(ranks, float)
    if len(r) == 0:
        return {}
    return {
        "n": len(r),
        "top1": round(float((r <= 1).mean()) * 100, 1),
        "top3": round(float((r <= 3).mean()) * 100, 1),
        "top10": round(float((r <= 10).mean()) * 100, 1),
        "mrr": round(float((1.0 / r).mean()), 4),
        "median_rank": float(np.median(r)) if np.isfinite(np.median(r)) else None,  # type: ignore[dict-item]
    }


def gold_rank(order: list[str], gold: set[str]) -> float:
    for i, d in enumerate(order, start=1):
        if d in gold:
            return i
    return float("inf")


def coded(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A phenopacket's features as kgrag's coded findings (HPO id, absent or not)."""
    return [{"id": f["type"]["id"], "absent": bool(f.get("excluded"))} for f in features]


def throughput(dx: Any, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Coded cases per second through ``diagnose`` (top 10) at each evidence level, by
    the wall clock and by this process's CPU time (robust to a busy machine; torch may
    use both cores for ``full``'s passage query, so its CPU time can exceed the wall)."""
    from kgrag.errors import NoUsableFindings

    out: dict[str, Any] = {}
    for level in ("none", "summary", "full"):
        done = 0
        t, cpu = time.perf_counter(), time.process_time()
        for case in cases:
            try:
                dx.diagnose(
                    findings=coded(case.get("phenotypicFeatures") or []), top_k=10, evidence=level
                )
                done += 1
            except NoUsableFindings:
                continue
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        out[level] = {
            "cases": done,
            "seconds": round(seconds, 2),
            "cases_per_s": round(done / seconds, 1),
            "cpu_seconds": round(cpu, 2),
            "cases_per_cpu_s": round(done / cpu, 1) if cpu > 0 else None,
        }
    return out


def ranking_only(
    dx: Any, cases: list[dict[str, Any]], methods: tuple[str, ...], setting: str
) -> dict[str, Any]:
    """Coded cases per second through ``rank`` (no report) per method, interleaved in blocks."""
    from kgrag.errors import NoUsableFindings

    findings = [coded(c.get("phenotypicFeatures") or []) for c in cases]
    seconds = dict.fromkeys(methods, 0.0)
    cpu = dict.fromkeys(methods, 0.0)
    done = dict.fromkeys(methods, 0)
    for m in methods:  # warm: build each ranker's index before timing
        dx.rank(findings=findings[0], method=m, setting=setting)
    for start in range(0, len(findings), 50):
        for m in methods:
            t, c = time.perf_counter(), time.process_time()
            for f in findings[start : start + 50]:
                try:
                    dx.rank(findings=f, method=m, setting=setting)
                    done[m] += 1
                except NoUsableFindings:
                    continue
            seconds[m] += time.perf_counter() - t
            cpu[m] += time.process_time() - c
    return {
        m: {
            "cases": done[m],
            "seconds": round(seconds[m], 2),
            "cases_per_s": round(done[m] / seconds[m], 1),
            "cpu_seconds": round(cpu[m], 2),
            "cases_per_cpu_s": round(done[m] / cpu[m], 1) if cpu[m] > 0 else None,
        }
        for m in methods
        if seconds[m] > 0
    }


def cross_validated(
    dx: Any, cases: list[dict[str, Any]], k: int, settings: list[str], text: bool = True
) -> dict[str, Any]:
    """Graph, semantic and held-out ensemble figures on the same cases and candidates."""
    from train_ensemble import TRAIN_SETTING, CaseFeatures, build_rows, folds_for

    from kgrag.retrieval.rankers.ensemble import load_ensemble
    from kgrag.retrieval.rankers.ensemble_fit import cross_validate, expected_calibration_error
    from kgrag.retrieval.rankers.semantic import TIE_BREAK

    def say(msg: str) -> None:
        print(msg, file=sys.stderr)

    weights = load_ensemble()
    fx = CaseFeatures(dx, weights.candidates)
    folds = folds_for(cases, k)
    train = build_rows(fx, cases, TRAIN_SETTING, progress=say)
    runs = [(s, False) for s in settings] + ([(TRAIN_SETTING, True)] if text else [])
    out: dict[str, Any] = {
        "folds": k,
        "fold_cases": np.bincount(folds).tolist(),
        "candidates_per_ranker": weights.candidates,
        "l2": weights.trained.get("l2", 1.0),
    }
    for setting, text in runs:
        rows = (
            train
            if (setting == TRAIN_SETTING and not text)
            else build_rows(fx, cases, setting, text, say)
        )
        cv = cross_validate(train, rows, folds, float(weights.trained.get("l2", 1.0)))  # type: ignore[arg-type]

        def pessimistic(scores: np.ndarray, gold: np.ndarray) -> float:
            if not gold.any():
                return float("inf")
            best = scores[gold].max()
            return float(1 + np.sum(scores > best) + np.sum((scores == best) & ~gold))

        graph = [pessimistic(r.features[:, 0] + r.log_prior, r.gold) for r in rows]
        semantic = [pessimistic(r.features[:, 2] + TIE_BREAK * r.features[:, 4], r.gold) for r in rows]
        top1_p = np.array([p[0] for p in cv.top_p if len(p)])
        top1_y = np.array([y[0] for y in cv.top_gold if len(y)])
        p10, y10 = np.concatenate(cv.top_p), np.concatenate(cv.top_gold)
        key = f"{'text' if text else 'coded'}, {setting}"
        out[key] = {
            "gold_among_candidates": round(float(np.mean([r.gold.any() for r in rows])), 4),
            "graph": metrics(graph),
            "semantic": metrics(semantic),
            "ensemble": metrics(cv.ranks),
            "ensemble_covered": metrics(
                [r for r, row in zip(cv.ranks, rows, strict=True) if row.gold.any()]
            ),
            "ece_top1": round(expected_calibration_error(top1_p, top1_y), 4),
            "ece_top10": round(expected_calibration_error(p10, y10), 4),
            "mean_p_top1": round(float(top1_p.mean()), 4) if len(top1_p) else None,
            "top1_correct": round(float(top1_y.mean()), 4) if len(top1_y) else None,
        }
        say(f"{key}: {out[key]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/diagnosis.json")
    ap.add_argument("--latency-cases", type=int, default=300)
    ap.add_argument("--throughput-cases", type=int, default=500)
    ap.add_argument(
        "--setting",
        default="rare",
        choices=["general", "rare", "uniform"],
        help="pretest probability (rare-disease cases: a genetics clinic)",
    )
    ap.add_argument(
        "--variants", default="", help="variant names to run, separated by ; or , (default: all)"
    )
    ap.add_argument("--cv-folds", type=int, default=5, help="grouped folds of the ensemble (0: skip)")
    ap.add_argument("--cv-settings", default="rare,general", help="settings of the cross-validation")
    ap.add_argument("--ranking-cases", type=int, default=500, help="cases of the ranking-only timing")
    ap.add_argument(
        "--cv-text",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also cross-validate on the rendered text (linking every case: slow)",
    )
    args = ap.parse_args()

    from kgrag.errors import NoUsableFindings
    from kgrag.retrieval.diagnose import Diagnoser

    t0 = time.perf_counter()
    dx = Diagnoser()
    _ = dx.table
    load_s = time.perf_counter() - t0
    cases = load_cases(args.cases, args.limit)
    variants = {
        "graph": {"method": "graph"},
        "graph, own-paper annotations dropped": {"method": "graph", "drop": True},
        "ppr": {"method": "ppr"},
        "fused": {"method": "fused"},
        "semantic": {"method": "semantic"},
        "ensemble": {"method": "ensemble"},
        "text": {"method": "graph", "text": True},
        "text, fused": {"method": "fused", "text": True},
        "text, ensemble": {"method": "ensemble", "text": True},
    }
    if args.variants:
        keep = [v.strip() for v in re.split(r"[;,]", args.variants)]
        variants = {k: v for k, v in variants.items() if k in keep}
    ranks: dict[str, list[tuple[int, bool, float]]] = {v: [] for v in variants}
    covered_count = 0
    no_findings: dict[str, int] = {v: 0 for v in variants}
    started = time.perf_counter()
    for i, case in enumerate(cases):
        features = case.get("phenotypicFeatures") or []
        findings = coded(features)
        gold_ids = [d["term"]["id"] for d in case.get("diseases") or []]
        gold = {c for g in gold_ids if (c := dx.table.resolve(g)) is not None}
        covered = any(g in dx.model.disease_index for g in gold)
        covered_count += covered
        pmid = case["id"].split("_")[1] if case["id"].startswith("PMID_") else None
        text = render_text(features)
        for name, v in variants.items():
            try:
                r = dx.rank(
                    text if v.get("text") else None,
                    None if v.get("text") else findings,
                    method=v["method"],  # type: ignore[arg-type]
                    drop_references=[f"PMID:{pmid}"] if v.get("drop") and pmid else (),
                    setting=args.setting,
                )
                rank = gold_rank(r.order, gold)
            except NoUsableFindings:
                no_findings[name] += 1
                rank = float("inf")
            ranks[name].append((i, covered, rank))
        if (i + 1) % 250 == 0:
            print(f"{i + 1}/{len(cases)} cases, {time.perf_counter() - started:.0f}s", file=sys.stderr)

    results: dict[str, Any] = {}
    for name, rows in ranks.items():
        results[name] = {
            "all": metrics([r for _, _, r in rows]),
            "covered": metrics([r for _, c, r in rows if c]),
            "even_half_covered": metrics([r for i, c, r in rows if c and i % 2 == 0]),
            "odd_half_covered": metrics([r for i, c, r in rows if c and i % 2 == 1]),
            "no_usable_findings": no_findings[name],
        }

    latency: dict[str, Any] = {}
    sample = cases[: args.latency_cases]
    for method in dict.fromkeys((dx.settings.diagnose_method, "graph", "ensemble")):
        for label, use_text in (("coded", False), ("text", True)):
            times = []
            for case in sample:
                features = case.get("phenotypicFeatures") or []
                t = time.perf_counter()
                try:
                    if use_text:
                        dx.diagnose(
                            text=render_text(features), top_k=10, setting=args.setting, method=method
                        )
                    else:
                        dx.diagnose(
                            findings=coded(features), top_k=10, setting=args.setting, method=method
                        )
                except NoUsableFindings:
                    continue
                times.append((time.perf_counter() - t) * 1000)
            if not times:  # --latency-cases 0
                continue
            latency.setdefault(method, {})[label] = {
                "n": len(times),
                "p50_ms": round(statistics.median(times), 1),
                "p99_ms": round(float(np.percentile(times, 99)), 1),
            }
    out = {
        "cases": len(cases),
        "cases_source": str(args.cases.name),
        "setting": args.setting,
        "covered_cases": covered_count,
        "method_note": "fused = reciprocal-rank fusion of graph ranks and passage vector hits",
        "encoder": dx.passages.index.encoder.name if dx.passages.index else None,
        "variants": list(variants),
        "results": results,
        "cross_validated": (
            cross_validated(dx, cases, args.cv_folds, args.cv_settings.split(","), args.cv_text)
            if args.cv_folds
            else {}
        ),
        # the default method under its historical key (readme_tables.py), every method below
        "latency_fused_top10_with_evidence": latency.get(dx.settings.diagnose_method, {}),
        "latency_diagnose_top10_full_evidence_by_method": latency,
        "ranking_only_coded_cases_per_s": ranking_only(
            dx, cases[: args.ranking_cases], ("graph", "semantic", "ensemble"), args.setting
        ),
        "throughput_coded_cases_per_s": (
            throughput(dx, cases[: args.throughput_cases]) if args.throughput_cases else {}
        ),
        "startup_s": round(load_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
