"""Clinical presentations -> diagnosis: top-1/3/10 on the OSCE-style dev cases, per
pretest-probability setting, and three everyday presentations (cough, chest pain, polyuria).

    python benchmarks/clinical.py [--cases ../shared/data/clinical_dev] [--limit N]
                                  [--settings general,uniform] [--out benchmarks/out/clinical.json]

Needs the default knowledge base (``kgrag build``). Each case's text is linked and
ranked by the graph (no LLM). Gold is any code of the unified concept of the final
diagnosis (``clinical_dev.gold.jsonl``); a candidate is right when its unified id or any
of its codes is a gold code. Every miss is given one cause: the gold disease has no
finding in the knowledge base (``no facts``), no present finding was linked, or other
diseases outrank it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASES = ROOT.parent / "shared/data/clinical_dev"

# the everyday presentations: (text, the diagnoses a clinician expects near the top, by name)
EXAMPLES: list[tuple[str, list[str]]] = [
    (
        "Fever and a productive cough for 3 days, shortness of breath. No chest pain.",
        ["pneumonia", "acute bronchitis", "bronchitis", "influenza"],
    ),
    (
        "55 year old man with crushing chest pain radiating to the left arm, sweating and nausea.",
        [
            "myocardial infarction",
            "acute myocardial infarction",
            "acute coronary syndrome",
            "unstable angina",
            "intermediate coronary syndrome",
            "possible nstemi / stemi",
        ],
    ),
    (
        "Polyuria, polydipsia, weight loss and fatigue.",
        ["diabetes mellitus", "type 1 diabetes mellitus", "type 2 diabetes mellitus"],
    ),
]


def load_cases(directory: Path, limit: int | None) -> list[dict[str, Any]]:
    def read(name: str) -> dict[str, dict[str, Any]]:
        with (directory / name).open(encoding="utf-8") as fh:
            return {r["id"]: r for r in map(json.loads, filter(str.strip, fh))}

    inputs, gold = read("clinical_dev.input.jsonl"), read("clinical_dev.gold.jsonl")
    cases = [{**inputs[i], **gold[i]} for i in inputs if i in gold]
    return cases[:limit] if limit else cases


def metrics(ranks: list[float]) -> dict[str, Any]:
    r = np.asarray(ranks, float)
    if len(r) == 0:
        return {"n": 0}
    med = float(np.median(r))
    return {
        "n": len(r),
        "top1": round(float((r <= 1).mean()), 3),
        "top3": round(float((r <= 3).mean()), 3),
        "top10": round(float((r <= 10).mean()), 3),
        "median_rank": med if np.isfinite(med) else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--settings", default="general,uniform")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/clinical.json")
    args = ap.parse_args()

    from kgrag.errors import NoUsableFindings
    from kgrag.retrieval.diagnose import Diagnoser

    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    t0 = time.perf_counter()
    dx = Diagnoser()
    model = dx.model
    _ = dx.priors
    codes_of: dict[str, set[str]] = {}
    nodes = dx.store.get_nodes(model.diseases)
    for d in model.diseases:
        node = nodes.get(d)
        codes_of[d] = {d, *(node.codes if node else ())}
    load_s = time.perf_counter() - t0

    def rank_of(order: list[str], gold: set[str]) -> float:
        for i, d in enumerate(order, start=1):
            if codes_of.get(d, {d}) & gold:
                return i
        return float("inf")

    cases = load_cases(args.cases, args.limit)
    started = time.perf_counter()
    per_case: list[dict[str, Any]] = []
    for i, case in enumerate(cases):
        gold = set(case["gold"])
        in_model = any(codes & gold for codes in codes_of.values())
        row: dict[str, Any] = {"id": case["id"], "gold_name": case["gold_name"], "has_facts": in_model}
        for s in settings:
            try:
                r = dx.rank(case["text"], None, method="graph", setting=s)  # type: ignore[arg-type]
                row[s] = rank_of(r.order, gold)
                row[f"{s}_top3"] = [model.disease_names[model.disease_index[d]] for d in r.order[:3]]
            except NoUsableFindings:
                row[s] = float("inf")
                row["no_findings"] = True
        per_case.append(row)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(cases)} cases, {time.perf_counter() - started:.0f}s", file=sys.stderr)

    results: dict[str, Any] = {}
    for s in settings:
        misses = [r for r in per_case if r[s] > 10]
        results[s] = {
            "all": metrics([r[s] for r in per_case]),
            "with_facts": metrics([r[s] for r in per_case if r["has_facts"]]),
            "misses_top10": {
                "no facts": sum(1 for r in misses if not r["has_facts"]),
                "no present finding linked": sum(
                    1 for r in misses if r["has_facts"] and r.get("no_findings")
                ),
                "outranked": sum(1 for r in misses if r["has_facts"] and not r.get("no_findings")),
            },
        }

    examples = []
    for text, expected in EXAMPLES:
        wanted = {e.lower() for e in expected}
        row = {"text": text, "expected": expected}
        for s in ["uniform", "general", "rare"]:
            r = dx.rank(text, None, method="graph", setting=s)  # type: ignore[arg-type]
            names = [model.disease_names[model.disease_index[d]] for d in r.order]
            hit = next((k for k, n in enumerate(names, start=1) if n.lower() in wanted), None)
            row[s] = {"rank_of_expected": hit, "top3": names[:3]}
        examples.append(row)

    out = {
        "cases": len(cases),
        "cases_source": "clinical_dev (AgentClinic MedQA OSCE cases)",
        "cases_with_facts": sum(1 for r in per_case if r["has_facts"]),
        "results": results,
        "examples": examples,
        "startup_s": round(load_s, 2),
        "seconds": round(time.perf_counter() - started, 1),
        "per_case": [
            {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in per_case
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "per_case"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
