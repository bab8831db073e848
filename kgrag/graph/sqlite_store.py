"""The embedded graph store: SQLite in a directory, no server.

Why SQLite: it ships with Python (nothing to download, on any machine), its WAL journal
lets readers query while one writer builds and survives a ``kill -9`` without corruption
(every batch is one transaction), and recursive CTEs walk hierarchies in the database.
kuzu works offline but its upstream was archived in October 2025; its fork ladybug
downloads its vector and full-text extensions at run time; networkx holds everything in
memory and persists nothing. Vectors live beside the graph in a faiss index.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import groupby, islice
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import orjson

from kgrag.errors import GraphReadError, GraphUnavailable, GraphWriteError
from kgrag.graph.base import Direction
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
from kgrag.graph.traversal import Traversal

logger = logging.getLogger(__name__)

FILE_NAME = "graph.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY, label TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
    tier TEXT, kind TEXT, codes TEXT NOT NULL DEFAULT '[]', props TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS nodes_label ON nodes(label, tier);
CREATE TABLE IF NOT EXISTS node_sources (
    node_id TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (node_id, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS node_sources_source ON node_sources(source);
CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL, type TEXT NOT NULL, dst TEXT NOT NULL,
    props TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (src, type, dst)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_dst ON edges(dst, type);
CREATE TABLE IF NOT EXISTS claims (
    src TEXT NOT NULL, type TEXT NOT NULL, dst TEXT NOT NULL, source TEXT NOT NULL,
    key TEXT NOT NULL, reference TEXT, start INTEGER, "end" INTEGER,
    props TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (src, type, dst, source, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_source ON claims(source);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


P = ParamSpec("P")
R = TypeVar("R")


def _reads(method: Callable[P, R]) -> Callable[P, R]:
    """Map SQLite read errors of ``method`` to :class:`~kgrag.errors.GraphReadError`.

    Turn ``sqlite3.DatabaseError`` raised by a read (a corrupt or vanished file) into
    :class:`~kgrag.errors.GraphReadError`; generators are wrapped while they are consumed.
    """

    def fail(e: sqlite3.DatabaseError) -> GraphReadError:
        return GraphReadError(
            f"reading the embedded graph failed: {e}; if the file is damaged, "
            "`kgrag build --rebuild` makes it again"
        )

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(*args: P.args, **kwargs: P.kwargs) -> Any:
            try:
                yield from method(*args, **kwargs)
            except sqlite3.DatabaseError as e:
                raise fail(e) from e

        return stream

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise fail(e) from e

    return call


def _loads(text: str) -> Any:
    """A stored JSON value: orjson (a few times faster), ``json`` for what orjson refuses (NaN)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _props_patch(props: dict[str, Any]) -> tuple[str, str]:
    """``(set, remove)`` JSON objects for an upsert's props.

    ``json_patch(json_patch(stored, remove), set)`` is :func:`~kgrag.graph.schema.merge_props` (each
    key given replaced whole, None removes).
    """
    given = {k: v for k, v in props.items() if v is not None}
    return json.dumps(given), json.dumps(dict.fromkeys(props))


def _types_clause(types: Sequence[EdgeType] | None, column: str = "type") -> tuple[str, list[str]]:
    if not types:
        return "", []
    return f" AND {column} IN ({','.join('?' * len(types))})", [str(t) for t in types]


READ_MMAP_BYTES = 1 << 34  # read connections map up to 16 GiB of the file (address space only)


class SqliteGraphStore(Traversal):
    """A :class:`~kgrag.graph.base.GraphStore` in ``directory/graph.sqlite``."""

    name = "kgrag.SqliteGraphStore.v1"

    def __init__(
        self, directory: str | Path, *, read_only: bool = False, batch_size: int = 5000
    ) -> None:
        self.directory: Path | None = Path(directory)
        self.location = str(self.directory)
        self.path = self.directory / FILE_NAME
        self.read_only = read_only
        self.batch_size = batch_size
        # a read-only store gives each thread its own connection (requests read concurrently),
        # over a shared memory map of the file (threads and worker processes share its pages)
        self._local = threading.local()
        self._readers: dict[int, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        if read_only:  # a forked worker must not use its parent's connections (SQLite's rule)
            forget = weakref.WeakMethod(self._forget_readers)
            os.register_at_fork(after_in_child=lambda: (f := forget()) and f())
        try:
            if read_only:
                if not self.path.is_file():
                    raise GraphUnavailable(f"no graph at {self.path}; run `kgrag build` first")
                self._rw: sqlite3.Connection | None = None
                self._local.conn = self._open_reader()
            else:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._rw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._rw.execute("PRAGMA busy_timeout = 30000")
                self._rw.execute("PRAGMA journal_mode = WAL")
                self._rw.execute("PRAGMA synchronous = NORMAL")
                self._rw.executescript(_SCHEMA)
                self._rw.execute("PRAGMA cache_size = -131072")  # 128 MB
                self._rw.execute("PRAGMA temp_store = MEMORY")
        except sqlite3.DatabaseError as e:
            raise GraphUnavailable(f"cannot open the graph at {self.path}: {e}") from e

    def _open_reader(self) -> sqlite3.Connection:
        """A read-only connection for the calling thread (connections of ended threads closed)."""
        conn = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA mmap_size = {READ_MMAP_BYTES}")
        conn.execute("PRAGMA cache_size = -2048")  # 2 MB of private cache: pages come from the map
        conn.execute("PRAGMA temp_store = MEMORY")
        alive = {t.ident for t in threading.enumerate()}
        with self._readers_lock:
            for ident in [i for i in self._readers if i not in alive]:
                with suppress(sqlite3.Error):
                    self._readers.pop(ident).close()
            self._readers[threading.get_ident()] = conn
        return conn

    def _forget_readers(self) -> None:
        """In a forked child: drop (never use nor close) the parent's read connections."""
        self._local = threading.local()
        self._readers = {}
        self._readers_lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection: the writer's, or the calling thread's own read-only one."""
        if self._rw is not None:
            return self._rw
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open_reader()
        return conn

    # -- writes --------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise GraphWriteError("this store was opened read-only")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite may have rolled back already (disk full)
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            hint = " (free disk space)" if "full" in str(e) else ""
            raise GraphWriteError(f"graph write failed{hint}: {e}; rerun the build to resume") from e

    def upsert_nodes(self, nodes: Iterable[Node]) -> int:
        """Implements :meth:`GraphStore.upsert_nodes` in transactions of ``batch_size``."""
        total = 0
        it = iter(nodes)
        while batch := list(islice(it, self.batch_size)):
            with self._transaction() as db:
                db.executemany(
                    """INSERT INTO nodes(id, label, name, tier, kind, codes, props)
                       VALUES (:id, :label, :name, :tier, :kind, :codes, :props)
                       ON CONFLICT(id) DO UPDATE SET
                         name = CASE WHEN excluded.name != '' THEN excluded.name ELSE name END,
                         tier = coalesce(excluded.tier, tier), kind = coalesce(excluded.kind, kind),
                         codes = CASE WHEN excluded.codes != '[]' THEN excluded.codes ELSE codes END,
                         props = json_patch(json_patch(props, :remove), excluded.props)""",
                    [
                        {
                            "id": n.id,
                            "label": n.label.value,
                            "name": n.name,
                            "tier": n.tier.value if n.tier else None,
                            "kind": n.kind,
                            "codes": json.dumps(list(n.codes)),
                            **dict(zip(("props", "remove"), _props_patch(n.props), strict=True)),
                        }
                        for n in batch
                    ],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO node_sources VALUES (?, ?)",
                    [(n.id, s) for n in batch for s in n.sources],
                )
            total += len(batch)
        return total

    def upsert_edges(self, edges: Iterable[Edge]) -> int:
        """Implements :meth:`GraphStore.upsert_edges` in transactions of ``batch_size``."""
        total = 0
        it = iter(edges)
        while batch := list(islice(it, self.batch_size)):
            with self._transaction() as db:
                db.executemany(
                    """INSERT INTO edges(src, type, dst, props) VALUES (?, ?, ?, ?)
                       ON CONFLICT(src, type, dst) DO UPDATE SET
                         props = json_patch(json_patch(props, ?), excluded.props)""",
                    [(e.src, e.type.value, e.dst, *_props_patch(e.props)) for e in batch],
                )
                db.executemany(
                    """INSERT OR REPLACE INTO claims
                       (src, type, dst, source, key, reference, start, "end", props)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [
                        (
                            e.src,
                            e.type.value,
                            e.dst,
                            c.source,
                            c.key(),
                            c.reference,
                            c.start,
                            c.end,
                            json.dumps(c.props),
                        )
                        for e in batch
                        for c in e.claims
                    ],
                )
            total += len(batch)
        return total

    def delete_source(self, source: str) -> dict[str, int]:
        """Implements :meth:`GraphStore.delete_source` in one transaction."""
        with self._transaction() as db:
            return self._delete(db, "source = ?", "source = ?", [source])

    def delete_documents(self, document_ids: Iterable[str]) -> dict[str, int]:
        """Implements :meth:`GraphStore.delete_documents` in one transaction."""
        ids = list(dict.fromkeys(document_ids))
        with self._transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS gone_docs(id TEXT PRIMARY KEY)")
            db.execute("DELETE FROM gone_docs")
            db.executemany("INSERT OR IGNORE INTO gone_docs VALUES (?)", [(i,) for i in ids])
            db.execute(
                "INSERT OR IGNORE INTO gone_docs SELECT src FROM edges "
                "WHERE type = 'IN_DOCUMENT' AND dst IN (SELECT id FROM gone_docs)"
            )
            return self._delete(
                db,
                "reference IN (SELECT id FROM gone_docs)",
                "node_id IN (SELECT id FROM gone_docs)",
                [],
            )

    @staticmethod
    def _delete(
        db: sqlite3.Connection, claims_where: str, sources_where: str, params: list[str]
    ) -> dict[str, int]:
        """Delete the matched claims and node sources, then everything left orphaned.

        Drop the claims and node sources matched, then nodes left without a source (with
        all their edges) and edges left without a claim.
        """
        db.execute("CREATE TEMP TABLE IF NOT EXISTS gone_edges(src, type, dst)")
        db.execute("CREATE TEMP TABLE IF NOT EXISTS gone_nodes(id)")
        db.execute("DELETE FROM gone_edges")
        db.execute("DELETE FROM gone_nodes")
        db.execute(
            f"INSERT INTO gone_edges SELECT DISTINCT src, type, dst FROM claims WHERE {claims_where}",
            params,
        )
        claims = db.execute(f"DELETE FROM claims WHERE {claims_where}", params).rowcount
        db.execute(
            f"INSERT INTO gone_nodes SELECT node_id FROM node_sources WHERE {sources_where}", params
        )
        db.execute(f"DELETE FROM node_sources WHERE {sources_where}", params)
        nodes = db.execute(
            "DELETE FROM nodes WHERE id IN (SELECT id FROM gone_nodes) AND NOT EXISTS "
            "(SELECT 1 FROM node_sources s WHERE s.node_id = nodes.id)"
        ).rowcount
        # edges of removed nodes go too, whoever asserted them
        db.execute("DELETE FROM gone_nodes WHERE id IN (SELECT id FROM nodes)")  # survivors
        db.execute("""INSERT INTO gone_edges
                      SELECT src, type, dst FROM edges WHERE src IN (SELECT id FROM gone_nodes)
                      UNION
                      SELECT src, type, dst FROM edges WHERE dst IN (SELECT id FROM gone_nodes)""")
        db.execute("""DELETE FROM claims WHERE (src, type, dst) IN (
                        SELECT src, type, dst FROM gone_edges
                        WHERE src IN (SELECT id FROM gone_nodes)
                           OR dst IN (SELECT id FROM gone_nodes))""")
        edges = db.execute("""DELETE FROM edges WHERE (src, type, dst) IN
                              (SELECT src, type, dst FROM gone_edges) AND NOT EXISTS
                              (SELECT 1 FROM claims c WHERE c.src = edges.src
                               AND c.type = edges.type AND c.dst = edges.dst)""").rowcount
        return {"claims": claims, "edges": edges, "nodes": nodes}

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in the ``meta`` table (replacing any old value)."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @_reads
    def get_meta(self, key: str) -> str | None:
        """The ``meta`` value stored under ``key``, or None when there is none."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- reads ---------------------------------------------------------------------------
    @staticmethod
    def _node(row: Sequence[Any], sources: Sequence[str]) -> Node:
        return Node(
            id=row[0],
            label=Label(row[1]),
            name=row[2],
            tier=Tier(row[3]) if row[3] else None,
            kind=row[4],
            codes=tuple(_loads(row[5])),
            props=_loads(row[6]),
            sources=tuple(sources) or ("?",),
        )

    @_reads
    def _nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Node] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sources: dict[str, list[str]] = {}
            for nid, src in self.conn.execute(
                f"SELECT node_id, source FROM node_sources WHERE node_id IN ({marks})", chunk
            ):
                sources.setdefault(nid, []).append(src)
            for row in self.conn.execute(
                f"SELECT id, label, name, tier, kind, codes, props FROM nodes WHERE id IN ({marks})",
                chunk,
            ):
                out[row[0]] = self._node(row, sources.get(row[0], []))
        return out

    @_reads
    def _edges(self, keys: Iterable[tuple[str, str, str]]) -> list[Edge]:
        """Edges by primary key.

        One indexed lookup per key is the fastest way SQLite has (a row-value ``IN (VALUES ...)``
        scans the table: 0.8 s against 0.5 ms for 300).
        """
        out = []
        for key in dict.fromkeys(keys):
            row = self.conn.execute(
                "SELECT props FROM edges WHERE src = ? AND type = ? AND dst = ?", key
            ).fetchone()
            if row is None:
                continue
            claims = tuple(
                Claim(source=s, reference=r, start=a, end=b, props=_loads(p))
                for s, r, a, b, p in self.conn.execute(
                    'SELECT source, reference, start, "end", props FROM claims '
                    "WHERE src = ? AND type = ? AND dst = ?",
                    key,
                )
            )
            if claims:
                typ = EdgeType(key[1])
                out.append(
                    Edge(
                        src=key[0],
                        type=typ,
                        dst=key[2],
                        props=with_frequency(typ, _loads(row[0]), claims),
                        claims=claims,
                    )
                )
        return out

    @_reads
    def iter_nodes(self, label: Label | None = None) -> Iterator[Node]:
        """Implements :meth:`GraphStore.iter_nodes`: every node (of ``label``) with its sources."""
        where, params = ("WHERE n.label = ?", [label.value]) if label else ("", [])
        rows = self.conn.execute(
            f"""SELECT n.id, n.label, n.name, n.tier, n.kind, n.codes, n.props,
                       (SELECT json_group_array(source) FROM node_sources s WHERE s.node_id = n.id)
                FROM nodes n {where}""",
            params,
        )
        for row in rows:
            yield self._node(row, _loads(row[7]))

    @_reads
    def iter_edges(self, types: Sequence[EdgeType] | None = None) -> Iterator[Edge]:
        """Implements :meth:`GraphStore.iter_edges`: each edge (of ``types``) with its claims."""
        clause, params = _types_clause(types, "e.type")
        rows = self.conn.execute(
            f"""SELECT e.src, e.type, e.dst, e.props, c.source, c.reference, c.start, c."end", c.props
                FROM edges e JOIN claims c ON c.src = e.src AND c.type = e.type AND c.dst = e.dst
                WHERE 1 = 1{clause} ORDER BY e.src, e.type, e.dst""",
            params,
        )
        for (src, typ, dst), group in groupby(rows, key=lambda r: (r[0], r[1], r[2])):
            claim_rows = list(group)
            claims = tuple(
                Claim(source=c[4], reference=c[5], start=c[6], end=c[7], props=_loads(c[8]))
                for c in claim_rows
            )
            edge_type = EdgeType(typ)
            yield Edge(
                src=src,
                type=edge_type,
                dst=dst,
                props=with_frequency(edge_type, _loads(claim_rows[0][3]), claims),
                claims=claims,
            )

    @_reads
    def _adjacent(
        self,
        node_ids: Sequence[str],
        types: Sequence[EdgeType] | None,
        direction: Direction,
        limit: int | None = None,
    ) -> list[tuple[str, str, str]]:
        clause, params = _types_clause(types)
        out: list[tuple[str, str, str]] = []
        for i in range(0, len(node_ids), 500):
            chunk = list(node_ids[i : i + 500])
            marks = ",".join("?" * len(chunk))
            if direction in ("out", "both"):
                out += self.conn.execute(
                    f"SELECT src, type, dst FROM edges WHERE src IN ({marks}){clause}", [*chunk, *params]
                ).fetchall()
            if direction in ("in", "both"):
                out += self.conn.execute(
                    f"SELECT src, type, dst FROM edges WHERE dst IN ({marks}){clause}", [*chunk, *params]
                ).fetchall()
            if limit is not None and len(out) >= limit:
                return out[:limit]
        return out

    @_reads
    def _walk(self, node_id: str, max_depth: int, up: bool) -> list[tuple[Node, int]]:
        """The IS_A walk as one recursive query (same result as :meth:`Traversal._walk`)."""
        near, far = ("src", "dst") if up else ("dst", "src")
        rows = self.conn.execute(
            f"""
            WITH RECURSIVE walk(id, depth) AS (
                SELECT ?, 0
                UNION
                SELECT e.{far}, walk.depth + 1 FROM edges e JOIN walk ON e.{near} = walk.id
                WHERE e.type = 'IS_A' AND walk.depth < ?)
            SELECT id, min(depth) AS d FROM walk WHERE id != ? GROUP BY id ORDER BY d, id""",
            (node_id, max_depth, node_id),
        ).fetchall()
        nodes = self._nodes(r[0] for r in rows)
        return [(nodes[i], d) for i, d in rows if i in nodes]

    @_reads
    def counts(self) -> GraphCounts:
        """Implements :meth:`GraphStore.counts`: nodes per label, edges per type, nodes per tier."""
        nodes = dict(self.conn.execute("SELECT label, count(*) FROM nodes GROUP BY label"))
        edges = dict(self.conn.execute("SELECT type, count(*) FROM edges GROUP BY type"))
        tiers = dict(
            self.conn.execute("SELECT tier, count(*) FROM nodes WHERE tier IS NOT NULL GROUP BY tier")
        )
        sources = self.conn.execute("SELECT count(DISTINCT source) FROM node_sources").fetchone()[0]
        return GraphCounts(nodes=nodes, edges=edges, tiers=tiers, sources=int(sources))

    def integrity_ok(self) -> bool:
        """Whether SQLite's ``PRAGMA integrity_check`` reports the file sound."""
        return bool(self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._readers_lock:
            conns = [*self._readers.values(), *([self._rw] if self._rw is not None else [])]
            self._readers.clear()
        for conn in conns:
            with suppress(sqlite3.Error):  # closing twice is fine
                conn.close()
