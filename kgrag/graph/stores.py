"""Open a graph store from a location: a directory (embedded) or a ``neo4j://`` URI."""

from __future__ import annotations

import os
from pathlib import Path

from kgrag.config import Settings, get_settings, kb_dir
from kgrag.graph.base import GraphStore


def open_store(
    location: str | Path | None = None, *, read_only: bool = False, settings: Settings | None = None
) -> GraphStore:
    """Open a graph store.

    Args:
        location: ``None`` for the default embedded knowledge base; a ``neo4j://`` or
            ``bolt://`` URI for Neo4j (credentials from ``KGRAG_NEO4J_USER`` /
            ``KGRAG_NEO4J_PASSWORD``); else a directory (created if missing, unless
            ``read_only``).
        read_only: open the embedded store for reading only.
        settings: where the default knowledge base is (default: :func:`get_settings`).

    Returns:
        A :class:`~kgrag.graph.base.GraphStore`; close it with ``close()``.

    Raises:
        GraphUnavailable: the server is down, the credentials are wrong, or a read-only
            directory holds no store.

    Example:
        >>> import kgrag
        >>> store = kgrag.open_store("/tmp/kgrag-example-kb")
        >>> store.counts().nodes.get("Concept", 0) >= 0
        True
        >>> store.close()
    """
    settings = settings or get_settings()
    where = str(location) if location is not None else str(kb_dir(settings))
    if where.startswith(("neo4j://", "neo4j+s://", "bolt://", "bolt+s://")):
        from kgrag.graph.neo4j_store import Neo4jGraphStore

        return Neo4jGraphStore(
            where,
            auth=(
                os.environ.get("KGRAG_NEO4J_USER", "neo4j"),
                os.environ.get("KGRAG_NEO4J_PASSWORD", ""),
            ),
        )
    from kgrag.graph.sqlite_store import SqliteGraphStore

    return SqliteGraphStore(where, read_only=read_only)
