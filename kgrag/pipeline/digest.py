"""A canonical digest of a built knowledge base: what two builds must agree on to be the same.

The digest hashes the embedded store's tables in key order (nodes with their sources,
edges, claims; JSON props with sorted keys) and the diagnostic model's arrays, so it does
not depend on insertion order, shard order, shard size or engine. The meta table
(fingerprints, generation stamps) and the model's fingerprint are left out: they name the
code and the inputs, not the content. Used by the build's tests and ``benchmarks/scale.py``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from kgrag.graph.sqlite_store import FILE_NAME

_TABLES = {
    "nodes": "SELECT id, label, name, tier, kind, codes, props FROM nodes ORDER BY id",
    "node_sources": "SELECT node_id, source FROM node_sources ORDER BY node_id, source",
    "edges": "SELECT src, type, dst, props FROM edges ORDER BY src, type, dst",
    "claims": 'SELECT src, type, dst, source, key, reference, start, "end", props FROM claims '
    "ORDER BY src, type, dst, source, key",
}


def _canonical(value: object, roots: tuple[str, ...] = ()) -> object:
    """JSON text (an object or a list) re-serialised with sorted keys; anything else as is.

    Each folder of ``roots`` (a prefix of a stored file path) reads as ``$ROOT``.
    """
    if isinstance(value, str):
        for k, root in enumerate(roots):
            value = value.replace(root.rstrip("/") + "/", f"$ROOT{k}/")
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except json.JSONDecodeError:
            return value
    return value


def graph_digest(directory: Path, *, roots: Sequence[Path] = ()) -> dict[str, str]:
    """SHA-256 hex digests of the embedded graph's nodes, node sources, edges and claims.

    Args:
        directory: a knowledge-base folder holding ``graph.sqlite``.
        roots: folders whose names are left out of stored file paths (documents record
            the absolute path they were read from: a checkout elsewhere digests the same).

    Returns:
        One digest per table, by table name.
    """
    conn = sqlite3.connect(f"file:{directory / FILE_NAME}?mode=ro", uri=True)
    try:
        out: dict[str, str] = {}
        prefixes = tuple(str(r) for r in roots)
        for name, sql in _TABLES.items():
            h = hashlib.sha256()
            for row in conn.execute(sql):
                h.update(json.dumps([_canonical(v, prefixes) for v in row]).encode())
                h.update(b"\n")
            out[name] = h.hexdigest()
        return out
    finally:
        conn.close()


def model_digest(path: Path) -> str:
    """SHA-256 hex digest of a saved diagnostic model's arrays and metadata (fingerprint left out).

    Args:
        path: the model's ``.npz`` file (:meth:`~kgrag.retrieval.model.DiagnosticModel.save`).
    """
    import numpy as np

    h = hashlib.sha256()
    with np.load(path) as z:
        for key in sorted(z.files):
            array = z[key]
            if key == "meta":
                meta = json.loads(array.tobytes().decode())
                meta.pop("fingerprint", None)
                h.update(json.dumps(meta, sort_keys=True).encode())
            else:
                h.update(key.encode())
                h.update(str(array.dtype).encode())
                h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def kb_digest(directory: Path, *, model: bool = True, roots: Sequence[Path] = ()) -> dict[str, str]:
    """The graph's digests and (``model``) the diagnostic model's, under ``model``.

    Args:
        directory: a knowledge-base folder (``graph.sqlite``, ``retrieval/``).
        model: include the diagnostic model (the build made its retrieval artifacts).
        roots: as :func:`graph_digest`.
    """
    out = graph_digest(directory, roots=roots)
    if model:
        from kgrag.retrieval.model import FILE_NAME as MODEL_FILE

        out["model"] = model_digest(directory / "retrieval" / MODEL_FILE)
    return out
