"""Store faults found in review, reproduced: keys built from data (7), credentials in a store
URI (8), a Neo4j server that stops answering (9), and read failures as read errors.

The Neo4j tests run against the real server of ``KGRAG_TEST_NEO4J_URI``; a frozen server is
simulated by a TCP relay in front of it that stops passing bytes (the client sees exactly
what a ``SIGSTOP``-ed server gives: an open connection that never answers), and by a socket
that accepts and never speaks. Nothing here stops the shared server itself.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgrag.config import Settings, redact, split_credentials
from kgrag.errors import GraphError, GraphReadError, GraphUnavailable
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.graph.stores import open_store

H = EdgeType.HAS_FINDING
SECRET = "Planted-Secret-7f3a9"


def _neo4j_uri() -> str:
    return os.environ["KGRAG_TEST_NEO4J_URI"]


def _open_neo4j(uri: str | None = None, **kw: float) -> GraphStore:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    return Neo4jGraphStore(
        uri or _neo4j_uri(),
        auth=(
            os.environ.get("KGRAG_TEST_NEO4J_USER", "neo4j"),
            os.environ.get("KGRAG_TEST_NEO4J_PASSWORD", ""),
        ),
        **kw,  # type: ignore[arg-type]
    )


# -- 7: keys built from data -------------------------------------------------------------
def _concepts() -> list[Node]:
    tiers = {"D1": Tier.DISEASE, "D2": Tier.DISEASE, **{f"F{k}": Tier.FINDING for k in range(1, 6)}}
    return [
        Node(id=i, label=Label.CONCEPT, name=i, tier=t, sources=("vocab",)) for i, t in tiers.items()
    ]


def _document(doc_id: str, findings: list[tuple[str, str]]) -> tuple[list[Node], list[Edge]]:
    """A document of one chunk citing ``findings`` (disease, finding), ids holding ``|``."""
    doc, chunk = f"doc:{doc_id}", f"chunk:{doc_id}#0"
    nodes = [
        Node(id=doc, label=Label.DOCUMENT, name=doc_id, sources=("notes",)),
        Node(id=chunk, label=Label.CHUNK, name=doc_id, sources=("notes",)),
    ]
    edges = [Edge(src=chunk, type=EdgeType.IN_DOCUMENT, dst=doc, claims=(Claim(source="notes"),))]
    for i, (d, f) in enumerate(findings):
        claim = Claim(source="notes", reference=chunk, start=10 * i, end=10 * i + 5)
        edges.append(Edge(src=d, type=H, dst=f, claims=(claim,)))
        edges.append(Edge(src=chunk, type=EdgeType.MENTIONS, dst=f, claims=(claim,)))
    return nodes, edges


def _change_a_document(store: GraphStore) -> None:
    """What an incremental corpus build does when a document changes: delete, rewrite."""
    store.upsert_nodes(_concepts())
    for doc_id, facts in (
        ("pmc|1|x", [("D1", "F1"), ("D1", "F2"), ("D2", "F3"), ("D2", "F4")]),
        ("other|2", [("D1", "F5")]),
    ):
        nodes, edges = _document(doc_id, facts)
        store.upsert_nodes(nodes)
        store.upsert_edges(edges)
    store.delete_documents(["doc:pmc|1|x"])  # the document changed: its old facts go
    nodes, edges = _document("pmc|1|x", [("D1", "F1")])
    store.upsert_nodes(nodes)
    store.upsert_edges(edges)


def _facts(store: GraphStore) -> set[tuple[str, str]]:
    return {(e.src, e.dst) for e in store.iter_edges([H])}


@pytest.mark.neo4j
def test_document_id_with_separator_leaves_no_stale_facts(tmp_path: Path) -> None:
    with SqliteGraphStore(tmp_path / "kb") as lite:
        _change_a_document(lite)
        expected, expected_counts = _facts(lite), lite.counts()
    assert expected == {("D1", "F1"), ("D1", "F5")}
    with _open_neo4j() as neo:
        neo.clear()  # type: ignore[attr-defined]
        try:
            _change_a_document(neo)
            assert _facts(neo) == expected  # no fact of the old version survives
            assert neo.counts().edges == expected_counts.edges
        finally:
            neo.clear()  # type: ignore[attr-defined]


def test_claim_keys_are_structured() -> None:
    """The same (source, reference) split differently at ``|`` is two different claims."""
    from kgrag.graph.neo4j_store import claim_key

    a = Claim(source="a|b", reference="c")
    b = Claim(source="a", reference="b|c")
    assert claim_key(a) != claim_key(b)
    assert Claim(source="s", reference="x|1").key() != Claim(source="s", reference="x", start=1).key()


# -- 8: credentials ----------------------------------------------------------------------
def test_redaction_helpers() -> None:
    uri = f"bolt://neo4j:{SECRET}@db.example:7687/x"
    assert SECRET not in redact(f"cannot reach {uri} (again: {uri})")
    assert redact("see bolt://db:7687 and me@example.org") == "see bolt://db:7687 and me@example.org"
    assert split_credentials(f"neo4j+s://u:p%40{SECRET}@h:1") == ("neo4j+s://h:1", ("u", f"p@{SECRET}"))
    assert split_credentials(f"bolt://neo4j:{SECRET}@x@h:1")[1] == ("neo4j", f"{SECRET}@x")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _texts(e: BaseException) -> str:
    """Every text an exception chain carries (messages, reprs, notes)."""
    out = []
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out += [str(cur), repr(cur), *getattr(cur, "__notes__", [])]
        cur = cur.__cause__ or cur.__context__
    return "\n".join(out)


def test_password_in_uri_never_printed(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    uri = f"bolt://neo4j:{SECRET}@127.0.0.1:{_closed_port()}"
    settings = Settings(cache_dir=tmp_path, neo4j_connect_timeout=3, neo4j_timeout=5)
    with pytest.raises(GraphUnavailable) as err:
        open_store(uri, settings=settings)
    assert "127.0.0.1" in str(err.value) and SECRET not in _texts(err.value)
    from kgrag.cli import app

    for args in (
        ["diagnose", "fever and cough", "--store", uri],
        ["build", "--store", uri],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0
        shown = result.output + (_texts(result.exception) if result.exception else "")
        assert SECRET not in shown, args
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err
    assert SECRET not in caplog.text


@pytest.mark.neo4j
def test_password_in_uri_used_not_printed(caplog: pytest.LogCaptureFixture) -> None:
    """Against the real server: the URI's credentials are used, and no message, exception
    or log line (the driver's debug log included) shows the password."""
    caplog.set_level(logging.DEBUG)
    host = _neo4j_uri().split("://", 1)[1]
    with open_store(f"bolt://neo4j:{SECRET}@{host}") as store:
        assert SECRET not in str(getattr(store, "uri", ""))
        store.counts()
    assert SECRET not in caplog.text


# -- 9: a server that stops answering ----------------------------------------------------
@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections and never sends a byte."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield int(srv.getsockname()[1])
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_silent_server_ends_in_graph_unavailable(silent_server: int) -> None:
    t0 = time.monotonic()
    with pytest.raises(GraphUnavailable, match=r"127\.0\.0\.1"):
        _open_neo4j(f"bolt://127.0.0.1:{silent_server}", timeout=2, connect_timeout=2)
    assert time.monotonic() - t0 < 15


class FreezableRelay:
    """A TCP relay to the real Neo4j that can stop passing bytes (a frozen server)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.frozen = threading.Event()
        self.stop = threading.Event()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.srv.settimeout(0.2)
        self.port = int(self.srv.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                client = self.srv.accept()[0]
            except OSError:
                continue
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        a.settimeout(0.2)
        while not self.stop.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            try:
                data = a.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set() and not self.stop.is_set():
                time.sleep(0.05)  # frozen mid-message: hold the bytes
            try:
                b.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        for s in (*self.sockets, self.srv):
            s.close()


@pytest.mark.neo4j
def test_frozen_neo4j_mid_session_ends_in_graph_unavailable() -> None:
    host, _, port = _neo4j_uri().split("://", 1)[1].rstrip("/").partition(":")
    relay = FreezableRelay(host, int(port or 7687))
    try:
        store = _open_neo4j(f"bolt://127.0.0.1:{relay.port}", timeout=3, connect_timeout=3)
        store.clear()  # type: ignore[attr-defined]
        store.upsert_nodes(_concepts())
        assert store.counts().nodes == {"Concept": 7}
        relay.frozen.set()
        for call in (
            store.counts,
            lambda: store.get_nodes(["D1"]),
            lambda: list(store.iter_nodes()),
            lambda: store.upsert_nodes(_concepts()),
            lambda: store.neighbours("D1"),
        ):
            t0 = time.monotonic()
            frozen = r"did not answer|sent nothing|timed out|lost the connection"
            with pytest.raises(GraphUnavailable, match=frozen):
                call()
            assert time.monotonic() - t0 < 10
        t0 = time.monotonic()
        store.close()  # bounded too
        assert time.monotonic() - t0 < 10
    finally:
        relay.close()
        with _open_neo4j() as cleaner:
            cleaner.clear()  # type: ignore[attr-defined]


# -- read failures are read errors -------------------------------------------------------
def test_corrupt_sqlite_read_is_graph_read_error(tmp_path: Path) -> None:
    with SqliteGraphStore(tmp_path / "kb") as store:
        store.upsert_nodes(_concepts())
    path = tmp_path / "kb" / "graph.sqlite"
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : len(data)] = b"\xa5" * (len(data) - page)  # every page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(GraphError) as err, SqliteGraphStore(tmp_path / "kb", read_only=True) as s:
        list(s.iter_nodes())
    assert isinstance(err.value, GraphReadError | GraphUnavailable)
    assert isinstance(err.value.__cause__, sqlite3.DatabaseError)


@pytest.mark.neo4j
def test_neo4j_refused_read_is_graph_read_error() -> None:
    with _open_neo4j() as store, pytest.raises(GraphReadError):
        store.cypher("RETURN 1 +", read=True)  # type: ignore[attr-defined]
