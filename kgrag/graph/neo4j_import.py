"""A first load of Neo4j by ``neo4j-admin database import full``, else the batched path.

``neo4j-admin database import full`` writes a database's store files directly from CSV
files, without transactions: the fastest way to fill an **empty, stopped** database (it
refuses a database in use, and replaces a database only with ``--overwrite-destination``).
:func:`write_import_files` writes those files from an iterable of kgrag nodes and edges (the
reduce's output, or a built store's ``iter_nodes``/``iter_edges``) in the layout of
:class:`~kgrag.graph.neo4j_store.Neo4jGraphStore`: ``:KgNode`` nodes (plus their
``Concept``/``Document``/``Chunk`` label), one relationship per edge with at most
:data:`~kgrag.graph.neo4j_queries.CLAIMS_ON_RELATIONSHIP` claims on it (else ``spilled``),
and one ``:KgClaim`` node per claim. :func:`run_import` runs the admin tool on them and
checks that it imported exactly the rows written. The store creates its constraints and
indexes when it first connects (:meth:`~Neo4jGraphStore.await_indexes` waits for them).

:func:`first_load` is the decision a loader makes: bulk import when an admin tool is given
and it accepts the import, else the batched ``UNWIND ... MERGE`` path of the store (for a
database that is not empty, no admin tool, or one that refuses); the report says which
and why. Incremental loads always take the batched path.

CSV layout: comma-separated, RFC 4180 quotes, arrays (labels, codes, sources, cached
claims) joined by U+001F (JSON escapes it, so no value holds it); one file per set of prop
keys, each with its header in its first line (props are ``p.<key>`` string columns holding
JSON). Sources: Neo4j Operations Manual 5, "Import" (neo4j-admin database import full).
"""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pydantic import Field

from kgrag.errors import GraphWriteError
from kgrag.graph.neo4j_queries import CLAIMS_ON_RELATIONSHIP
from kgrag.graph.schema import Edge, Node
from kgrag.types import BoundaryModel

if TYPE_CHECKING:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

ARRAY_DELIMITER = "\x1f"
_ADMIN_ARRAY_DELIMITER = "U+001F"
_PREFIX = "p."
_BAD_KEY = re.compile(r"[:,\"\n\r\x1f]")


class ImportFiles(BoundaryModel):
    """The CSV files of a bulk import and what they hold."""

    directory: Path
    nodes: list[Path] = Field(description="node files (graph nodes and claim nodes), header first")
    relationships: list[Path] = Field(description="relationship files, header first")
    graph_nodes: int = Field(description=":KgNode rows")
    edges: int = Field(description="relationship rows (one per edge)")
    claims: int = Field(description=":KgClaim rows (one per claim)")
    seconds: float = Field(description="wall seconds to write them")


class ImportResult(BoundaryModel):
    """What ``neo4j-admin database import full`` reported."""

    command: list[str]
    nodes: int = Field(description="nodes imported (graph nodes + claim nodes)")
    relationships: int
    seconds: float = Field(description="wall seconds of the admin tool")


class LoadReport(BoundaryModel):
    """How a first load went: bulk import or the batched path, and why."""

    method: Literal["bulk", "batched"]
    reason: str = Field(description="why this method (the refusal, when bulk was not possible)")
    nodes: int
    edges: int
    claims: int
    seconds: float


class _Writers:
    """One CSV file per header (a set of prop keys), opened on first use."""

    def __init__(self, directory: Path, stem: str, fixed: list[str]) -> None:
        self.directory, self.stem, self.fixed = directory, stem, fixed
        self.files: dict[tuple[str, ...], tuple[IO[str], Any, Path]] = {}

    def row(self, keys: tuple[str, ...], values: list[Any]) -> None:
        if keys not in self.files:
            for k in keys:
                if _BAD_KEY.search(k):
                    raise GraphWriteError(
                        f"the prop key {k!r} cannot be a neo4j-admin CSV header (it holds one of "
                        ': , " or a line break); load through the batched path instead'
                    )
            path = self.directory / f"{self.stem}-{len(self.files)}.csv"
            handle = path.open("w", encoding="utf-8", newline="")
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(self.fixed + [f"{_PREFIX}{k}" for k in keys])
            self.files[keys] = (handle, writer, path)
        self.files[keys][1].writerow(values)

    def close(self) -> list[Path]:
        for handle, _, _ in self.files.values():
            handle.close()
        return [path for _, _, path in self.files.values()]


def _array(values: Iterable[str]) -> str:
    return ARRAY_DELIMITER.join(values)


def _json_props(props: dict[str, Any]) -> tuple[tuple[str, ...], list[str]]:
    import json

    keys = tuple(sorted(k for k, v in props.items() if v is not None))
    return keys, [json.dumps(props[k]) for k in keys]


def write_import_files(nodes: Iterable[Node], edges: Iterable[Edge], directory: Path) -> ImportFiles:
    """Write the CSV files of a bulk import of ``nodes`` and ``edges``.

    Args:
        nodes: each node once (a repeated id makes the admin tool fail).
        edges: each edge key ``(src, type, dst)`` once, with all its claims (the reduce's
            output); both ends must be among ``nodes``.
        directory: where to write (created; existing import files in it are replaced).

    Returns:
        The files and their row counts.

    Raises:
        GraphWriteError: an edge key given twice, or a prop key that cannot be a CSV
            header; use the batched path (``store.upsert_edges``) for such input.
    """
    from kgrag.graph.neo4j_store import claim_id

    t0 = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.csv"):
        old.unlink()
    node_out = _Writers(
        directory,
        "nodes",
        ["id:ID", ":LABEL", "label", "name", "tier", "kind", "codes:string[]", "sources:string[]"],
    )
    claim_out = _Writers(
        directory, "claims", ["id:ID(KgClaim)", ":LABEL", "src", "type", "dst", "source", "ref", "claim"]
    )
    rel_out = _Writers(
        directory, "edges", [":START_ID", ":END_ID", ":TYPE", "claims:string[]", "spilled:boolean"]
    )
    n_nodes = n_edges = n_claims = 0
    try:
        for n in nodes:
            keys, values = _json_props(n.props)
            labels = ["KgNode", n.label.value]  # as UPSERT_NODES labels it
            node_out.row(
                keys,
                [
                    n.id,
                    _array(labels),
                    n.label.value,
                    n.name,
                    n.tier.value if n.tier else "",
                    n.kind or "",
                    _array(n.codes),
                    _array(n.sources),
                    *values,
                ],
            )
            n_nodes += 1
        seen: set[bytes] = set()
        for e in edges:
            digest = hashlib.blake2b(
                f"{e.src}\x00{e.type.value}\x00{e.dst}".encode(), digest_size=12
            ).digest()
            if digest in seen:
                raise GraphWriteError(
                    f"the edge {e.src} -{e.type.value}-> {e.dst} is given twice; a bulk import "
                    "needs each edge once with all its claims (the reduced edges)"
                )
            seen.add(digest)
            claims = {claim_id(e.src, e.type, e.dst, c): c for c in e.claims}  # a later one wins
            spilled = len(claims) > CLAIMS_ON_RELATIONSHIP
            cached = "" if spilled else _array(c.model_dump_json() for c in claims.values())
            keys, values = _json_props(e.props)
            rel_out.row(keys, [e.src, e.dst, e.type.value, cached, str(spilled).lower(), *values])
            for cid, c in claims.items():
                claim_out.row(
                    (),
                    [
                        cid,
                        "KgClaim",
                        e.src,
                        e.type.value,
                        e.dst,
                        c.source,
                        c.reference or "",
                        c.model_dump_json(),
                    ],
                )
            n_edges += 1
            n_claims += len(claims)
    finally:
        node_files, claim_files, rel_files = node_out.close(), claim_out.close(), rel_out.close()
    return ImportFiles(
        directory=directory,
        nodes=node_files + claim_files,
        relationships=rel_files,
        graph_nodes=n_nodes,
        edges=n_edges,
        claims=n_claims,
        seconds=time.perf_counter() - t0,
    )


def import_command(
    admin: str | Path, files: ImportFiles, *, database: str = "neo4j", overwrite: bool = False
) -> list[str]:
    """The ``neo4j-admin database import full`` command line for ``files``.

    Args:
        admin: the ``neo4j-admin`` executable (e.g. ``$NEO4J_HOME/bin/neo4j-admin``).
        files: from :func:`write_import_files`.
        database: the database to create (it must not exist, or be stopped with ``overwrite``).
        overwrite: pass ``--overwrite-destination`` (replaces the database's store files).

    Returns:
        The argument list (no shell).
    """
    return [
        str(admin),
        "database",
        "import",
        "full",
        *(f"--nodes={p}" for p in files.nodes),
        *(f"--relationships={p}" for p in files.relationships),
        f"--array-delimiter={_ADMIN_ARRAY_DELIMITER}",
        "--multiline-fields=true",
        "--skip-bad-relationships=false",
        "--skip-duplicate-nodes=false",
        "--bad-tolerance=0",
        f"--report-file={files.directory / 'import.report'}",  # not the working directory
        *(["--overwrite-destination=true"] if overwrite else []),
        database,
    ]


_IMPORTED = re.compile(r"Imported:\s+(\d+) nodes\s+(\d+) relationships", re.MULTILINE)


def run_import(
    admin: str | Path,
    files: ImportFiles,
    *,
    database: str = "neo4j",
    overwrite: bool = False,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> ImportResult:
    """Run ``neo4j-admin database import full`` and check what it imported.

    Args:
        admin: the ``neo4j-admin`` executable.
        files: from :func:`write_import_files`.
        database: the target database (stopped, or not yet created).
        overwrite: replace an existing database's store files.
        env: the tool's environment (e.g. ``NEO4J_HOME``, ``NEO4J_CONF``); default: this
            process's.
        timeout: seconds the tool may take (None: no limit).

    Returns:
        The counts the tool reported and its wall time.

    Raises:
        GraphWriteError: the tool is missing, refused (a database in use or existing), failed,
            or imported other counts than the files hold.
    """
    command = import_command(admin, files, database=database, overwrite=overwrite)
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GraphWriteError(
            f"cannot run {admin}: {e}; give the server's neo4j-admin (--admin, or the "
            "neo4j_admin setting)"
        ) from e
    seconds = time.perf_counter() - t0
    out = done.stdout + done.stderr
    found = _IMPORTED.search(out)
    if done.returncode != 0 or found is None:
        tail = " ".join(out.strip().splitlines()[-6:])
        raise GraphWriteError(f"neo4j-admin import refused or failed (exit {done.returncode}): {tail}")
    nodes, rels = int(found.group(1)), int(found.group(2))
    if (nodes, rels) != (files.graph_nodes + files.claims, files.edges):
        raise GraphWriteError(
            f"neo4j-admin imported {nodes} nodes and {rels} relationships, the files hold "
            f"{files.graph_nodes + files.claims} and {files.edges}; the import is incomplete"
        )
    return ImportResult(command=command, nodes=nodes, relationships=rels, seconds=seconds)


def first_load(
    store: Neo4jGraphStore,
    nodes: Iterable[Node],
    edges: Iterable[Edge],
    *,
    admin: str | Path | None,
    directory: Path,
    database: str = "neo4j",
    env: dict[str, str] | None = None,
) -> LoadReport:
    """Load a graph into ``store``: bulk import where the server allows it, else batched.

    Bulk needs an admin tool and an empty database that the tool may write (a stopped
    server, or one whose database is not in use); a running server's database is in use, so
    the tool refuses and the batched path loads it. The report names the method and why.

    Both iterables are held in memory (the batched path may need them after a refused
    import).

    Args:
        store: the store to load (its database is the import's target).
        nodes: the nodes, each once.
        edges: the edges, each once with all its claims.
        admin: the ``neo4j-admin`` executable (``Settings.neo4j_admin``); None: batched.
        directory: where the import files go.
        database: the database name for the admin tool.
        env: the admin tool's environment (``NEO4J_HOME``...).

    Returns:
        The method used, why, and the counts written.

    Raises:
        GraphWriteError: the batched load failed.
    """
    t0 = time.perf_counter()
    node_list, edge_list = list(nodes), list(edges)
    reason = ""
    if admin is None:
        reason = "no neo4j-admin given (Settings.neo4j_admin)"
    elif held := sum(store.counts().nodes.values()):
        reason = f"the database already holds {held} nodes; neo4j-admin import needs an empty one"
    else:
        try:
            files = write_import_files(node_list, edge_list, directory)
            run_import(admin, files, database=database, env=env)
            return LoadReport(
                method="bulk",
                reason="empty database and neo4j-admin accepted the import",
                nodes=files.graph_nodes,
                edges=files.edges,
                claims=files.claims,
                seconds=time.perf_counter() - t0,
            )
        except GraphWriteError as e:
            reason = str(e)
    store.upsert_nodes(node_list)
    store.upsert_edges(edge_list)
    return LoadReport(
        method="batched",
        reason=reason,
        nodes=len(node_list),
        edges=len(edge_list),
        claims=sum(len(e.claims) for e in edge_list),
        seconds=time.perf_counter() - t0,
    )
