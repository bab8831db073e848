"""Parts: the Parquet output of one shard, the build's checkpoint.

A part is a folder named by its shard's fingerprint (content-addressed) holding three
Parquet tables: ``documents`` (each file read: its document node id and checksum, or why it
was not read), ``nodes`` and ``edges`` (edge props and claims as JSON text). Every row
carries its file's relative path and its position in that file's records, so the reduce
can put rows back in read order whatever the shard size or the order shards finished in.

A part is written to a temporary folder and renamed into place (atomic on one file
system): a part that exists is complete, so a killed build resumes by skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kgrag.graph.schema import Edge, Node

TABLES = ("documents", "nodes", "edges")

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
        for name in TABLES:
            pq.write_table(_table(tables.get(name, []), columns[name]), tmp / f"{name}.parquet")
        try:
            os.replace(tmp, final)
        except OSError:  # another worker wrote the same part first: identical content
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_part(part: Path, table: str) -> list[dict[str, Any]]:
    """The rows of one table of a part."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(part / f"{table}.parquet").to_pylist()
    return rows


def is_part(path: Path) -> bool:
    """Whether ``path`` is a finished part (temporary folders of a killed write are not)."""
    return (
        path.is_dir()
        and not path.name.startswith(".")
        and all((path / f"{t}.parquet").is_file() for t in TABLES)
    )


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
