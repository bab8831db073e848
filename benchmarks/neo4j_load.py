"""Neo4j load rate: batched serial vs batched node-disjoint parallel vs bulk import (#25).

    python benchmarks/neo4j_load.py [--docs 8000] [--workers 1 2 4] [--uri bolt://...]
        [--out benchmarks/out/neo4j_load.json]

A seeded generated graph of a corpus build's shape (the reduce's output): documents with
three chunks each, ``IN_DOCUMENT`` and ``MENTIONS`` edges with one claim, and
``HAS_FINDING`` facts cited from chunks, drawn with Zipf-like popularity so that a few
disease -> finding edges gather thousands of claims (hot edges) and most have one or two.

- **batched**: ``Neo4jGraphStore.upsert_nodes/upsert_edges`` into the (emptied) server at
  ``--uri`` (default ``KGRAG_TEST_NEO4J_URI``), once per ``--workers`` value;
- **bulk**: ``neo4j_import.write_import_files`` + ``neo4j-admin database import full``
  (the test Neo4j's own, ``tools/neo4j-launcher/admin``) into a fresh home, then that home
  started (``tools/neo4j-launcher/run PORT HOME``) and the store's constraints and indexes
  built (``await_indexes``); skipped without Java.

Every method's result is checked against the first batched load (counts, and a digest of
all edges with their claims). Rates are wall-clock rows per second on this machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

from kgrag.graph.neo4j_import import run_import, write_import_files
from kgrag.graph.neo4j_queries import CLAIMS_ON_RELATIONSHIP
from kgrag.graph.neo4j_store import Neo4jGraphStore
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "tools" / "neo4j-launcher"


class _Zipf:
    """Indexes 0..n-1 drawn with weight 1 / (i + 1)^s (a few popular, a long tail)."""

    def __init__(self, n: int, s: float) -> None:
        self.population = range(n)
        self.cum = list(accumulate(1 / (i + 1) ** s for i in range(n)))

    def __call__(self, rng: random.Random) -> int:
        return rng.choices(self.population, cum_weights=self.cum)[0]


def generate(docs: int, seed: int = 25) -> tuple[list[Node], list[Edge]]:
    """A reduced graph of ``docs`` documents (nodes, then edges each once with all claims)."""
    rng = random.Random(seed)
    n_dis, n_fin = max(50, docs // 2), max(150, 3 * docs // 2)
    fin, dis, hot_dis, hot_fin = (
        _Zipf(n_fin, 1.0),
        _Zipf(n_dis, 1.0),
        _Zipf(n_dis, 1.3),
        _Zipf(n_fin, 1.3),
    )
    nodes = [
        Node(
            id=f"D:{i}", label=Label.CONCEPT, name=f"disease {i}", tier=Tier.DISEASE, sources=("vocab",)
        )
        for i in range(n_dis)
    ] + [
        Node(
            id=f"F:{i}", label=Label.CONCEPT, name=f"finding {i}", tier=Tier.FINDING, sources=("vocab",)
        )
        for i in range(n_fin)
    ]
    edges: dict[
        tuple[str, EdgeType, str], dict[tuple[str, str | None, int | None, int | None], Claim]
    ] = {}

    def claim(src: str, typ: EdgeType, dst: str, c: Claim) -> None:
        edges.setdefault((src, typ, dst), {})[c.identity()] = c

    for d in range(docs):
        doc = f"doc:{d}"
        nodes.append(Node(id=doc, label=Label.DOCUMENT, name=f"document {d}", sources=("corpus",)))
        for k in range(3):
            chunk = f"chunk:{d}#{k}"
            nodes.append(
                Node(id=chunk, label=Label.CHUNK, name=chunk, sources=("corpus",), props={"order": k})
            )
            claim(chunk, EdgeType.IN_DOCUMENT, doc, Claim(source="corpus", reference=doc))
            for _ in range(rng.randint(2, 8)):
                target = f"F:{fin(rng)}" if rng.random() < 0.7 else f"D:{dis(rng)}"
                claim(chunk, EdgeType.MENTIONS, target, Claim(source="corpus", reference=chunk))
            for _ in range(rng.randint(0, 5)):
                start = rng.randrange(1000)
                claim(
                    f"D:{hot_dis(rng)}",
                    EdgeType.HAS_FINDING,
                    f"F:{hot_fin(rng)}",
                    Claim(
                        source="corpus",
                        reference=chunk,
                        start=start,
                        end=start + 12,
                        props={"polarity": "present"}
                        | ({"frequency": round(rng.random(), 2)} if rng.random() < 0.2 else {}),
                    ),
                )
    for i in range(1, n_dis):
        claim(f"D:{i}", EdgeType.IS_A, f"D:{rng.randrange(i)}", Claim(source="vocab", reference="DO"))
    out = [
        Edge(
            src=s,
            type=t,
            dst=d,
            claims=tuple(cs.values()),
            props={"kind": "fact"} if t is EdgeType.HAS_FINDING else {},
        )
        for (s, t, d), cs in edges.items()
    ]
    return nodes, out


def digest(store: Neo4jGraphStore) -> str:
    """SHA-256 of every edge with its claims (sorted), for comparing loads."""
    rows = sorted(e.model_dump_json() for e in store.iter_edges())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


class _Deadlocks(logging.Handler):
    """Counts the driver's "will be retried" warnings for deadlocks (transient, retried)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "DeadlockDetected" in record.getMessage():
            self.count += 1


DEADLOCKS = _Deadlocks()


def batched(
    uri: str, nodes: list[Node], edges: list[Edge], workers: int
) -> tuple[dict[str, float], Neo4jGraphStore]:
    store = Neo4jGraphStore(uri, write_workers=workers)
    store.clear()
    DEADLOCKS.count = 0
    t0 = time.perf_counter()
    store.upsert_nodes(nodes)
    t1 = time.perf_counter()
    store.upsert_edges(edges)
    t2 = time.perf_counter()
    return {"nodes_s": t1 - t0, "edges_s": t2 - t1, "deadlocks_retried": DEADLOCKS.count}, store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bulk(
    nodes: list[Node], edges: list[Edge], work: Path
) -> tuple[dict[str, float], str, dict[str, object]]:
    t0 = time.perf_counter()
    files = write_import_files(nodes, edges, work / "csv")
    write_s = time.perf_counter() - t0
    home, state = work / "home", work / "state"
    state.mkdir()
    result = run_import(LAUNCHER / "admin", files, env={**os.environ, "NEO4J_HOME": str(home)})
    t1 = time.perf_counter()
    started = subprocess.run(
        [str(LAUNCHER / "run"), str(_free_port()), str(home)],
        env={**os.environ, "KGRAG_NEO4J_LAUNCHER_STATE": str(state)},
        capture_output=True,
        text=True,
        check=True,
    )
    start_s = time.perf_counter() - t1
    try:
        t2 = time.perf_counter()
        store = Neo4jGraphStore(started.stdout.strip())  # creates the constraints and indexes
        store.await_indexes()
        index_s = time.perf_counter() - t2
        found = digest(store)
        counts = store.counts().model_dump()
        store.close()
    finally:
        subprocess.run(["kill", (state / "neo4j.pid").read_text().strip()], check=False)
    times = {
        "write_files_s": write_s,
        "admin_import_s": result.seconds,
        "server_start_s": start_s,
        "constraints_and_indexes_s": index_s,
    }
    return (
        times,
        found,
        {
            "counts": counts,
            "csv_mb": sum(p.stat().st_size for p in files.nodes + files.relationships) / 1e6,
        },
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=8000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--uri", default=os.environ.get("KGRAG_TEST_NEO4J_URI", "bolt://127.0.0.1:7687"))
    ap.add_argument("--no-bulk", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/neo4j_load.json")
    args = ap.parse_args()
    logging.getLogger("neo4j").addHandler(DEADLOCKS)

    t0 = time.perf_counter()
    nodes, edges = generate(args.docs)
    claims = sum(len(e.claims) for e in edges)
    sizes = sorted((len(e.claims) for e in edges), reverse=True)
    graph = {
        "docs": args.docs,
        "nodes": len(nodes),
        "edges": len(edges),
        "claims": claims,
        "edges_past_cap": sum(1 for k in sizes if k > CLAIMS_ON_RELATIONSHIP),
        "largest_edges_claims": sizes[:5],
        "generate_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(graph), flush=True)
    runs: list[dict[str, object]] = []
    reference = ""
    for w in args.workers:
        times, store = batched(args.uri, nodes, edges, w)
        t_read = time.perf_counter()
        found = digest(store)
        read_s = time.perf_counter() - t_read
        reference = reference or found
        counts = store.counts().model_dump()
        store.clear()
        store.close()
        run = {
            "method": "batched",
            "write_workers": w,
            **{k: round(v, 2) for k, v in times.items()},
            "nodes_per_s": round(len(nodes) / times["nodes_s"]),
            "edges_per_s": round(len(edges) / times["edges_s"]),
            "claims_per_s": round(claims / times["edges_s"]),
            "read_all_edges_s": round(read_s, 1),
            "same_as_first": found == reference,
            "counts": counts,
        }
        runs.append(run)
        print(json.dumps(run), flush=True)
    if not args.no_bulk and shutil.which("java"):
        with tempfile.TemporaryDirectory(prefix="kgrag-bulk-") as tmp:
            times, found, extra = bulk(nodes, edges, Path(tmp))
        load_s = times["write_files_s"] + times["admin_import_s"]
        total_s = sum(times.values())
        run = {
            "method": "bulk",
            **{k: round(v, 2) for k, v in times.items()},
            "nodes_per_s_files_and_import": round(len(nodes) / load_s),
            "edges_per_s_files_and_import": round(len(edges) / load_s),
            "edges_per_s_until_queryable": round(len(edges) / total_s),
            "same_as_first": found == reference,
            **extra,
        }
        runs.append(run)
        print(json.dumps(run), flush=True)
    out = {
        "benchmark": "neo4j_load",
        "command": "python benchmarks/neo4j_load.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
            "python": platform.python_version(),
            "server": "Neo4j 5.26 Community, in-process (tools/neo4j-launcher, -Xmx3g), same machine",
        },
        "claims_on_relationship": CLAIMS_ON_RELATIONSHIP,
        "graph": graph,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if all(r["same_as_first"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
