"""Loading Neo4j at scale (#25): hot edges in linear time, node-disjoint parallel batches.

The Neo4j tests run against the real server of ``KGRAG_TEST_NEO4J_URI`` (see
``tools/neo4j-launcher``); the partition tests need no server.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kgrag.graph.neo4j_batches import bucket, edge_waves, node_groups, rounds
from kgrag.graph.neo4j_queries import CLAIMS_ON_RELATIONSHIP
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node
from kgrag.graph.sqlite_store import SqliteGraphStore

if TYPE_CHECKING:  # the driver is an optional extra: imported by the tests that run
    from kgrag.graph.neo4j_store import Neo4jGraphStore

H = EdgeType.HAS_FINDING
CAP = CLAIMS_ON_RELATIONSHIP


# -- the partition (no server) -------------------------------------------------------------
@pytest.mark.parametrize("buckets", range(1, 12))
def test_rounds_hold_every_cell_once_and_share_no_bucket(buckets: int) -> None:
    schedule = rounds(buckets)
    cells = [c for r in schedule for c in r]
    assert sorted(cells) == [(i, j) for i in range(buckets) for j in range(i, buckets)]
    for r in schedule:
        used = [b for i, j in r for b in ({i, j})]
        assert len(used) == len(set(used)), r


@pytest.mark.parametrize("seed", range(6))
def test_edge_waves_touch_disjoint_nodes_and_keep_order(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"N{i}" for i in range(rng.randint(1, 60))]
    hot = ids[: max(1, len(ids) // 10)]  # a few nodes at many edges
    rows = [
        (rng.choice(hot if rng.random() < 0.5 else ids), rng.choice(ids), n)
        for n in range(rng.randint(0, 2000))
    ]
    buckets = rng.choice([1, 2, 3, 4, 8])
    waves = edge_waves(rows, lambda r: (r[0], r[1]), buckets)
    assert sorted(r for w in waves for g in w for r in g) == sorted(rows)  # each row once
    for wave in waves:
        seen: dict[str, int] = {}
        for k, group in enumerate(wave):
            assert group
            for src, dst, _ in group:
                for node in (src, dst):
                    assert seen.setdefault(node, k) == k, f"{node} in two groups of a wave"
    # one edge's rows stay in one group, in input order
    where = {}
    for w, wave in enumerate(waves):
        for k, group in enumerate(wave):
            assert [r[2] for r in group] == sorted(r[2] for r in group)
            for src, dst, _ in group:
                assert where.setdefault((src, dst), (w, k)) == (w, k)


def test_node_groups_split_by_id() -> None:
    rows = [f"C{i % 37}" for i in range(500)]
    groups = node_groups(rows, str, 4)
    assert sorted(r for g in groups for r in g) == sorted(rows)
    assert all(len({bucket(r, 4) for r in g}) == 1 for g in groups)
    assert node_groups([], str, 4) == [] and edge_waves([], lambda r: (r, r), 4) == []


# -- against the real server ---------------------------------------------------------------
def _open(**kw: int) -> Neo4jGraphStore:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    return Neo4jGraphStore(
        os.environ["KGRAG_TEST_NEO4J_URI"],
        auth=(
            os.environ.get("KGRAG_TEST_NEO4J_USER", "neo4j"),
            os.environ.get("KGRAG_TEST_NEO4J_PASSWORD", ""),
        ),
        **kw,
    )


@pytest.fixture
def neo() -> Iterator[Neo4jGraphStore]:
    store = _open()
    store.clear()
    yield store
    store.clear()
    store.close()


def _claims(k: int) -> list[Claim]:
    return [
        Claim(source="notes", reference=f"chunk:d{i}#0", start=i, end=i + 5, props={"text": "fever"})
        for i in range(k)
    ]


def _hot_load(store: Neo4jGraphStore, k: int, *, merged: bool) -> float:
    """Seconds to load one HAS_FINDING edge with ``k`` claims and read it back whole.

    ``merged``: one edge holding all its claims (the reduce's output); else one claim per
    upsert, 100 upserts per call (the edge grows call by call past the relationship's cap).
    """
    store.clear()
    store.upsert_nodes(
        [Node(id=i, label=Label.CONCEPT, name=i, sources=("v",)) for i in ("MONDO:1", "HP:1")]
    )
    claims = _claims(k)
    t0 = time.perf_counter()
    if merged:
        store.upsert_edges([Edge(src="MONDO:1", type=H, dst="HP:1", claims=tuple(claims))])
    else:
        for i in range(0, k, 100):
            store.upsert_edges(
                [Edge(src="MONDO:1", type=H, dst="HP:1", claims=(c,)) for c in claims[i : i + 100]]
            )
    (edge,) = store.edges([("MONDO:1", H, "HP:1")])
    seconds = time.perf_counter() - t0
    assert len(edge.claims) == k
    return seconds


@pytest.mark.neo4j
@pytest.mark.parametrize("merged", [True, False], ids=["reduced", "claim-by-claim"])
def test_a_hot_edge_loads_in_linear_time(neo: Neo4jGraphStore, merged: bool) -> None:
    """5x the claims may take at most ~2x more than 5x the time (O(k^2) would be 25x)."""
    small, large = 2_000, 10_000
    best = {k: min(_hot_load(neo, k, merged=merged) for _ in range(3)) for k in (small, large)}
    ratio = best[large] / best[small]
    assert ratio < 2 * large / small, f"{best}: {ratio:.1f}x the time for 5x the claims"


def _nodes(n: int) -> list[Node]:
    return [Node(id=f"C{i}", label=Label.CONCEPT, name=f"c{i}", sources=("v",)) for i in range(n)]


def _random_edges(rng: random.Random, n_nodes: int, n_edges: int) -> list[Edge]:
    """Edges of a clinical graph's shape: a few hot nodes, hot edges past the cap, self
    loops, repeated upserts of one edge with replaced claims and changed props."""
    hot = max(2, n_nodes // 20)
    out = []
    for _ in range(n_edges):
        a = rng.randrange(hot) if rng.random() < 0.6 else rng.randrange(n_nodes)
        b = rng.randrange(n_nodes) if rng.random() < 0.95 else a
        k = rng.choice([1, 1, 1, 2, 3, CAP - 1, CAP, CAP + 1]) if rng.random() < 0.97 else 3 * CAP
        claims = tuple(
            Claim(
                source=rng.choice(["s1", "s2", "s3"]),
                reference=f"chunk:d{rng.randrange(4 * CAP)}#0",
                start=rng.choice([None, rng.randrange(5)]),
                props={"frequency": round(rng.random(), 3)} if rng.random() < 0.5 else {},
            )
            for _ in range(k)
        )
        props = rng.choice([{}, {"weight": rng.randrange(3)}, {"weight": None}, {"note": "x"}])
        out.append(
            Edge(
                src=f"C{a}",
                type=rng.choice([H, H, EdgeType.IS_A]),
                dst=f"C{b}",
                props=props,
                claims=claims,
            )
        )
    return out


def _snapshot(store: object) -> list[Edge]:
    return sorted(store.iter_edges(), key=lambda e: (e.src, e.type.value, e.dst))  # type: ignore[attr-defined]


@pytest.mark.neo4j
@pytest.mark.parametrize("seed", range(3))
def test_reads_equal_the_embedded_store(neo: Neo4jGraphStore, tmp_path: Path, seed: int) -> None:
    """Edges below, at and past the cap, written whole or call by call, then a source and
    documents removed: iter_edges, edges() and counts equal the SQLite store's."""
    rng = random.Random(seed)
    calls = [_random_edges(rng, 40, rng.randint(1, 80)) for _ in range(12)]
    with SqliteGraphStore(tmp_path / "kb") as lite:
        for store in (neo, lite):
            store.upsert_nodes(_nodes(40))
            for call in calls:
                store.upsert_edges(call)
        expected = _snapshot(lite)
        assert any(len(e.claims) > CAP for e in expected), "no edge past the cap"
        assert _snapshot(neo) == expected
        keys = [(e.src, e.type, e.dst) for e in expected]
        rng.shuffle(keys)
        assert neo.edges(keys) == lite.edges(keys)
        assert neo.delete_source("s2") == lite.delete_source("s2")
        assert _snapshot(neo) == _snapshot(lite)
        assert neo.counts() == lite.counts()
        # claims citing removed chunks go (documents of the removed chunks)
        docs = [
            Node(id=f"doc:d{i}", label=Label.DOCUMENT, name=f"d{i}", sources=(s,))
            for i in range(0, 4 * CAP, 3)
            for s in ("s1", "s3")
        ]
        chunks = [
            Node(id=f"chunk:d{i}#0", label=Label.CHUNK, name=f"c{i}", sources=("s1", "s3"))
            for i in range(0, 4 * CAP, 3)
        ]
        links = [
            Edge(src=c.id, type=EdgeType.IN_DOCUMENT, dst=f"doc:d{i}", claims=(Claim(source="s1"),))
            for i, c in zip(range(0, 4 * CAP, 3), chunks, strict=True)
        ]
        for store in (neo, lite):
            store.upsert_nodes(docs + chunks)
            store.upsert_edges(links)
        gone = [f"doc:d{i}" for i in range(0, 4 * CAP, 6)]
        assert neo.delete_documents(gone)["nodes"] == lite.delete_documents(gone)["nodes"]
        assert _snapshot(neo) == _snapshot(lite)
        assert neo.counts() == lite.counts()


@pytest.mark.neo4j
def test_parallel_load_equals_serial_load(neo: Neo4jGraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generated graph loaded by 4 concurrent sessions (node-disjoint waves, several
    windows) reads back equal to the serial load, with no deadlock surfacing as an error."""
    import kgrag.graph.neo4j_store as module

    rng = random.Random(7)
    nodes = _nodes(300)
    edges = _random_edges(rng, 300, 3000)
    neo.write_workers = 1
    neo.upsert_nodes(nodes)
    assert neo.upsert_edges(edges) == len(edges)
    serial, serial_nodes, serial_counts = _snapshot(neo), list(neo.iter_nodes()), neo.counts()
    neo.clear()
    parallel = _open(write_workers=4)
    monkeypatch.setattr(module, "WRITE_WINDOW", 700)  # several windows
    try:
        assert parallel.upsert_nodes(nodes) == len(nodes)
        assert parallel.upsert_edges(edges) == len(edges)
        assert _snapshot(parallel) == serial
        assert sorted(parallel.iter_nodes(), key=lambda n: n.id) == sorted(
            serial_nodes, key=lambda n: n.id
        )
        assert parallel.counts() == serial_counts
    finally:
        parallel.close()


# -- bulk import (neo4j-admin database import full) -----------------------------------------
LAUNCHER = Path(__file__).resolve().parent.parent / "tools" / "neo4j-launcher"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.neo4j
@pytest.mark.skipif(
    not (shutil.which("java") and (shutil.which("mvn") or (LAUNCHER / "target" / "lib").is_dir())),
    reason="the bulk import runs neo4j-admin from tools/neo4j-launcher: needs Java and Maven",
)
def test_bulk_import_reads_back_equal_to_the_batched_load(neo: Neo4jGraphStore, tmp_path: Path) -> None:
    """A generated graph, reduced by the embedded store, bulk-imported by the test Neo4j's
    own neo4j-admin into a fresh home and served from it, reads back equal to the batched
    load of the same graph; the imported database then takes incremental batched writes and
    deletes like the batched one; and a first load into a running server's database (in
    use) falls back to the batched path and says why."""
    from kgrag.graph.neo4j_import import first_load, run_import, write_import_files

    with SqliteGraphStore(tmp_path / "kb") as lite:
        lite.upsert_nodes(_nodes(200))
        lite.upsert_edges(_random_edges(random.Random(11), 200, 1500))
        nodes, edges = list(lite.iter_nodes()), list(lite.iter_edges())
    assert any(len(e.claims) > CAP for e in edges)
    neo.upsert_nodes(nodes)
    neo.upsert_edges(edges)

    files = write_import_files(nodes, edges, tmp_path / "csv")
    assert (files.graph_nodes, files.edges) == (len(nodes), len(edges))
    home, state = tmp_path / "home", tmp_path / "state"
    state.mkdir()
    env = {**os.environ, "NEO4J_HOME": str(home)}
    admin = LAUNCHER / "admin"
    result = run_import(admin, files, env=env, timeout=600)
    assert result.relationships == len(edges)
    started = subprocess.run(
        [str(LAUNCHER / "run"), str(_free_port()), str(home)],
        env={**os.environ, "KGRAG_NEO4J_LAUNCHER_STATE": str(state)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        from kgrag.graph.neo4j_store import Neo4jGraphStore

        with Neo4jGraphStore(started.stdout.strip()) as bulk:
            bulk.await_indexes()
            assert _snapshot(bulk) == _snapshot(neo)
            assert sorted(bulk.iter_nodes(), key=lambda n: n.id) == sorted(
                neo.iter_nodes(), key=lambda n: n.id
            )
            assert bulk.counts() == neo.counts()
            keys = [(e.src, e.type, e.dst) for e in edges[::7]]
            assert bulk.edges(keys) == neo.edges(keys)
            # incremental loads go through the batched path, on either database alike
            more = _random_edges(random.Random(12), 200, 300)
            for store in (bulk, neo):
                store.upsert_edges(more)
                store.delete_source("s3")
            assert _snapshot(bulk) == _snapshot(neo)
            assert bulk.counts() == neo.counts()
            # the running server's database is in use: first_load takes the batched path
            bulk.clear()
            report = first_load(bulk, nodes, edges, admin=admin, directory=tmp_path / "csv2", env=env)
            assert report.method == "batched" and "in use" in report.reason, report
            neo.clear()
            neo.upsert_nodes(nodes)
            neo.upsert_edges(edges)
            assert _snapshot(bulk) == _snapshot(neo)
            # not empty, or no admin tool: batched, and the report says so
            assert (
                "already holds"
                in first_load(bulk, [], [], admin=admin, directory=tmp_path / "csv3").reason
            )
            assert first_load(neo, [], [], admin=None, directory=tmp_path / "csv4").method == "batched"
    finally:
        pid = state / "neo4j.pid"
        if pid.exists():
            os.kill(int(pid.read_text().strip()), 15)


# -- the import files, read back without a server -------------------------------------------
def _read_import_files(directory: Path) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges back from the CSV files, by their headers (as neo4j-admin reads them)."""
    import csv
    import json

    from kgrag.graph.neo4j_import import ARRAY_DELIMITER
    from kgrag.graph.schema import Tier, with_frequency

    def rows(stem: str) -> Iterator[dict[str, str]]:
        for path in sorted(directory.glob(f"{stem}-*.csv")):
            with path.open(encoding="utf-8", newline="") as f:
                yield from csv.DictReader(f)

    def props(row: dict[str, str]) -> dict[str, object]:
        return {k[2:]: json.loads(v) for k, v in row.items() if k.startswith("p.") and v != ""}

    def array(v: str) -> tuple[str, ...]:
        return tuple(v.split(ARRAY_DELIMITER)) if v else ()

    nodes = [
        Node(
            id=r["id:ID"],
            label=Label(r["label"]),
            name=r["name"],
            tier=Tier(r["tier"]) if r["tier"] else None,
            kind=r["kind"] or None,
            codes=array(r["codes:string[]"]),
            props=props(r),
            sources=array(r["sources:string[]"]),
        )
        for r in rows("nodes")
    ]
    claims: dict[tuple[str, str, str], list[Claim]] = {}
    for r in rows("claims"):
        assert json.loads(r["id:ID(KgClaim)"])[:3] == [r["src"], r["type"], r["dst"]]
        claims.setdefault((r["src"], r["type"], r["dst"]), []).append(
            Claim.model_validate_json(r["claim"])
        )
    edges = []
    for r in rows("edges"):
        key = (r[":START_ID"], r[":TYPE"], r[":END_ID"])
        held = sorted(claims[key], key=lambda c: (c.source, c.key()))
        cached = array(r["claims:string[]"])
        assert (r["spilled:boolean"] == "true") == (len(held) > CAP)
        expected = [] if len(held) > CAP else sorted(c.model_dump_json() for c in held)
        assert sorted(cached) == expected  # the relationship's cache: all claims, or none
        typ = EdgeType(key[1])
        edges.append(
            Edge(
                src=key[0],
                type=typ,
                dst=key[2],
                props=with_frequency(typ, props(r), held),
                claims=tuple(held),
            )
        )
    return nodes, edges


def test_import_files_hold_the_store_exactly(tmp_path: Path) -> None:
    """`kgrag graph neo4j-import` without an admin tool: the files, read back by their
    headers, hold every node and edge of the knowledge base (claims past the cap only in
    the claims file); the command to run is printed."""
    import json

    from typer.testing import CliRunner

    from kgrag.cli import app

    with SqliteGraphStore(tmp_path / "kb") as lite:
        lite.upsert_nodes(_nodes(120))
        lite.upsert_nodes(
            [Node(id="doc:1", label=Label.DOCUMENT, name='a "quoted", name\nline', sources=("s1",))]
        )
        lite.upsert_edges(_random_edges(random.Random(5), 120, 800))
        nodes = sorted(lite.iter_nodes(), key=lambda n: n.id)
        edges = _snapshot(lite)
    result = CliRunner().invoke(
        app,
        [
            "graph",
            "neo4j-import",
            "--store",
            str(tmp_path / "kb"),
            "--out",
            str(tmp_path / "csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["files"]["edges"] == len(edges) and report["files"]["graph_nodes"] == len(nodes)
    assert report["command"][:4] == ["neo4j-admin", "database", "import", "full"]
    back_nodes, back_edges = _read_import_files(tmp_path / "csv")
    assert sorted(back_nodes, key=lambda n: n.id) == nodes
    assert sorted(back_edges, key=lambda e: (e.src, e.type.value, e.dst)) == edges


@pytest.mark.parametrize("bad", ["a:b", "a,b", 'a"b', "a\nb"])
def test_import_refuses_what_a_csv_header_cannot_hold(tmp_path: Path, bad: str) -> None:
    from kgrag.errors import GraphWriteError
    from kgrag.graph.neo4j_import import write_import_files

    node = Node(id="C1", label=Label.CONCEPT, name="c", sources=("v",), props={bad: 1})
    with pytest.raises(GraphWriteError, match="batched path"):
        write_import_files([node], [], tmp_path)


def test_import_refuses_an_edge_given_twice(tmp_path: Path) -> None:
    from kgrag.errors import GraphWriteError
    from kgrag.graph.neo4j_import import write_import_files

    twice = [Edge(src="C0", type=H, dst="C1", claims=(Claim(source=s),)) for s in ("a", "b")]
    with pytest.raises(GraphWriteError, match="given twice"):
        write_import_files(_nodes(2), twice, tmp_path)
