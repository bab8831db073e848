"""Stores benchmark: does this code read a knowledge base exactly as the build that made it?

    python benchmarks/stores.py [--kb DIR] [--out benchmarks/out/stores.json]

Compiles the diagnostic model from the embedded store at ``--kb`` (default: the cache's
``kb/``) with this code (edge frequencies from ``kgrag.graph.schema.edge_frequency``) and
compares it array by array with the model the build saved beside it
(``kb/retrieval/diagnostic_model.npz``). With a knowledge base built by an earlier kgrag,
"identical" means the refactored readers change no diagnosis input. Also times the bulk
read (``iter_edges`` of HAS_FINDING) and 1,000 ``edges()`` lookups.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kgrag.config import get_settings, kb_dir
from kgrag.graph.schema import EdgeType
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.retrieval.model import FILE_NAME, compile_model

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kb", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/stores.json")
    args = ap.parse_args()
    kb = args.kb or kb_dir(get_settings())
    saved = kb / "retrieval" / FILE_NAME
    with SqliteGraphStore(kb, read_only=True) as store:
        t0 = time.perf_counter()
        findings = list(store.iter_edges([EdgeType.HAS_FINDING]))
        iter_s = time.perf_counter() - t0
        keys = [(e.src, e.type, e.dst) for e in random.Random(0).sample(findings, 1000)]
        t0 = time.perf_counter()
        store.edges(keys)
        lookup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = compile_model(store, fingerprint="benchmark", progress=lambda _: None)
        compile_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / FILE_NAME
        model.save(fresh)
        with np.load(saved) as a, np.load(fresh) as b:
            meta_a = json.loads(a["meta"].tobytes())
            meta_b = json.loads(b["meta"].tobytes())
            same = {k: bool(np.array_equal(a[k], b[k], equal_nan=True)) for k in a.files if k != "meta"}
            for k in meta_a:
                if k != "fingerprint":
                    same[f"meta.{k}"] = meta_a[k] == meta_b.get(k)
    result = {
        "kb": kb.name,  # the folder name only: no machine path in the results
        "has_finding_edges": len(findings),
        "with_frequency": sum("frequency" in e.props for e in findings),
        "annotations": len(model.annotations),
        "identical_to_saved_model": all(same.values()),
        "arrays": same,
        "iter_has_finding_s": round(iter_s, 2),
        "edges_1000_lookups_s": round(lookup_s, 3),
        "compile_model_s": round(compile_s, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["identical_to_saved_model"] else 1


if __name__ == "__main__":
    sys.exit(main())
