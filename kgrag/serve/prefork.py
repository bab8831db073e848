"""Workers forked from one loaded process (``kgrag serve --workers N`` over an embedded store).

The parent loads the knowledge base once (concept table, linker, diagnostic model, passage
index), freezes the garbage collector's view of it (so the workers' collections do not touch,
and so copy, its pages), binds the socket and forks the workers, which serve from the parent's
memory copy-on-write: a second worker costs its own request state, not a second knowledge
base. A worker that dies is forked again from the loaded parent; SIGTERM or SIGINT stops them
all (``GRACE_S`` seconds to finish their requests, then SIGKILL). A Neo4j-backed store keeps
uvicorn's own workers (a driver must not cross a fork).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kgrag.serve.config import ServeConfig

logger = logging.getLogger(__name__)

GRACE_S = 15  # seconds workers get to finish their requests after SIGTERM, then SIGKILL


def _serve_child(config: ServeConfig, sock: socket.socket, service: object) -> None:
    """One worker: the app over the parent's loaded service, on the shared socket."""
    import uvicorn

    from kgrag.serve.app import create_app
    from kgrag.serve.service import KnowledgeService

    assert isinstance(service, KnowledgeService)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app = create_app(config, service)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=GRACE_S - 5,
            lifespan="on",
        )
    )
    server.run(sockets=[sock])


def run_prefork(config: ServeConfig) -> None:
    """Load once, fork ``config.workers`` workers on one socket, keep them running.

    Args:
        config: the server's settings (host, port, workers, store, ...).
    """
    from kgrag.serve.service import KnowledgeService

    started = time.perf_counter()
    service = KnowledgeService(config.store, torch_threads=config.torch_threads)
    # one attempt: a failure (a build running, a damaged artifact) is kept for /readyz and each
    # worker's loader retries it, so the server binds and says why instead of waiting here
    service._load_once()
    logger.info(
        "knowledge base loaded before forking",
        extra={"seconds": round(time.perf_counter() - started, 2)},
    )
    gc.collect()
    gc.freeze()  # the loaded objects: never scanned (nor their pages copied) by the workers' GC
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    children: set[int] = set()
    stopping = False

    def fork_one() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                _serve_child(config, sock, service)
            finally:
                os._exit(0)
        children.add(pid)

    def send(sig: int) -> None:
        for pid in list(children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                children.discard(pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:  # workers finish their requests; any left after the grace are killed
            signal.signal(signal.SIGALRM, lambda *_: send(signal.SIGKILL))
            signal.alarm(GRACE_S)
        stopping = True
        send(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(config.workers):
        fork_one()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        children.discard(pid)
        if not stopping:
            logger.warning("worker %d ended (status %d); forking another", pid, status)
            time.sleep(0.5)
            fork_one()
    sock.close()
    service.close()
