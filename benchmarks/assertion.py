"""Assertion benchmark on the NegEx/ConText test-kit development split.

    python benchmarks/assertion.py [--data DIR] [--out FILE] [--errors N]

Each sentence has one target span (ConText's "targets" mode: kgrag asserts the span the
caller gives, see :func:`kgrag.assert_spans`). Reports negation precision / recall / F1
(absent vs. not absent) and five-way accuracy (present / absent / historical /
hypothetical / family; kgrag's ``possible`` counts as present, as the kit has no such
class), per-class counts, and the speed of the rules. Data: Chapman et al. NegEx/ConText
kit, Apache-2.0 (``../shared/data/assertion_dev`` beside the repository).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kgrag.linking.assertion import assign_assertions  # noqa: E402
from kgrag.types import Assertion  # noqa: E402

FIVE = ("present", "absent", "historical", "hypothetical", "family")


def load(data: Path) -> list[tuple[str, str, tuple[int, int], str]]:
    """``(id, text, span, gold)`` for every sentence of the split."""
    gold = {}
    for line in (data / "assertion_dev.gold.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            gold[row["id"]] = row["assertion"]
    out = []
    for line in (data / "assertion_dev.input.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            t = row["targets"][0]
            out.append((row["id"], row["text"], (t["start"], t["end"]), gold[row["id"]]))
    return out


def five_way(a: Assertion) -> str:
    """kgrag's six values on the kit's five (``possible`` is not a kit class)."""
    return "present" if a is Assertion.POSSIBLE else a.value


def evaluate(
    rows: list[tuple[str, str, tuple[int, int], str]],
) -> tuple[dict[str, object], list[dict[str, str]]]:
    """Negation P/R/F1, five-way accuracy and the confusion counts."""
    assign_assertions("No fever.", [(3, 8)])  # compile the rules outside the timing
    t0 = time.perf_counter()
    predicted = [five_way(assign_assertions(text, [span])[0]) for _, text, span, _ in rows]
    seconds = time.perf_counter() - t0
    tp = sum(p == "absent" and g == "absent" for p, (*_, g) in zip(predicted, rows, strict=True))
    fp = sum(p == "absent" and g != "absent" for p, (*_, g) in zip(predicted, rows, strict=True))
    fn = sum(p != "absent" and g == "absent" for p, (*_, g) in zip(predicted, rows, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = sum(p == g for p, (*_, g) in zip(predicted, rows, strict=True))
    confusion = Counter(f"{g}->{p}" for p, (*_, g) in zip(predicted, rows, strict=True) if p != g)
    errors = [
        {"id": rid, "gold": g, "predicted": p, "target": text[s:e], "text": text}
        for p, (rid, text, (s, e), g) in zip(predicted, rows, strict=True)
        if p != g
    ]
    result: dict[str, object] = {
        "sentences": len(rows),
        "gold": dict(Counter(g for *_, g in rows)),
        "negation": {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "tp": tp,
            "fp": fp,
            "fn": fn,
        },
        "five_way_accuracy": round(correct / len(rows), 4),
        "errors": dict(confusion.most_common()),
        "ms_per_sentence": round(1000 * seconds / len(rows), 3),
    }
    return result, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/assertion_dev")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/assertion.json")
    ap.add_argument("--errors", type=int, default=0, help="print the first N wrong sentences")
    args = ap.parse_args()
    result, errors = evaluate(load(args.data))
    for e in errors[: args.errors]:
        print(json.dumps(e), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"assertion_dev": result}, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
