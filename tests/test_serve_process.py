"""``kgrag serve`` and ``kgrag mcp`` as real processes: two workers over the small
knowledge base, killed with SIGKILL under load and restarted (same answers: the
knowledge base is read-only to the server); refusing to bind beyond loopback without a
key; the MCP server over stdio."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import serve_kb
from _interpreter import PYTHON, child_env

KEY = "process-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CLI = [PYTHON, "-m", "kgrag.cli"]


@pytest.fixture(scope="module")
def kb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve-proc")
    serve_kb.build(root)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(root: Path, **extra: str) -> dict[str, str]:
    out = {**child_env(), **serve_kb.env_for(root), **extra}
    out["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return out


def start(root: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env(root, KGRAG_SERVE_API_KEYS=KEY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: SIGKILL reaches every worker
    )


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready")


def answers(port: int) -> list[Any]:
    out = []
    for body in ({"text": serve_kb.CASE, "top_k": 5}, {"findings": [{"id": "HP:0012735"}]}):
        r = httpx.post(f"http://127.0.0.1:{port}/v1/diagnose", json=body, headers=AUTH, timeout=30)
        assert r.status_code == 200
        report = r.json()
        report.pop("timings_ms")
        out.append(report)
    return out


def test_kill_minus_nine_under_load_then_restart_same_answers(kb_root: Path) -> None:
    port = free_port()
    proc = start(kb_root, port, workers=2)
    try:
        wait_ready(port, proc)
        before = answers(port)
        stop = threading.Event()
        statuses: list[int | str] = []

        def load() -> None:
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    try:
                        r = client.post(
                            f"http://127.0.0.1:{port}/v1/retrieve",
                            json={"text": serve_kb.CASE},
                            headers=AUTH,
                        )
                        statuses.append(r.status_code)
                    except httpx.HTTPError as e:
                        statuses.append(type(e).__name__)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(10)
        assert statuses.count(200) > 5  # it was under load when killed
        assert set(statuses) <= {200, "ConnectError", "ReadError", "RemoteProtocolError", "ReadTimeout"}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    proc = start(kb_root, port, workers=1)
    try:
        wait_ready(port, proc)
        assert answers(port) == before
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_refuses_to_bind_beyond_loopback_without_a_key(kb_root: Path) -> None:
    r = subprocess.run(
        [*CLI, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env(kb_root),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "without an API key" in r.stderr


def test_mcp_over_stdio(kb_root: Path) -> None:
    import anyio
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=CLI[0], args=[*CLI[1:], "mcp"], env=env(kb_root))

    async def main() -> Any:
        async with Client(params) as client:
            result = await client.call_tool("diagnose", {"text": serve_kb.CASE, "top_k": 2})
            assert not result.is_error, result.content
            return result.structured_content

    out = anyio.run(main)
    assert out["candidates"][0]["name"] == "Dravet syndrome"


def test_workers_fork_from_one_load_and_a_dead_worker_is_replaced(kb_root: Path) -> None:
    """``--workers 2`` over an embedded store: the parent loads once and forks both workers
    (so they share its memory); a worker killed mid-life is forked again and serves the same
    answers."""
    import psutil

    port = free_port()
    proc = start(kb_root, port, workers=2)
    try:
        wait_ready(port, proc)
        before = answers(port)
        parent = psutil.Process(proc.pid)
        workers = parent.children()
        assert len(workers) == 2, workers  # forked from the loaded parent, not spawned anew
        workers[0].kill()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = parent.children()
            if len(now) == 2 and workers[0].pid not in {w.pid for w in now}:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"the killed worker was not replaced: {parent.children()}")
        wait_ready(port, proc)
        for _ in range(4):  # whichever worker takes each request
            assert answers(port) == before
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
