"""The Neo4j store (official ``neo4j`` driver).

Constraints created idempotently, batched ``UNWIND`` writes in managed transactions (retried by the
driver on transient errors), parameters only. All Cypher lives in :mod:`kgrag.graph.neo4j_queries`.

Layout: a node or relationship keeps each prop as its own property ``p.<key>`` holding
the JSON of the value (so an upsert merges props key by key with ``SET += ``, as
:func:`~kgrag.graph.schema.merge_props` says).

Claims live in a claims table: one ``:KgClaim`` node per claim, keyed by ``id`` (the JSON
array ``[src, type, dst, source, reference, start, end]``, compared whole, never split;
uniqueness constraint ``kg_claim_id``) with ``src``, ``type``, ``dst`` (composite index
``kg_claim_edge``), ``source``, ``ref`` (indexes) and ``claim`` (the Claim's JSON). A
relationship keeps at most :data:`~kgrag.graph.neo4j_queries.CLAIMS_ON_RELATIONSHIP` claims
in its ``claims`` list, a read cache refreshed with bounded work on each upsert; an edge
with more claims keeps none there (``spilled``) and reads them from the table. So adding a
claim never rewrites the edge's other claims: a hot edge of k claims costs O(k) whether it
arrives whole or claim by claim (``tests/test_neo4j_load.py``). Readers return an edge's
claims sorted by ``(source, key)``, the order of the embedded store.

Writes: rows are taken in windows of :data:`WRITE_WINDOW`; repeated upserts of one edge in
a window are merged first (props key by key in order, a later claim replacing an earlier
one with the same key). With ``write_workers`` > 1 the window is split by
:mod:`kgrag.graph.neo4j_batches` into waves of batches that touch disjoint nodes, and a
wave's batches run concurrently in a small thread pool (one session each), so they never
deadlock on node locks; ``write_workers=1`` writes the same batches one after another.

Every call is bounded: connections and pool acquisition by ``neo4j_connect_timeout``, each
statement (and each wait for the next streamed records) by ``neo4j_timeout``, both from
:class:`~kgrag.config.Settings`. A server that does not answer in time (stopped, frozen,
a socket that accepts and never speaks) ends the call in
:class:`~kgrag.errors.GraphUnavailable`. Credentials never appear in a message: a URI's
userinfo is taken out before the driver sees it and every text is passed through
:func:`~kgrag.config.redact`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from kgrag.config import Settings, get_settings, redact, split_credentials
from kgrag.errors import (
    GraphError,
    GraphReadError,
    GraphUnavailable,
    GraphWriteError,
    MissingExtraError,
)
from kgrag.graph import neo4j_queries as q
from kgrag.graph.base import Direction
from kgrag.graph.neo4j_batches import edge_waves, node_groups
from kgrag.graph.schema import (
    Claim,
    Edge,
    EdgeType,
    GraphCounts,
    Label,
    Node,
    Tier,
    with_frequency,
)
from kgrag.graph.traversal import EdgeKey, Traversal

logger = logging.getLogger(__name__)

T = TypeVar("T")
PROP_PREFIX = "p."
_STREAM_CHUNK = 1000  # records handed over per queue item
#: rows (nodes, or edges with their claims) read from an upsert's input before writing
WRITE_WINDOW = 50_000


def encode_props(props: dict[str, Any]) -> dict[str, str | None]:
    """Props as the ``p:<key>`` properties an upsert sets (None removes the property)."""
    return {PROP_PREFIX + k: None if v is None else json.dumps(v) for k, v in props.items()}


def decode_props(pairs: Sequence[Sequence[Any]] | None) -> dict[str, Any]:
    """Props back from the ``[[key, json], ...]`` pairs the read statements return."""
    return {str(k): json.loads(v) for k, v in pairs or ()}


def claim_key(c: Claim) -> str:
    """A claim's structured key on its relationship: the JSON array of its identity."""
    return json.dumps(list(c.identity()))


def claim_id(src: str, typ: EdgeType, dst: str, c: Claim) -> str:
    """A claim's id in the claims table: the JSON array of its edge key and its identity."""
    return json.dumps([src, typ.value, dst, *c.identity()])


def _claim_order(c: Claim) -> tuple[str, str]:
    return (c.source, c.key())


def _node(r: dict[str, Any]) -> Node:
    return Node(
        id=r["id"],
        label=Label(r["label"]),
        name=r["name"] or "",
        tier=Tier(r["tier"]) if r["tier"] else None,
        kind=r["kind"],
        codes=tuple(r["codes"] or ()),
        props=decode_props(r["props"]),
        sources=tuple(r["sources"] or ()) or ("?",),
    )


def _removed(edges: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "claims": int(edges[0]["claims"] or 0) if edges else 0,
        "edges": int(edges[0]["edges"] or 0) if edges else 0,
        "nodes": int(nodes[0]["nodes"]) if nodes else 0,
    }


def _edge(r: dict[str, Any]) -> Edge:
    typ = EdgeType(r["type"])
    claims = tuple(sorted((Claim.model_validate_json(c) for c in r["claims"]), key=_claim_order))
    return Edge(
        src=r["src"],
        type=typ,
        dst=r["dst"],
        props=with_frequency(typ, decode_props(r["props"]), claims),
        claims=claims,
    )


def _node_row(n: Node) -> dict[str, Any]:
    return {
        "id": n.id,
        "label": n.label.value,
        "name": n.name,
        "tier": n.tier.value if n.tier else None,
        "kind": n.kind,
        "codes": list(n.codes),
        "props": encode_props(n.props),
        "sources": list(n.sources),
    }


def _edge_rows(edges: Sequence[Edge]) -> list[dict[str, Any]]:
    """One write row per distinct edge, in first-seen order.

    Repeated upserts of an edge merge as the store would apply them one after another: props
    key by key (a later value, None included, replaces an earlier one), a later claim
    replacing an earlier one with the same key.
    """
    merged: dict[tuple[str, str, str], tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}
    for e in edges:
        props, claims = merged.setdefault((e.src, e.type.value, e.dst), ({}, {}))
        props.update(encode_props(e.props))
        for c in e.claims:
            cid = claim_id(e.src, e.type, e.dst, c)
            claims.pop(cid, None)  # a replaced claim moves to the end, as in order applied
            claims[cid] = {
                "id": cid,
                "source": c.source,
                "ref": c.reference or "",
                "claim": c.model_dump_json(),
            }
    return [
        {
            "src": src,
            "type": typ,
            "dst": dst,
            "props": props,
            "claims": list(claims.values()),
            "cached": [c["claim"] for c in claims.values()]
            if len(claims) <= q.CLAIMS_ON_RELATIONSHIP
            else None,
            "spilled": len(claims) > q.CLAIMS_ON_RELATIONSHIP,
        }
        for (src, typ, dst), (props, claims) in merged.items()
    ]


class Neo4jGraphStore(Traversal):
    """A :class:`~kgrag.graph.base.GraphStore` in a Neo4j database (5.x or later).

    Args:
        uri: ``bolt://``, ``neo4j://`` (``+s`` for TLS); a ``user:password@`` in it is
            used as the credentials when ``auth`` is not given, and is never printed.
        auth: ``(user, password)``; an empty password means no authentication.
        database: the database name (None: the server's default).
        batch_size: rows per ``UNWIND`` write (an edge row holds all its claims).
        write_workers: concurrent write sessions for an upsert (batches partitioned so that
            no two running at once touch a node); 1 writes serially (default:
            ``Settings.neo4j_write_workers``, 2).
        timeout: seconds a statement may take (default: ``Settings.neo4j_timeout``).
        connect_timeout: seconds to connect or acquire a connection (default:
            ``Settings.neo4j_connect_timeout``).
        settings: where the defaults come from (default: the process settings).

    Raises:
        MissingExtraError: the ``neo4j`` driver is not installed.
        GraphUnavailable: the server cannot be reached in time or refuses the credentials.
    """

    name = "kgrag.Neo4jGraphStore.v3"

    def __init__(
        self,
        uri: str,
        *,
        auth: tuple[str, str] | None = None,
        database: str | None = None,
        batch_size: int = 2000,
        write_workers: int | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        settings: Settings | None = None,
    ) -> None:
        try:
            import neo4j
            from neo4j import exceptions as nx
        except ImportError as e:
            raise MissingExtraError("neo4j", "neo4j", "The Neo4j graph store") from e
        settings = settings or get_settings()
        self._neo4j = neo4j
        self._nx = nx
        self.uri, from_uri = split_credentials(uri)
        self.location = self.uri
        self.directory: Path | None = None
        auth = auth if auth is not None else from_uri
        self.database = database
        self.batch_size = batch_size
        self.write_workers = max(
            1, write_workers if write_workers is not None else settings.neo4j_write_workers
        )
        self.timeout = float(timeout if timeout is not None else settings.neo4j_timeout)
        connect = float(
            connect_timeout if connect_timeout is not None else settings.neo4j_connect_timeout
        )
        self.connect_timeout = connect
        try:
            self.driver = neo4j.GraphDatabase.driver(
                self.uri,
                auth=auth if auth and auth[1] else None,
                connection_timeout=connect,
                connection_acquisition_timeout=connect,
                max_transaction_retry_time=min(30.0, self.timeout),
                notifications_min_severity="OFF",  # e.g. "property key does not exist" after an import
            )
        except (nx.ConfigurationError, ValueError) as e:
            raise GraphUnavailable(f"cannot use the Neo4j address {self.uri}: {redact(str(e))}") from e
        try:
            self._bounded(self.driver.verify_connectivity, connect + self.timeout)
            for statement in q.CONSTRAINTS:
                self._run(statement)
        except GraphError as e:
            self._close_quietly()
            raise GraphUnavailable(
                f"{e}. Is the server running, and are KGRAG_NEO4J_USER/KGRAG_NEO4J_PASSWORD right?"
            ) from e
        except (nx.Neo4jError, nx.DriverError, OSError) as e:
            self._close_quietly()
            raise GraphUnavailable(
                f"cannot reach Neo4j at {self.uri}: {redact(str(e))}. Is the server running, "
                "and are KGRAG_NEO4J_USER/KGRAG_NEO4J_PASSWORD right?"
            ) from e

    # -- plumbing ------------------------------------------------------------------------
    def _bounded(self, call: Callable[[], T], seconds: float | None = None) -> T:
        """Run ``call`` in a helper thread and wait at most ``seconds`` (default: the statement timeout).

        The driver has no read deadline of its own, so a frozen server would otherwise block
        forever. The helper is a daemon: it dies with the process.
        """
        seconds = self.timeout if seconds is None else seconds
        box: list[Any] = []
        done = threading.Event()

        def work() -> None:
            try:
                box.append((True, call()))
            except BaseException as e:  # handed to the caller below
                box.append((False, e))
            finally:
                done.set()

        threading.Thread(target=work, name="kgrag-neo4j-call", daemon=True).start()
        if not done.wait(seconds):
            raise GraphUnavailable(
                f"Neo4j at {self.uri} did not answer within {seconds:g} s (server stopped or "
                "overloaded?); raise KGRAG_NEO4J_TIMEOUT if the statement is just slow"
            )
        ok, value = box[0]
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def _failed(self, e: Exception, write: bool) -> GraphError:
        """The kgrag error for a driver error (its text redacted)."""
        nx = self._nx
        text = redact(str(e))
        if isinstance(e, nx.AuthError):
            return GraphUnavailable(f"Neo4j at {self.uri} refused the credentials: {text}")
        if isinstance(e, nx.ServiceUnavailable | nx.SessionExpired | OSError):
            return GraphUnavailable(f"lost the connection to Neo4j at {self.uri}: {text}")
        if isinstance(e, nx.ClientError) and "TransactionTimedOut" in (getattr(e, "code", "") or ""):
            return GraphUnavailable(f"Neo4j at {self.uri} timed out a statement: {text}")
        if write:
            return GraphWriteError(f"Neo4j refused a statement: {text}; rerun the build to resume")
        return GraphReadError(f"reading from Neo4j at {self.uri} failed: {text}")

    def _run(self, statement: str, *, write: bool = True, **params: Any) -> list[dict[str, Any]]:
        neo4j = self._neo4j

        def call() -> list[dict[str, Any]]:
            records, _, _ = self.driver.execute_query(
                neo4j.Query(statement, timeout=self.timeout),
                params,
                database_=self.database,
                routing_=neo4j.RoutingControl.WRITE if write else neo4j.RoutingControl.READ,
            )
            return [r.data() for r in records]

        try:
            return self._bounded(call)
        except GraphError:  # a timeout (GraphUnavailable is also an OSError)
            raise
        except (self._nx.Neo4jError, self._nx.DriverError, OSError) as e:
            raise self._failed(e, write) from e

    def _read(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        return self._run(statement, write=False, **params)

    def cypher(self, statement: str, /, *, read: bool = False, **params: Any) -> list[dict[str, Any]]:
        """Run one statement from :mod:`kgrag.graph.neo4j_queries`, values as parameters.

        Args:
            statement: the Cypher text (never built from data).
            read: route as a read (failures become GraphReadError, not GraphWriteError).
            **params: the statement's parameters.

        Returns:
            The records as dicts.
        """
        return self._run(statement, write=not read, **params)

    def _write_batches(self, statement: str, rows: Sequence[dict[str, Any]]) -> int:
        for i in range(0, len(rows), self.batch_size):
            self._run(statement, rows=list(rows[i : i + self.batch_size]))
        return len(rows)

    def _concurrently(self, pool: ThreadPoolExecutor | None, jobs: list[Callable[[], Any]]) -> None:
        """Run ``jobs`` (one wave: they touch disjoint nodes) in ``pool``, or in order without one."""
        if pool is None or len(jobs) == 1:
            for job in jobs:
                job()
            return
        futures = [pool.submit(job) for job in jobs]
        errors = [e for f in futures if (e := f.exception()) is not None]
        if errors:
            raise errors[0]

    def _pool(self) -> ThreadPoolExecutor | None:
        if self.write_workers == 1:
            return None
        return ThreadPoolExecutor(self.write_workers, thread_name_prefix="kgrag-neo4j-write")

    # -- writes --------------------------------------------------------------------------
    def upsert_nodes(self, nodes: Iterable[Node]) -> int:
        """Implements :meth:`GraphStore.upsert_nodes` with batched ``MERGE`` statements.

        Windows of :data:`WRITE_WINDOW` rows, split by node id into ``write_workers``
        groups written concurrently.
        """
        total = 0
        it = iter(nodes)
        pool = self._pool()
        try:
            while window := [_node_row(n) for n in islice(it, WRITE_WINDOW)]:
                groups = node_groups(window, lambda r: str(r["id"]), self.write_workers)
                self._concurrently(
                    pool, [partial(self._write_batches, q.UPSERT_NODES, g) for g in groups]
                )
                total += len(window)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return total

    def upsert_edges(self, edges: Iterable[Edge]) -> int:
        """Implements :meth:`GraphStore.upsert_edges`: batched ``MERGE`` per relationship type.

        Windows of :data:`WRITE_WINDOW` edges; repeated upserts of one edge in a window are
        merged into one row; the rows are partitioned into waves of batches that touch
        disjoint nodes (:func:`~kgrag.graph.neo4j_batches.edge_waves`, ``2 x write_workers``
        buckets) and each wave's batches run concurrently.

        Returns:
            How many edges were given (each upsert counted, as the embedded store does).
        """
        count = 0
        it = iter(edges)
        pool = self._pool()
        buckets = 1 if self.write_workers == 1 else 2 * self.write_workers
        try:
            while window := list(islice(it, WRITE_WINDOW)):
                count += len(window)
                rows = _edge_rows(window)
                for wave in edge_waves(rows, lambda r: (r["src"], r["dst"]), buckets):
                    self._concurrently(pool, [partial(self._write_edge_group, g) for g in wave])
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return count

    def _write_edge_group(self, rows: list[dict[str, Any]]) -> None:
        by_type: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_type.setdefault(r["type"], []).append(r)
        for typ, typed in by_type.items():
            self._write_batches(q.UPSERT_EDGES[EdgeType(typ)], typed)

    def delete_source(self, source: str) -> dict[str, int]:
        """Implements :meth:`GraphStore.delete_source`."""
        edges = self._run(q.DELETE_SOURCE_CLAIMS, source=source)
        nodes = self._run(q.DELETE_SOURCE_NODES, source=source)
        return _removed(edges, nodes)

    def delete_documents(self, document_ids: Iterable[str]) -> dict[str, int]:
        """Implements :meth:`GraphStore.delete_documents`."""
        parts = self._read(q.DOCUMENT_PARTS, ids=list(dict.fromkeys(document_ids)))
        refs = [r["id"] for r in parts] + [c for r in parts for c in r["chunks"]]
        if not refs:
            return {"claims": 0, "edges": 0, "nodes": 0}
        sources = sorted({s for r in parts for s in r["sources"] or []})
        edges = self._run(q.DELETE_REFERENCED_CLAIMS, sources=sources, refs=refs)
        nodes = self._run(q.DELETE_NODES, ids=refs)
        return _removed(edges, nodes)

    def await_indexes(self, seconds: float | None = None) -> None:
        """Wait until the constraints' and indexes' populations are done (after a bulk import).

        Args:
            seconds: how long to wait (at most, and by default, the statement timeout).

        Raises:
            GraphUnavailable: not online within that time.
        """
        wait = int(min(seconds if seconds is not None else self.timeout, self.timeout))
        self._run(q.AWAIT_INDEXES, seconds=max(1, wait))

    def set_meta(self, key: str, value: str) -> None:
        """Implements :meth:`GraphStore.set_meta` on the store's meta node."""
        self._run(q.SET_META, key=key, value=value)

    def get_meta(self, key: str) -> str | None:
        """Implements :meth:`GraphStore.get_meta`."""
        rows = self._read(q.GET_META, key=key)
        return str(rows[0]["value"]) if rows else None

    def clear(self) -> None:
        """Delete every kgrag node and meta entry (tests; rebuilding from scratch)."""

        def call() -> None:
            with self.driver.session(database=self.database) as session:
                session.run(q.CLEAR).consume()

        try:
            self._bounded(call)
        except GraphError:
            raise
        except (self._nx.Neo4jError, self._nx.DriverError, OSError) as e:
            raise self._failed(e, write=True) from e

    # -- the traversal primitives --------------------------------------------------------
    def _nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        return {r["id"]: _node(r) for r in self._read(q.GET_NODES, ids=ids)}

    def _stream(self, statement: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Records one by one from an open session (bulk reads do not fit in a list).

        A helper thread reads the records and hands them over in chunks; waiting longer
        than the statement timeout for the next chunk ends in GraphUnavailable.
        """
        handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)
        stop = threading.Event()
        neo4j = self._neo4j

        def put(item: tuple[str, Any]) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                with self.driver.session(
                    database=self.database, default_access_mode=neo4j.READ_ACCESS
                ) as session:
                    chunk: list[dict[str, Any]] = []
                    query = neo4j.Query(statement, timeout=self.timeout)
                    for record in session.run(query, params):
                        chunk.append(record.data())
                        if len(chunk) >= _STREAM_CHUNK:
                            if not put(("rows", chunk)):
                                return
                            chunk = []
                    put(("rows", chunk))
                put(("end", None))
            except BaseException as e:  # handed to the consumer
                put(("error", e))

        threading.Thread(target=produce, name="kgrag-neo4j-stream", daemon=True).start()
        try:
            while True:
                try:
                    kind, value = handoff.get(timeout=self.timeout)
                except queue.Empty:
                    raise GraphUnavailable(
                        f"Neo4j at {self.uri} sent nothing for {self.timeout:g} s (server "
                        "stopped or overloaded?); raise KGRAG_NEO4J_TIMEOUT if it is just slow"
                    ) from None
                if kind == "end":
                    return
                if kind == "error":
                    if isinstance(value, GraphError):
                        raise value
                    if isinstance(value, self._nx.Neo4jError | self._nx.DriverError | OSError):
                        raise self._failed(value, write=False) from value
                    raise value
                yield from value
        finally:
            stop.set()

    def iter_nodes(self, label: Label | None = None) -> Iterator[Node]:
        """Implements :meth:`GraphStore.iter_nodes`, streamed from one session."""
        for r in self._stream(q.ALL_NODES, label=label.value if label else None):
            yield _node(r)

    def iter_edges(self, types: Sequence[EdgeType] | None = None) -> Iterator[Edge]:
        """Implements :meth:`GraphStore.iter_edges`, streamed; edges without a claim are skipped."""
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
                for r in self._read(q.OUT_EDGES, ids=list(node_ids), types=names)
            ]
        if direction in ("in", "both"):
            out += [
                (r["src"], r["type"], r["dst"])
                for r in self._read(q.IN_EDGES, ids=list(node_ids), types=names)
            ]
        return out[:limit] if limit is not None else out

    def _edges(self, keys: Iterable[EdgeKey]) -> list[Edge]:
        wanted = list(keys)
        if not wanted:
            return []
        rows = self._read(q.GET_EDGES, keys=[list(k) for k in wanted])
        by_key = {(r["src"], r["type"], r["dst"]): r for r in rows}
        out = []
        for src, typ, dst in wanted:
            r = by_key.get((src, typ, dst))
            if r and r["claims"]:
                out.append(_edge(r))
        return out

    def counts(self) -> GraphCounts:
        """Implements :meth:`GraphStore.counts`."""

        def table(statement: str) -> dict[str, int]:
            return {str(r["key"]): int(r["n"]) for r in self._read(statement)}

        sources = self._read(q.COUNT_SOURCES)
        return GraphCounts(
            nodes=table(q.COUNT_NODES),
            edges=table(q.COUNT_EDGES),
            tiers=table(q.COUNT_TIERS),
            sources=int(sources[0]["n"]) if sources else 0,
        )

    def close(self) -> None:
        """Close the driver (bounded: a frozen server cannot hold it up)."""
        self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self._bounded(self.driver.close, self.connect_timeout)
        except (GraphError, self._nx.DriverError, OSError) as e:
            logger.warning("closing the Neo4j driver: %s", redact(str(e)))
