"""Phenotype -> disease on published phenopackets, coded findings and rendered text.

    python benchmarks/diagnosis.py [--cases ../shared/data/phenopackets_dev/phenopackets_dev.jsonl.gz]
                                   [--limit N] [--out benchmarks/out/diagnosis.json]
                                   [--latency-cases 300] [--throughput-cases 500]

Needs the default knowledge base (``kgrag build``). For every case (HPO features present
and excluded, OMIM diagnosis) it ranks the diseases with each method and reports top-1,
top-3, top-10 recall and the median rank of the gold disease:

* ``graph``: likelihood ratios over the HPO-annotated graph; ``ppr``: personalized
  PageRank; ``fused``: graph + passage vector search (reciprocal-rank fusion).
* ``graph, own-paper annotations dropped``: annotations whose only reference is the
  case's own paper (``PMID_<id>_...`` case ids) are left out, since HPO curated some
  annotations from the same papers as the cases.
* ``text``: the case rendered as sentences ("The patient has A, B and C. No D or E."),
  linked and assertion-tagged by kgrag, then ranked by the graph.

Cases are reported over all cases and over those whose gold disease has annotations in
the knowledge base (the shipped HPO annotations are the 2025-01-16 release; newer OMIM
entries have none). The two halves (even/odd case index) are reported apart: the scoring
constants were chosen on the even half.
Latency p50/p99 is measured warm in this process for the full ``diagnose`` call (top 10
with evidence). Throughput: coded cases per second through ``diagnose`` (top 10, the
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
DEFAULT_CASES = ROOT.parent / "shared/data/phenopackets_dev/phenopackets_dev.jsonl.gz"


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
        "--setting", default="rare", choices=["general", "rare", "uniform"],
        help="pretest probability (rare-disease cases: a genetics clinic)",
    )
    ap.add_argument(
        "--variants", default="", help="variant names to run, separated by ; or , (default: all)"
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
        "text": {"method": "graph", "text": True},
        "text, fused": {"method": "fused", "text": True},
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
    for label, use_text in (("coded", False), ("text", True)):
        times = []
        for case in sample:
            features = case.get("phenotypicFeatures") or []
            t = time.perf_counter()
            try:
                if use_text:
                    dx.diagnose(text=render_text(features), top_k=10, setting=args.setting)
                else:
                    dx.diagnose(findings=coded(features), top_k=10, setting=args.setting)
            except NoUsableFindings:
                continue
            times.append((time.perf_counter() - t) * 1000)
        if not times:  # --latency-cases 0
            continue
        latency[label] = {
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
        "latency_fused_top10_with_evidence": latency,
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
