"""Assertion benchmark on the NegEx/ConText test-kit development split, beside medspaCy ConText.

    python benchmarks/assertion.py [--data DIR] [--out FILE] [--errors N]
                                   [--medspacy-python PYTHON]

Each sentence has one target span (ConText's "targets" mode: kgrag asserts the span the
caller gives, see :func:`kgrag.assert_spans`). Reports negation precision / recall / F1
(absent vs. not absent) and five-way accuracy (present / absent / historical /
hypothetical / family; kgrag's ``possible`` counts as present, as the kit has no such
class), per-class counts, and the speed of the rules. Data: Chapman et al. NegEx/ConText
kit, Apache-2.0 (``../shared/data/assertion_dev`` beside the repository).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _families_module() -> ModuleType:
    """tests/_assertion_families.py, loaded by path (a ``tests`` package elsewhere may shadow it)."""
    spec = importlib.util.spec_from_file_location(
        "_assertion_families", REPO / "tests/_assertion_families.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_assertion_families"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_F = _families_module()
FAMILIES, family_cases, heldout_cases, span_of = (
    _F.FAMILIES,
    _F.family_cases,
    _F.heldout_cases,
    _F.span_of,
)
heldout2_cases = _F.heldout2_cases

Row = tuple[str, str, tuple[int, int], str]

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


def five_way(a: object) -> str:
    """kgrag's six values on the kit's five (``possible`` is not a kit class)."""
    value = str(getattr(a, "value", a))
    return "present" if value == "possible" else value


def kgrag_predict(items: Sequence[tuple[str, tuple[int, int]]]) -> tuple[list[str], float]:
    """kgrag's five-way reading of each ``(text, span)`` and the seconds it took."""
    # imported here: the medspaCy worker runs this file in an environment without kgrag's needs
    from kgrag.linking.assertion import assign_assertions

    assign_assertions("No fever.", [(3, 8)])  # compile the rules outside the timing
    t0 = time.perf_counter()
    predicted = [five_way(assign_assertions(text, [span])[0]) for text, span in items]
    return predicted, time.perf_counter() - t0


def medspacy_predict(items: Sequence[tuple[str, tuple[int, int]]]) -> tuple[list[str], float]:
    """medspaCy ConText's five-way reading of each ``(text, span)`` (targets mode, default rules).

    The span is set as the document's one entity, then the pipeline (PyRuSH sentences, ConText)
    runs; family > absent > hypothetical > historical, the kit's order.

    Raises:
        ImportError: medspaCy is not installed in this interpreter.
    """
    import medspacy  # type: ignore[import-not-found]  # optional, benchmark only
    from loguru import logger  # medspaCy's PyRuSH logs every token at DEBUG

    logger.remove()
    nlp = medspacy.load(medspacy_enable=["medspacy_pyrush", "medspacy_context"])
    out = []
    t0 = time.perf_counter()
    for text, (start, end) in items:
        doc = nlp.make_doc(text)
        span = doc.char_span(start, end, label="PROBLEM", alignment_mode="expand")
        doc.ents = [span] if span is not None else []
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        if not doc.ents:
            out.append("present")
            continue
        e = doc.ents[0]._
        out.append(
            "family"
            if e.is_family
            else "absent"
            if e.is_negated
            else "hypothetical"
            if e.is_hypothetical
            else "historical"
            if e.is_historical
            else "present"
        )
    return out, time.perf_counter() - t0


def medspacy_elsewhere(
    items: Sequence[tuple[str, tuple[int, int]]], python: str | None
) -> tuple[list[str], float] | None:
    """medspaCy's readings here, or through ``python`` running this file as a worker; else None."""
    try:
        return medspacy_predict(items)
    except ImportError:
        if not python:
            return None
    payload = json.dumps([[t, list(s)] for t, s in items])
    done = subprocess.run(
        [python, str(Path(__file__).resolve()), "--medspacy-worker"],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    reply = json.loads(done.stdout)
    return reply["predicted"], reply["seconds"]


def carries_cue(text: str, span: tuple[int, int]) -> bool:
    """Whether the sentence has any word outside its target (a bare "Hypertension." has none)."""
    rest = text[: span[0]] + " " + text[span[1] :]
    rest = re.sub(r"\*\*[A-Z]+\[[^\]]*\]", " ", rest)  # de-identification tokens
    return re.search(r"[A-Za-z]{2,}", rest) is not None


def evaluate(rows: Sequence[Row], predicted: Sequence[str], seconds: float) -> dict[str, object]:
    """Negation P/R/F1, five-way accuracy, recall by cue, and the confusion counts."""
    pairs = list(zip(predicted, rows, strict=True))
    tp = sum(p == "absent" and g == "absent" for p, (*_, g) in pairs)
    fp = sum(p == "absent" and g != "absent" for p, (*_, g) in pairs)
    fn = sum(p != "absent" and g == "absent" for p, (*_, g) in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = sum(p == g for p, (*_, g) in pairs)
    confusion = Counter(f"{g}->{p}" for p, (*_, g) in pairs if p != g)
    by_cue: dict[str, dict[str, object]] = {}
    for label in ("historical", "hypothetical"):
        for cue in (True, False):
            hits = [
                p == g
                for p, (_, text, span, g) in pairs
                if g == label and carries_cue(text, span) is cue
            ]
            key = f"{label}_{'with_cue' if cue else 'no_cue'}"
            by_cue[key] = {
                "sentences": len(hits),
                "recall": round(sum(hits) / len(hits), 4) if hits else None,
            }
    return {
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
        "recall_by_cue": by_cue,
        "errors": dict(confusion.most_common()),
        "ms_per_sentence": round(1000 * seconds / len(rows), 3),
    }


def family_scores(predict: object) -> dict[str, dict[str, float | int]]:
    """Accuracy per generated family (tests/_assertion_families.py) and per held-out family."""
    groups: dict[str, list[tuple[str, tuple[int, int], str]]] = {}
    for name in FAMILIES:
        groups[name] = [(c.text, span_of(c), c.expected) for c in family_cases(name)]
    for c in heldout_cases():
        groups.setdefault(f"heldout_{c.family}", []).append((c.text, span_of(c), c.expected))
    for c in heldout2_cases():
        groups.setdefault(f"heldout2_{c.family}", []).append((c.text, span_of(c), c.expected))
    flat = [(t, s) for cases in groups.values() for t, s, _ in cases]
    predicted, _ = predict(flat)  # type: ignore[operator]
    out: dict[str, dict[str, float | int]] = {}
    k = 0
    for name, cases in groups.items():
        got = predicted[k : k + len(cases)]
        k += len(cases)
        right = sum(p == e for p, (_, _, e) in zip(got, cases, strict=True))
        out[name] = {"cases": len(cases), "accuracy": round(right / len(cases), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared/data/assertion_dev")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/assertion.json")
    ap.add_argument("--errors", type=int, default=0, help="print the first N wrong sentences")
    ap.add_argument("--medspacy-python", help="a Python with medspacy installed, for the side by side")
    ap.add_argument("--medspacy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.medspacy_worker:  # read [[text, [start, end]], ...] on stdin, answer in JSON
        items = [(t, (s, e)) for t, (s, e) in json.loads(sys.stdin.read())]
        predicted, seconds = medspacy_predict(items)
        print(json.dumps({"predicted": predicted, "seconds": seconds}))
        return
    rows = load(args.data)
    items = [(text, span) for _, text, span, _ in rows]
    predicted, seconds = kgrag_predict(items)
    result = evaluate(rows, predicted, seconds)
    result["families"] = family_scores(kgrag_predict)
    for p, (rid, text, (s, e), g) in list(zip(predicted, rows, strict=True)):
        if p != g and args.errors > 0:
            args.errors -= 1
            print(
                json.dumps({"id": rid, "gold": g, "predicted": p, "target": text[s:e], "text": text}),
                file=sys.stderr,
            )
    report: dict[str, object] = {"assertion_dev": result}
    peer = medspacy_elsewhere(items, args.medspacy_python)
    if peer is not None:
        peer_result = evaluate(rows, *peer)
        peer_result["families"] = family_scores(lambda xs: medspacy_elsewhere(xs, args.medspacy_python))
        report["medspacy_context"] = {"version": "medspacy 1.3.1, default ConText rules", **peer_result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
