"""The Neo4j store (official ``neo4j`` driver): constraints created idempotently, batched
``UNWIND`` writes in managed transactions (retried by the driver on transient errors),
parameters only. All Cypher lives in :mod:`kgrag.graph.neo4j_queries`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from kgrag.errors import GraphUnavailable, GraphWriteError, MissingExtraError
from kgrag.graph import neo4j_queries as q
from kgrag.graph.base import Direction
from kgrag.graph.schema import Claim, Edge, EdgeType, GraphCounts, Label, Node, Tier
from kgrag.graph.traversal import EdgeKey, Traversal

logger = logging.getLogger(__name__)


def _node(r: dict[str, Any]) -> Node:
    return Node(
        id=r["id"],
        label=Label(r["label"]),
        name=r["name"] or "",
        tier=Tier(r["tier"]) if r["tier"] else None,
        kind=r["kind"],
        codes=tuple(r["codes"] or ()),
        props=json.loads(r["props"] or "{}"),
        sources=tuple(r["sources"] or ()) or ("?",),
    )


def _removed(edges: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "claims": int(edges[0]["claims"] or 0) if edges else 0,
        "edges": int(edges[0]["edges"] or 0) if edges else 0,
        "nodes": int(nodes[0]["nodes"]) if nodes else 0,
    }


def _edge(r: dict[str, Any]) -> Edge:
    return Edge(
        src=r["src"],
        type=EdgeType(r["type"]),
        dst=r["dst"],
        props=json.loads(r["props"] or "{}"),
        claims=tuple(Claim.model_validate_json(c) for c in r["claims"]),
    )


class Neo4jGraphStore(Traversal):
    name = "kgrag.Neo4jGraphStore.v1"

    def __init__(
        self,
        uri: str,
        *,
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        batch_size: int = 2000,
    ) -> None:
        try:
            import neo4j
            from neo4j import exceptions as nx
        except ImportError as e:
            raise MissingExtraError("neo4j", "neo4j", "The Neo4j graph store") from e
        self._nx = nx
        self.uri = uri
        self.database = database
        self.batch_size = batch_size
        try:
            self.driver = neo4j.GraphDatabase.driver(uri, auth=auth if auth and auth[1] else None)
            self.driver.verify_connectivity()
            for statement in q.CONSTRAINTS:
                self._run(statement)
        except (nx.ServiceUnavailable, nx.AuthError, nx.ConfigurationError, ValueError) as e:
            raise GraphUnavailable(
                f"cannot reach Neo4j at {uri}: {e}. Is the server running, "
                "and are KGRAG_NEO4J_USER/KGRAG_NEO4J_PASSWORD right?"
            ) from e

    # -- plumbing ------------------------------------------------------------------------
    def _run(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        try:
            records, _, _ = self.driver.execute_query(statement, params, database_=self.database)
        except self._nx.ServiceUnavailable as e:
            raise GraphUnavailable(f"lost the connection to Neo4j at {self.uri}: {e}") from e
        except self._nx.Neo4jError as e:
            raise GraphWriteError(f"Neo4j refused a statement: {e}") from e
        return [r.data() for r in records]

    def cypher(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """Run one statement from :mod:`kgrag.graph.neo4j_queries`, values as parameters."""
        return self._run(statement, **params)

    def _write_batches(self, statement: str, rows: Iterable[dict[str, Any]]) -> int:
        total = 0
        it = iter(rows)
        while batch := list(islice(it, self.batch_size)):
            self._run(statement, rows=batch)
            total += len(batch)
        return total

    # -- writes --------------------------------------------------------------------------
    def upsert_nodes(self, nodes: Iterable[Node]) -> int:
        return self._write_batches(
            q.UPSERT_NODES,
            (
                {
                    "id": n.id,
                    "label": n.label.value,
                    "name": n.name,
                    "tier": n.tier.value if n.tier else None,
                    "kind": n.kind,
                    "codes": list(n.codes),
                    "props": json.dumps(n.props),
                    "sources": list(n.sources),
                }
                for n in nodes
            ),
        )

    def upsert_edges(self, edges: Iterable[Edge]) -> int:
        count = 0
        by_type: dict[EdgeType, list[dict[str, Any]]] = {}
        for e in edges:
            count += 1
            rows = by_type.setdefault(e.type, [])
            for c in e.claims:
                rows.append(
                    {
                        "src": e.src,
                        "dst": e.dst,
                        "props": json.dumps(e.props),
                        "claim": c.model_dump_json(),
                        "claim_source": c.source,
                        "claim_key": f"{c.source}|{c.key()}",
                    }
                )
            if len(rows) >= self.batch_size:
                self._write_batches(q.UPSERT_EDGES[e.type], rows)
                rows.clear()
        for typ, rows in by_type.items():
            self._write_batches(q.UPSERT_EDGES[typ], rows)
        return count

    def delete_source(self, source: str) -> dict[str, int]:
        edges = self._run(q.DELETE_SOURCE_CLAIMS, source=source)
        nodes = self._run(q.DELETE_SOURCE_NODES, source=source)
        return _removed(edges, nodes)

    def delete_documents(self, document_ids: Iterable[str]) -> dict[str, int]:
        parts = self._run(q.DOCUMENT_PARTS, ids=list(dict.fromkeys(document_ids)))
        refs = [r["id"] for r in parts] + [c for r in parts for c in r["chunks"]]
        if not refs:
            return {"claims": 0, "edges": 0, "nodes": 0}
        sources = sorted({s for r in parts for s in r["sources"] or []})
        edges = self._run(q.DELETE_REFERENCED_CLAIMS, sources=sources, refs=refs)
        nodes = self._run(q.DELETE_NODES, ids=refs)
        return _removed(edges, nodes)

    def set_meta(self, key: str, value: str) -> None:
        self._run(q.SET_META, key=key, value=value)

    def get_meta(self, key: str) -> str | None:
        rows = self._run(q.GET_META, key=key)
        return str(rows[0]["value"]) if rows else None

    def clear(self) -> None:
        """Delete every kgrag node and meta entry (tests; rebuilding from scratch)."""
        with self.driver.session(database=self.database) as session:
            session.run(q.CLEAR).consume()

    # -- the traversal primitives --------------------------------------------------------
    def _nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        return {r["id"]: _node(r) for r in self._run(q.GET_NODES, ids=ids)}

    def _stream(self, statement: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Records one by one from an open session (bulk reads do not fit in a list)."""
        try:
            with self.driver.session(database=self.database) as session:
                for record in session.run(statement, params):
                    yield record.data()
        except self._nx.ServiceUnavailable as e:
            raise GraphUnavailable(f"lost the connection to Neo4j at {self.uri}: {e}") from e

    def iter_nodes(self, label: Label | None = None) -> Iterator[Node]:
        for r in self._stream(q.ALL_NODES, label=label.value if label else None):
            yield _node(r)

    def iter_edges(self, types: Sequence[EdgeType] | None = None) -> Iterator[Edge]:
        names = [t.value for t in types] if types else None
        for r in self._stream(q.ALL_EDGES, types=names):
            if r["claims"]:
                yield _edge(r)

    def _adjacent(
        self,
        node_ids: Sequence[str],
        types: Sequence[EdgeType] | None,
        direction: Direction,
        limit: int | None = None,
    ) -> list[EdgeKey]:
        names = [t.value for t in types] if types else None
        out: list[EdgeKey] = []
        if direction in ("out", "both"):
            out += [
                (r["src"], r["type"], r["dst"])
                for r in self._run(q.OUT_EDGES, ids=list(node_ids), types=names)
            ]
        if direction in ("in", "both"):
            out += [
                (r["src"], r["type"], r["dst"])
                for r in self._run(q.IN_EDGES, ids=list(node_ids), types=names)
            ]
        return out[:limit] if limit is not None else out

    def _edges(self, keys: Iterable[EdgeKey]) -> list[Edge]:
        wanted = list(keys)
        if not wanted:
            return []
        rows = self._run(q.GET_EDGES, keys=[list(k) for k in wanted])
        by_key = {(r["src"], r["type"], r["dst"]): r for r in rows}
        out = []
        for src, typ, dst in wanted:
            r = by_key.get((src, typ, dst))
            if r and r["claims"]:
                out.append(_edge(r))
        return out

    def _walk(self, node_id: str, max_depth: int, up: bool) -> list[tuple[Node, int]]:
        depth: dict[str, int] = {node_id: 0}
        frontier = [node_id]
        for level in range(1, max_depth + 1):
            keys = self._adjacent(frontier, [EdgeType.IS_A], "out" if up else "in")
            nxt = [k[2] if up else k[0] for k in keys]
            frontier = [n for n in dict.fromkeys(nxt) if n not in depth]
            for n in frontier:
                depth[n] = level
            if not frontier:
                break
        nodes = self._nodes(i for i in depth if i != node_id)
        ranked = sorted(((d, i) for i, d in depth.items() if i in nodes))
        return [(nodes[i], d) for d, i in ranked]

    def ancestors(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]:
        return self._walk(node_id, max_depth, up=True)

    def descendants(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]:
        return self._walk(node_id, max_depth, up=False)

    def counts(self) -> GraphCounts:
        def table(statement: str) -> dict[str, int]:
            return {str(r["key"]): int(r["n"]) for r in self._run(statement)}

        sources = self._run(q.COUNT_SOURCES)
        return GraphCounts(
            nodes=table(q.COUNT_NODES),
            edges=table(q.COUNT_EDGES),
            tiers=table(q.COUNT_TIERS),
            sources=int(sources[0]["n"]) if sources else 0,
        )

    def close(self) -> None:
        self.driver.close()
