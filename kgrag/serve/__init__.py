"""The retrieval sidecar.

A REST API with OpenAPI (FastAPI), an MCP server (the ``mcp`` SDK), and a web page, over one loaded
knowledge base (``kgrag serve``, ``kgrag mcp``).

Needs the ``serve`` extra: ``pip install "kgrag[serve]"``.
"""

from __future__ import annotations

__all__ = ["ServeConfig", "create_app"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgrag.serve.app import create_app
    from kgrag.serve.config import ServeConfig


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kgrag.serve.app import create_app

        return create_app
    if name == "ServeConfig":
        from kgrag.serve.config import ServeConfig

        return ServeConfig
    raise AttributeError(name)
