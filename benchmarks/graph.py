"""Graph benchmark: build the default knowledge base into the embedded store and into a
real Neo4j side by side, then time queries on both.

    python benchmarks/graph.py [--neo4j bolt://127.0.0.1:7687] [--out benchmarks/out/graph.json]

Start the test Neo4j with ``tools/neo4j-launcher/run`` (Neo4j 5.26 from neo4j-harness).
Build: wall time (graph sources, then the retrieval artifacts: diagnostic model and
passage embeddings), nodes and edges per second, peak memory (this process; Neo4j's own
JVM heap is separate), size on disk. Rebuilds after one corpus document is removed and
after it comes back (per-document incremental updates). Queries, 200 each, p50/p99:
neighbours of a disease, ancestors to depth 5, the 2-hop subgraph of 20 diseases
(disease -> findings -> their IS_A parents, following edge direction), and passage
vector search (top 20): faiss beside the embedded store, Neo4j's own vector index in
Neo4j.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kgrag.graph.base import GraphStore  # noqa: E402
from kgrag.graph.schema import EdgeType, Label  # noqa: E402
from kgrag.ontology.compiled import load_concepts  # noqa: E402
from kgrag.ontology.table import ConceptTable  # noqa: E402
from kgrag.pipeline.runner import Builder, Recipe, load_recipe  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


def timed(fn, runs) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for arg in runs:
        t = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - t)
    return {
        "p50_ms": pct(times, 0.5),
        "p99_ms": pct(times, 0.99),
        "n": len(times),
        "mean_ms": round(statistics.mean(times) * 1000, 2),
    }


def queries(store: GraphStore, diseases: list[str], findings: list[str]) -> dict[str, object]:
    rng = random.Random(7)
    sample = [rng.choice(diseases) for _ in range(200)]
    deep = [rng.choice(findings) for _ in range(200)]
    groups = [[rng.choice(diseases) for _ in range(20)] for _ in range(40)]
    return {
        "neighbours": timed(lambda d: store.neighbours(d, types=[EdgeType.HAS_FINDING]), sample),
        "ancestors_depth5": timed(lambda f: store.ancestors(f, max_depth=5), deep),
        # disease -> its findings -> the findings' parents (what finding-similarity scoring reads)
        "subgraph_2hop_20_diseases": timed(
            lambda ds: store.subgraph(
                ds, hops=2, types=[EdgeType.HAS_FINDING, EdgeType.IS_A], direction="out"
            ),
            groups,
        ),
    }


def incremental(
    recipe: Recipe, store: GraphStore, table: ConceptTable, corpus: Path
) -> dict[str, object]:
    """Rebuild after one document goes and after it comes back: seconds, what changed."""
    victim = sorted(p for p in corpus.rglob("*.xml.gz"))[0]
    kept = victim.read_bytes()
    out: dict[str, object] = {}
    for step in ("one_document_removed", "one_document_added"):
        if step == "one_document_removed":
            victim.unlink()
        else:
            victim.write_bytes(kept)
        t0 = time.perf_counter()
        report = Builder(recipe, store, table=table).run()
        corpus_report = next(s for s in report.sources if s.status == "built")
        out[step] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "corpus_seconds": corpus_report.seconds,
            "documents": corpus_report.documents,
            "retrieval_rebuilt": bool(report.retrieval),
        }
    return out


def vector_search(store: GraphStore) -> dict[str, object]:
    from kgrag.retrieval.artifacts import artifacts_dir
    from kgrag.retrieval.passages import PassageIndex

    passages = PassageIndex.load(artifacts_dir(store), store=store)
    rng = random.Random(11)
    texts = [str(n.name) for n in store.iter_nodes(Label.DOCUMENT)]
    queries_ = [f"signs and symptoms of {rng.choice(texts)}" for _ in range(200)]
    vectors = [passages.encoder.encode_queries([q]) for q in queries_]
    return {
        "index": getattr(passages.index, "kind", type(passages.index).__name__),
        "passages": len(passages),
        "encoder": passages.encoder.name,
        "search_top20": timed(lambda v: passages.index.search(v, 20), vectors),
    }


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--neo4j", default=None, help="bolt URI of a running Neo4j")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/graph.json")
    args = ap.parse_args()
    table = load_concepts()
    recipe = load_recipe()
    tmp = Path(tempfile.mkdtemp(prefix="kgrag-graph-bench-"))
    # the corpus is copied so that the incremental runs can remove and restore a document
    sources = []
    for spec in recipe.sources:
        if spec.kind == "corpus" and spec.path:
            shutil.copytree(recipe.base_dir / spec.path, tmp / "corpora" / (spec.name or "corpus"))
            spec = spec.model_copy(update={"path": str(tmp / "corpora" / (spec.name or "corpus"))})
        sources.append(spec)
    # the copy is a folder this run allows explicitly (recipes are confined to their own)
    recipe = recipe.model_copy(
        update={"sources": sources, "allowed_roots": (*recipe.allowed_roots, tmp)}
    )
    results: dict[str, object] = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "recipe": recipe.name,
    }
    from kgrag.config import get_settings
    from kgrag.ontology.hpo import load_hpoa

    hpoa = load_hpoa(get_settings().ontologies_dir / "hpo/phenotype.hpoa.gz")
    annotated = sorted({d for a in hpoa.annotations if (d := table.resolve(a.disease_id))})
    stores: list[tuple[str, object]] = []
    from kgrag.graph.sqlite_store import SqliteGraphStore

    stores.append(("embedded (SQLite)", lambda: SqliteGraphStore(tmp / "kb")))
    if args.neo4j:
        from kgrag.graph.neo4j_store import Neo4jGraphStore

        def neo() -> Neo4jGraphStore:
            s = Neo4jGraphStore(args.neo4j)
            s.clear()
            return s

        stores.append(("Neo4j 5.26 (neo4j-harness, Bolt)", neo))
    for name, make in stores:
        store = make()  # type: ignore[operator]
        t0 = time.perf_counter()
        report = Builder(recipe, store, table=table).run(rebuild=True)
        secs = time.perf_counter() - t0
        graph_s = sum(s.seconds for s in report.sources)
        counts = store.counts()
        n_nodes, n_edges = sum(counts.nodes.values()), sum(counts.edges.values())
        diseases = annotated
        findings = [row.id for row in table.rows() if row.kind == "finding"][:5000]
        row = {
            "status": report.status,
            "build_s": round(secs, 1),
            "graph_s": round(graph_s, 1),
            "retrieval_artifacts_s": round(secs - graph_s, 1),
            "nodes": n_nodes,
            "edges": n_edges,
            "nodes_per_s": round(n_nodes / graph_s),
            "edges_per_s": round(n_edges / graph_s),
            "peak_rss_mb_client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "queries": queries(store, diseases, findings),
            "vector_search": vector_search(store),
            "rebuild": incremental(recipe, store, table, tmp / "corpora"),
        }
        if isinstance(store, SqliteGraphStore):
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row["disk_mb"] = round(dir_size(store.directory) / 1e6, 1)
        results[name] = row
        print(json.dumps({name: row}, indent=1), file=sys.stderr)
        store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
