"""Precision of guideline facts on hand-labelled guideline-like text.

    python benchmarks/guideline_facts.py [--data DIR] [--out FILE] [--dump FILE]

Reads the documents of ``tests/fixtures/guideline_facts/`` (Markdown, HTML, text; CC0,
written for kgrag), links them and extracts disease -> finding facts exactly as a corpus
build does (:func:`kgrag.pipeline.corpus.document_records`), and scores each extracted
fact against ``labels.tsv`` (one row per fact: document, sentence start, disease id,
finding id, polarity, label ``correct`` / ``incorrect``; labelling rule in the folder's
README). Precision = correct / labelled; unlabelled extracted facts are listed (label them)
and rows labelled ``missed`` are expected facts not extracted (for recall). ``--dump``
writes the extracted facts as a TSV to label. Output: ``benchmarks/out/guideline_facts.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kgrag.config import load_settings  # noqa: E402
from kgrag.corpus.documents import ReadFailure, read_corpus  # noqa: E402
from kgrag.graph.schema import EdgeType, Tier  # noqa: E402
from kgrag.graph.tiers import assign_tiers  # noqa: E402
from kgrag.linking.linker import ConceptLinker  # noqa: E402
from kgrag.ontology.compiled import load_concepts  # noqa: E402
from kgrag.pipeline.corpus import document_records  # noqa: E402

NOT_GUIDELINES = frozenset({"README.md", "LICENSE", "labels.tsv"})
Key = tuple[str, int, str, str, str]
COLUMNS = (
    "document",
    "start",
    "disease",
    "finding",
    "polarity",
    "label",
    "disease_name",
    "finding_name",
    "rule",
    "sentence",
)


def extract(data: Path) -> list[dict[str, str]]:
    """Every fact the corpus build extracts from the documents under ``data``."""
    table = load_concepts(load_settings())
    tiers = assign_tiers(table)

    def is_disease(cid: str) -> bool:
        i = table.index_of(cid)
        return i is not None and tiers[i] is Tier.DISEASE

    linker = ConceptLinker(table)
    rows: list[dict[str, str]] = []
    for doc in read_corpus(data, source="guidelines"):
        if isinstance(doc, ReadFailure) or doc.id in NOT_GUIDELINES:
            continue
        _, edges = document_records(doc, linker, "guidelines", is_disease=is_disease)
        for e in edges:
            if e.type is not EdgeType.HAS_FINDING:
                continue
            for c in e.claims:
                if "rule" not in c.props:
                    continue
                d, f = table.get(e.src), table.get(e.dst)
                rows.append(
                    {
                        "document": doc.id,
                        "start": str(c.start),
                        "disease": e.src,
                        "finding": e.dst,
                        "polarity": str(c.props["polarity"]),
                        "label": "",
                        "disease_name": d.name if d else "",
                        "finding_name": f.name if f else "",
                        "rule": str(c.props["rule"]),
                        "sentence": str(c.props["text"]).replace("\n", " ").replace("\t", " "),
                    }
                )
    return rows


def key(row: dict[str, str]) -> Key:
    return (row["document"], int(row["start"]), row["disease"], row["finding"], row["polarity"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO / "tests/fixtures/guideline_facts")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/guideline_facts.json")
    ap.add_argument("--dump", type=Path, help="write the extracted facts as a TSV to label")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = extract(args.data)
    seconds = time.perf_counter() - t0
    if args.dump:
        with args.dump.open("w", newline="") as fh:
            w = csv.DictWriter(fh, COLUMNS, delimiter="\t")
            w.writeheader()
            w.writerows(rows)
    labels: dict[Key, str] = {}
    label_file = args.data / "labels.tsv"
    if label_file.exists():
        with label_file.open() as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                labels[key(r)] = r["label"]
    extracted = {key(r) for r in rows}
    scored = [labels[k] for k in extracted if k in labels and labels[k] != "missed"]
    correct = scored.count("correct")
    missed = [k for k, v in labels.items() if v == "missed"]
    expected = correct + len(missed)
    result = {
        "documents": len({r["document"] for r in rows}),
        "extracted": len(extracted),
        "labelled": len(scored),
        "unlabelled": sorted("\t".join(map(str, k)) for k in extracted if k not in labels),
        "correct": correct,
        "precision": round(correct / len(scored), 3) if scored else None,
        "expected_facts": expected,
        "recall": round(correct / expected, 3) if expected else None,
        "missed": ["\t".join(map(str, k)) for k in missed],
        "not_shown_extracted": sum(1 for k in extracted if k[4] == "not_shown"),
        "seconds": round(seconds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("unlabelled", "missed")}))


if __name__ == "__main__":
    main()
