"""Open a graph store from a location: a directory (embedded) or a ``neo4j://`` URI."""

from __future__ import annotations

import os
from pathlib import Path

from kgrag.config import Settings, get_settings, kb_dir
from kgrag.graph.base import GraphStore


def open_store(
    location: str | Path | None = None, *, read_only: bool = False, settings: Settings | None = None
) -> GraphStore:
    """``None`` -> the default embedded knowledge base; ``neo4j://``/``bolt://`` -> Neo4j
    (credentials from ``KGRAG_NEO4J_USER`` / ``KGRAG_NEO4J_PASSWORD``); else a directory."""
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
