"""Parts: the Parquet output of one shard, the build's checkpoint.

A part is a folder named by its shard's fingerprint (content-addressed) holding three
Parquet tables: ``documents`` (each file read: its document node id and checksum, or why it
was not read), ``nodes`` and ``edges`` (edge props and claims as JSON text). Every row
carries its file's relative path and its position in that file's records, so the reduce
can put rows back in read order whatever the shard size or the order shards finished in.

A part is written to a temporary folder and renamed into place (atomic on one file
system): a part that exists is complete, so a killed build resumes by skipping it. Its
``part.json`` records each table's rows, size and SHA-256; a part is reused only when its
files still match (:func:`check_part`), so a truncated, altered or half-deleted part is
linked again instead of failing every later build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kgrag.errors import PartDamaged
from kgrag.graph.schema import Edge, Node

TABLES = ("documents", "nodes", "edges")
MANIFEST = "part.json"  # {"format": 1, "tables": {name: {"rows", "bytes", "sha256"}}}
FORMAT = 1

DOCUMENT_COLUMNS = ("path", "doc_node", "checksum", "failure_kind", "failure")
NODE_COLUMNS = ("path", "seq", "id", "label", "name", "tier", "kind", "codes", "props", "sources")
EDGE_COLUMNS = ("path", "seq", "src", "type", "dst", "props", "claims")


def node_row(path: str, seq: int, node: Node) -> dict[str, Any]:
    """One row of the ``nodes`` table."""
    return {
        "path": path,
        "seq": seq,
        "id": node.id,
        "label": node.label.value,
        "name": node.name,
        "tier": node.tier.value if node.tier else None,
        "kind": node.kind,
        "codes": json.dumps(list(node.codes)),
        "props": json.dumps(node.props),
        "sources": json.dumps(list(node.sources)),
    }


def edge_row(path: str, seq: int, edge: Edge) -> dict[str, Any]:
    """One row of the ``edges`` table (its claims as one JSON list)."""
    return {
        "path": path,
        "seq": seq,
        "src": edge.src,
        "type": edge.type.value,
        "dst": edge.dst,
        "props": json.dumps(edge.props),
        "claims": json.dumps([c.model_dump() for c in edge.claims]),
    }


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Any:
    import pyarrow as pa

    strings = {c: pa.string() for c in columns}
    schema = pa.schema([(c, pa.int64() if c == "seq" else strings[c]) for c in columns])
    return pa.Table.from_pylist(rows, schema=schema)


def write_part(directory: Path, fingerprint: str, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """Write one shard's rows as a part under ``directory``, atomically.

    Args:
        directory: the parts folder of the source.
        fingerprint: the shard's fingerprint (the part's folder name).
        tables: rows of ``documents``, ``nodes`` and ``edges``.

    Returns:
        The part's folder.
    """
    import pyarrow.parquet as pq

    final = directory / fingerprint
    tmp = directory / f".{fingerprint}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir(parents=True)
    try:
        columns = {"documents": DOCUMENT_COLUMNS, "nodes": NODE_COLUMNS, "edges": EDGE_COLUMNS}
        manifest: dict[str, Any] = {"format": FORMAT, "tables": {}}
        for name in TABLES:
            rows = tables.get(name, [])
            pq.write_table(_table(rows, columns[name]), tmp / f"{name}.parquet")
            manifest["tables"][name] = {"rows": len(rows), **_file_facts(tmp / f"{name}.parquet")}
        (tmp / MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
        if final.exists() and not is_part(final):  # what a killed or damaged write left
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another worker wrote the same part first: identical content
            if not is_part(final):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _file_facts(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def read_part(part: Path, table: str) -> list[dict[str, Any]]:
    """The rows of one table of a part.

    Raises:
        PartDamaged: the table cannot be read (the next build links its shard again).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows: list[dict[str, Any]] = pq.read_table(part / f"{table}.parquet").to_pylist()
    except (OSError, pa.ArrowException) as e:
        raise PartDamaged(part, f"{table}.parquet: {type(e).__name__}: {e}") from e
    return rows


def is_part(path: Path) -> bool:
    """Whether ``path`` is a finished part (temporary folders of a killed write are not)."""
    return (
        path.is_dir()
        and not path.name.startswith(".")
        and (path / MANIFEST).is_file()
        and all((path / f"{t}.parquet").is_file() for t in TABLES)
    )


def check_part(path: Path) -> str | None:
    """What is wrong with a finished part's files, or None when they match its manifest.

    Reads every table's bytes once (SHA-256): a part of a few MB costs milliseconds.
    """
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        tables = manifest["tables"]
        if manifest.get("format") != FORMAT or set(tables) != set(TABLES):
            return f"{MANIFEST}: format {manifest.get('format')!r}, tables {sorted(tables)}"
        for name in TABLES:
            recorded = {k: tables[name][k] for k in ("bytes", "sha256")}
            if _file_facts(path / f"{name}.parquet") != recorded:
                return f"{name}.parquet does not match {MANIFEST} (truncated or altered)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def remove_parts(directory: Path, keep: Iterable[str]) -> int:
    """Delete the parts (and leftover temporary folders) of ``directory`` not named in ``keep``.

    Returns:
        How many were deleted.
    """
    if not directory.is_dir():
        return 0
    wanted = set(keep)
    gone = 0
    for entry in directory.iterdir():
        if entry.is_dir() and entry.name not in wanted:
            shutil.rmtree(entry, ignore_errors=True)
            gone += 1
    return gone
