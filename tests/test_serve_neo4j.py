"""A Neo4j-backed server losing its graph: the small knowledge base built into the real
test Neo4j, served through a TCP relay that the test cuts and restores (the shared test
server itself keeps running). While cut, ``/readyz`` is 503 and requests get a clear 503
at once (not a hang); restored, it serves the same answers again."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import serve_kb
from fastapi.testclient import TestClient

from kgrag.serve.app import create_app
from kgrag.serve.config import ServeConfig
from kgrag.serve.service import KnowledgeService

pytestmark = pytest.mark.neo4j


class Relay:
    """A TCP relay on 127.0.0.1:``port`` to ``target``; ``cut()`` closes the listener and
    every connection, ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.conns: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        self.port = s.getsockname()[1]
        s.listen(64)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                with contextlib.suppress(OSError):
                    x.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        assert self.listener is not None
        with contextlib.suppress(OSError):  # shutdown wakes the thread blocked in accept()
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.conns.clear()


@pytest.fixture()
def relay() -> Iterator[Relay]:
    target = urlparse(os.environ["KGRAG_TEST_NEO4J_URI"])
    r = Relay((target.hostname or "127.0.0.1", target.port or 7687))
    yield r
    r.cut()


def test_neo4j_outage_gives_503_and_recovers(relay: Relay, tmp_path: Path) -> None:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    uri = f"bolt://127.0.0.1:{relay.port}"  # bolt: direct, so every connection goes through the relay
    auth = (os.environ.get("KGRAG_NEO4J_USER", "neo4j"), os.environ.get("KGRAG_NEO4J_PASSWORD", ""))
    store = Neo4jGraphStore(uri, auth=auth)
    store.clear()
    try:
        serve_kb.build(tmp_path, store)
        svc = KnowledgeService(uri, settings=serve_kb.settings_for(tmp_path))
        with TestClient(create_app(ServeConfig(request_timeout_s=20), svc)) as c:
            deadline = time.monotonic() + 60
            while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            ok = c.post("/v1/diagnose", json={"text": serve_kb.CASE, "top_k": 3})
            assert ok.status_code == 200, ok.text
            before = ok.json()["candidates"]

            relay.cut()
            t0 = time.monotonic()
            r = c.get("/readyz")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            r = c.post("/v1/diagnose", json={"text": serve_kb.CASE, "top_k": 3})
            assert r.status_code == 503 and r.json()["error"] == "graph_unavailable"
            assert "retry-after" in r.headers
            assert time.monotonic() - t0 < 10  # answered, not hung on the driver's retries

            relay.restore()
            deadline = time.monotonic() + 30
            while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            r = c.post("/v1/diagnose", json={"text": serve_kb.CASE, "top_k": 3})
            assert r.status_code == 200, r.text
            assert r.json()["candidates"] == before
    finally:
        store.close()
        direct = Neo4jGraphStore(os.environ["KGRAG_TEST_NEO4J_URI"], auth=auth)
        direct.clear()
        direct.close()
