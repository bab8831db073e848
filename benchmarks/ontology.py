"""Concept-layer benchmark: counts, cold/warm load time, peak memory, gold-id coverage.

    python benchmarks/ontology.py [--shared ../shared/data] [--out benchmarks/out/ontology.json]

Cold compile and warm load each run in a fresh subprocess so that their peak RSS is
measured separately. Coverage: the share of MeSH and OMIM gold ids in the NCBI-disease and
BC5CDR (disease) training and development files that resolve to a unified concept.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_CHILD = """
import json, resource, sys, time
from kgrag.config import load_settings
from kgrag.ontology.compiled import load_concepts
t = time.perf_counter()
table = load_concepts(load_settings(cache_dir=sys.argv[1]))
secs = time.perf_counter() - t
print(json.dumps({"seconds": round(secs, 3), "concepts": len(table),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def timed_load(cache: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cache)], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def coverage(table, files: dict[str, Path]) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    from kgrag.corpus.pubtator import read_pubtator

    out: dict[str, dict[str, object]] = {}
    for name, path in files.items():
        if not path.is_file():
            out[name] = {"skipped": f"{path} not found"}
            continue
        occurrences: Counter[str] = Counter()
        for doc in read_pubtator(path):
            for m in doc.mentions:
                if m.type == "Chemical":
                    continue
                occurrences.update(m.ids)
        by_prefix: dict[str, dict[str, int]] = {}
        missing: list[str] = []
        resolved_mentions = 0
        for code, n in occurrences.items():
            prefix = code.split(":")[0]
            row = by_prefix.setdefault(prefix, {"ids": 0, "resolved": 0})
            row["ids"] += 1
            if table.resolve(code) is not None:
                row["resolved"] += 1
                resolved_mentions += n
            else:
                missing.append(code)
        total_ids = sum(r["ids"] for r in by_prefix.values())
        out[name] = {
            "unique_ids": total_ids,
            "resolved_ids": sum(r["resolved"] for r in by_prefix.values()),
            "id_coverage": round(sum(r["resolved"] for r in by_prefix.values()) / total_ids, 4),
            "mention_coverage": round(resolved_mentions / sum(occurrences.values()), 4),
            "by_prefix": by_prefix,
            "unresolved_examples": sorted(missing)[:15],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/ontology.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cold = timed_load(Path(tmp))
        warm = [timed_load(Path(tmp)) for _ in range(3)]
        from kgrag.config import load_settings
        from kgrag.ontology.compiled import load_concepts

        table = load_concepts(load_settings(cache_dir=tmp))
        compiled_mb = sum(p.stat().st_size for p in Path(tmp).glob("*.zst")) / 1e6
    stats = table.stats()
    s = args.shared
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
        "sources": [src.model_dump(include={"name", "version", "license"}) for src in table.sources],
        "per_source": [c.model_dump() for c in stats.per_source],
        "unified": stats.model_dump(exclude={"per_source", "warnings"}),
        "warnings": stats.warnings,
        "cold_compile": cold,
        "warm_load": {
            "seconds_min": min(w["seconds"] for w in warm),
            "seconds_max": max(w["seconds"] for w in warm),
            "peak_rss_mb": max(w["peak_rss_mb"] for w in warm),
        },
        "compiled_size_mb": round(compiled_mb, 1),
        "coverage": coverage(
            table,
            {
                "ncbi_disease_train": s / "ncbi_disease/NCBItrainset_corpus.txt",
                "ncbi_disease_dev": s / "ncbi_disease/NCBIdevelopset_corpus.txt",
                "bc5cdr_disease_train": s / "bc5cdr/CDR_TrainingSet.PubTator.txt",
                "bc5cdr_disease_dev": s / "bc5cdr/CDR_DevelopmentSet.PubTator.txt",
            },
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
