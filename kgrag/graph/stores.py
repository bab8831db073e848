"""Open a graph store from a location: a directory (embedded) or a ``neo4j://`` URI."""

from __future__ import annotations

import os
from pathlib import Path

from kgrag.config import Settings, get_settings, kb_dir, split_credentials
from kgrag.graph.base import GraphStore


def open_store(
    location: str | Path | None = None, *, read_only: bool = False, settings: Settings | None = None
) -> GraphStore:
    """Open the graph store at ``location``.

    Args:
        location: None for the default embedded knowledge base; a ``neo4j://`` or
            ``bolt://`` URI (``+s`` for TLS) for Neo4j, credentials from its
            ``user:password@`` part, else from ``KGRAG_NEO4J_USER`` /
            ``KGRAG_NEO4J_PASSWORD`` (never printed); anything else is a directory.
        read_only: open the embedded store read-only (Neo4j ignores it).
        settings: timeouts and the default location (default: the process settings).

    Returns:
        The store; use it as a context manager (``with open_store() as g:``) to close it.

    Raises:
        GraphUnavailable: the store cannot be opened or reached.

    Examples:
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

        _, in_uri = split_credentials(where)
        return Neo4jGraphStore(
            where,
            auth=in_uri
            or (
                os.environ.get("KGRAG_NEO4J_USER", "neo4j"),
                os.environ.get("KGRAG_NEO4J_PASSWORD", ""),
            ),
            settings=settings,
        )
    from kgrag.graph.sqlite_store import SqliteGraphStore

    return SqliteGraphStore(where, read_only=read_only)
