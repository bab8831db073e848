"""What the build lock, the generation stamp, private files and consistent reads cost.

Builds the small fault-test knowledge base (tests/faults_build.py: vocabulary excerpts,
HPO annotations, the test documents) ``--repeat`` times with ``Builder.run`` (lock, umask
and chmod, generation stamp) and with the bare ``Builder._run``, alternating, and times
the added steps on their own; then times a diagnosis with and without the before/after
stamp reads. Writes benchmarks/out/faults.json.

Usage: python benchmarks/faults.py [--repeat 3] [--kb DIR (an existing knowledge base to
time the per-request stamp reads on, e.g. the default one)]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _timed(fn, n: int = 1) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    import faults_build

    from kgrag.config import load_settings
    from kgrag.graph.sqlite_store import SqliteGraphStore
    from kgrag.pipeline.lock import BuildLock, lock_path
    from kgrag.pipeline.runner import Builder, make_private
    from kgrag.retrieval.consistency import read_stamp
    from kgrag.retrieval.diagnose import Diagnoser

    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--kb", type=Path, default=None)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kgrag-faults-"))
    corpus = ROOT / "tests" / "fixtures" / "docs"
    kb = tmp / "kb"
    settings = load_settings(cache_dir=tmp / "cache", ontologies_dir=faults_build.ONTOLOGIES, kb_dir=kb)
    table = faults_build.small_table()
    recipe = faults_build.recipe(corpus)
    store = SqliteGraphStore(kb)
    Builder(recipe, store, table=table, settings=settings).run()  # warm caches
    guarded, bare = [], []
    for _ in range(a.repeat):
        b = Builder(recipe, store, table=table, settings=settings)
        guarded.append(_timed(lambda b=b: b.run(rebuild=True)))
        b = Builder(recipe, store, table=table, settings=settings)
        bare.append(_timed(lambda b=b: b._run(True)))
    lock = lock_path(store, settings)
    steps = {
        "lock_acquire_release_ms": _timed(lambda: BuildLock(lock).__enter__().release(), 200) * 1000,
        "make_private_ms": _timed(
            lambda: make_private(kb, only=("graph.sqlite", "build.lock", "retrieval")), 20
        )
        * 1000,
        "generation_stamp_ms": _timed(
            lambda: store.set_meta("generation", str(int(store.get_meta("generation") or 0) + 1)), 50
        )
        * 1000,
    }
    store.close()

    def request_cost(where: Path, dx_settings) -> dict[str, float]:  # type: ignore[no-untyped-def]
        with Diagnoser(str(where), settings=dx_settings, table=table if where == kb else None) as dx:
            terms = list(dx.model.terms[:3])
            dx.diagnose(findings=terms)
            per = _timed(lambda: dx.diagnose(findings=terms), 20) * 1000
            stamps = _timed(lambda: (read_stamp(dx.store), read_stamp(dx.store)), 200) * 1000
        return {"diagnose_ms": round(per, 3), "stamp_reads_ms": round(stamps, 4)}

    requests = {"small": request_cost(kb, settings)}
    if a.kb is not None:
        requests["given"] = request_cost(a.kb, load_settings(kb_dir=a.kb))
    med_g, med_b = statistics.median(guarded), statistics.median(bare)
    added = sum(steps.values()) / 1000
    out = {
        "build_small_recipe_s": {
            "guarded": [round(x, 2) for x in guarded],
            "bare": [round(x, 2) for x in bare],
        },
        "median_guarded_s": round(med_g, 2),
        "median_bare_s": round(med_b, 2),
        "added_steps": {k: round(v, 3) for k, v in steps.items()},
        "added_steps_share_of_build_pct": round(100 * added / med_b, 3),
        "requests": requests,
    }
    dest = ROOT / "benchmarks" / "out" / "faults.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
