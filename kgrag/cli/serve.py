"""``kgrag serve`` and ``kgrag mcp``.

``serve`` runs the HTTP sidecar (REST, MCP over HTTP, the web page); ``mcp`` the MCP server over
stdio.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from kgrag.cli._output import cli_errors


def _env(**values: object) -> None:
    """Pass options to uvicorn's workers through ``KGRAG_SERVE_*`` environment variables.

    Each worker builds its app from the environment.
    """
    from kgrag.serve.config import ENV_PREFIX

    for key, value in values.items():
        if value is not None:
            os.environ[ENV_PREFIX + key.upper()] = str(value)


def serve(
    host: str | None = typer.Option(
        None, "--host", help="interface (default 127.0.0.1); beyond loopback an API key is required"
    ),
    port: int | None = typer.Option(None, "--port", "-p", min=1, max=65535, help="default 8765"),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, max=64, help="worker processes"),
    store: str | None = typer.Option(None, "--store", help="knowledge base: directory or neo4j://"),
    api_key_file: Path | None = typer.Option(
        None, "--api-key-file", help="one key per line (or KGRAG_SERVE_API_KEYS=k1,k2)", dir_okay=False
    ),
    log_level: str | None = typer.Option(None, "--log-level", help="default INFO"),
) -> None:
    """Serve the knowledge base over HTTP: /v1 REST API, /docs, /mcp/, the page at /.

    Options not given come from ``KGRAG_SERVE_*`` (e.g. ``KGRAG_SERVE_API_KEYS``).
    """
    with cli_errors():  # a missing extra is one line saying what to install, not a traceback
        try:
            import uvicorn

            from kgrag.serve.config import load_config
        except ImportError as e:  # depends on the install
            from kgrag.errors import MissingExtraError

            raise MissingExtraError(e.name or "fastapi", "serve", "kgrag serve") from e
        from kgrag.serve.logs import configure

        _env(
            host=host,
            port=port,
            workers=workers,
            store=store,
            api_key_file=api_key_file,
            log_level=log_level,
        )
        config = load_config()
        config.check()  # refuse before binding, not in each worker
        configure(config.log_level)
        if config.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kgrag-metrics-")
        # embedded store: load once, fork the workers (they share its memory)
        if config.workers > 1 and hasattr(os, "fork") and "://" not in (config.store or ""):
            from kgrag.serve.prefork import run_prefork

            run_prefork(config)
            return
        uvicorn.run(
            "kgrag.serve.app:app_from_env",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            timeout_worker_healthcheck=config.worker_healthcheck_s,
        )


def mcp(
    store: str | None = typer.Option(None, "--store", help="knowledge base: directory or neo4j://"),
    log_level: str = typer.Option("WARNING", "--log-level"),
) -> None:
    """Serve the MCP tools over stdio (for agent frameworks that launch a command)."""
    with cli_errors():
        try:
            import mcp as _mcp  # noqa: F401

            from kgrag.serve.config import load_config
            from kgrag.serve.logs import configure
        except ImportError as e:  # depends on the install
            from kgrag.errors import MissingExtraError

            raise MissingExtraError(e.name or "mcp", "serve", "kgrag mcp") from e
    from kgrag.serve.mcp_server import build_mcp
    from kgrag.serve.service import KnowledgeService

    with cli_errors():
        configure(log_level)  # stderr: stdout carries the protocol
        config = load_config(store=store)
        service = KnowledgeService(
            config.store, torch_threads=config.torch_threads, timeout_s=config.request_timeout_s
        )
        service.load()
        if not service.loaded:
            from kgrag.errors import RetrievalError

            raise RetrievalError(f"the knowledge base did not load: {service.error}")
        build_mcp(service, config).run("stdio")
