"""The reduce: the parts of a corpus source merged, one part at a time, into what the store gets.

Rows are put back in read order (a file's path parts, then the record's position), so the
result depends neither on the order shards finished in nor on the shard size. Then, as the
serial reader does: a file whose bytes repeat an earlier file's is a duplicate and dropped,
and ``limit`` keeps the first documents. Nodes merge by id and edges by ``(src, type, dst)``:
props key by key in read order (a later value replaces an earlier one, as upserts do), and
claims by their identity ``(source, reference, start, end)`` (:meth:`Claim.key`).

The reduce streams. Only the ``documents`` tables (a path and a checksum per file) are read
whole, to decide which files count; nodes and edges are read one part at a time, merged
within the part and handed to the load, whose upserts merge across parts by the same rules
(a shard is a run of consecutive files, so parts in read order are rows in read order).
Memory is one part's rows, whatever the size of the corpus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from kgrag.errors import KgragError
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier
from kgrag.pipeline.parts import read_part
from kgrag.pipeline.shards import order_key
from kgrag.pipeline.stage import LINKING_FAILED


@dataclass
class Reduced:
    """What a corpus source holds after the reduce: the documents kept, and the parts to stream.

    Attributes:
        parts: the parts holding kept rows, in read order.
        documents: checksum of each document kept, by document node id.
        warnings: ``(kind, example)`` of each file or document skipped, in read order.
        kept: the paths (relative to the corpus folder) whose rows are kept.
        cutoff: the read-order key past which no row counts (``limit``), or None.
    """

    parts: list[Path] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    cutoff: tuple[str, ...] | None = None

    def wanted(self, row: dict[str, Any]) -> bool:
        """Whether a ``nodes`` or ``edges`` row belongs to a kept document."""
        return row["path"] in self.kept and (
            self.cutoff is None or order_key(row["path"]) <= self.cutoff
        )

    def batches(self) -> Iterator[tuple[list[Node], list[Edge]]]:
        """The nodes and edges of each part, merged within the part, part by part in read order."""
        for part in self.parts:
            nodes = sorted((r for r in read_part(part, "nodes") if self.wanted(r)), key=_key)
            edges = sorted((r for r in read_part(part, "edges") if self.wanted(r)), key=_key)
            yield merge_nodes(nodes), merge_edges(edges)


def _key(row: dict[str, Any]) -> tuple[tuple[str, ...], int]:
    return order_key(row["path"]), int(row.get("seq") or 0)


def _kept_documents(
    rows: list[dict[str, Any]], folder: Path, limit: int | None, out: Reduced
) -> tuple[set[str], tuple[str, ...] | None]:
    """The paths whose records are kept, and the order key past which nothing counts (limit)."""
    seen: dict[str, str] = {}
    kept: set[str] = set()
    count = 0
    for row in sorted(rows, key=_key):
        kind = row["failure_kind"]
        if row["checksum"] is None:  # not read
            out.warnings.append((f"file skipped: {kind}", f"{folder / row['path']}: {row['failure']}"))
            continue
        if row["checksum"] in seen:
            reason = f"duplicate of {seen[row['checksum']]}"
            out.warnings.append(("file skipped: duplicate", f"{folder / row['path']}: {reason}"))
            continue
        seen[row["checksum"]] = str(folder / row["path"])
        count += 1
        if kind == LINKING_FAILED:
            out.warnings.append(("document skipped: linking failed", row["failure"]))
        else:
            kept.add(row["path"])
            out.documents[row["doc_node"]] = row["checksum"]
        if limit is not None and count >= limit:
            return kept, order_key(row["path"])
    return kept, None


def merge_nodes(rows: Sequence[dict[str, Any]]) -> list[Node]:
    """Nodes from ``nodes`` rows in read order, merged by id as consecutive upserts would."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        props = json.loads(row["props"])
        codes = json.loads(row["codes"])
        sources = json.loads(row["sources"])
        old = merged.get(row["id"])
        if old is None:
            merged[row["id"]] = {**row, "props": props, "codes": codes, "sources": sources}
            continue
        old["name"] = row["name"] or old["name"]
        old["tier"] = row["tier"] or old["tier"]
        old["kind"] = row["kind"] or old["kind"]
        old["codes"] = codes or old["codes"]
        old["props"] = {**{k: v for k, v in old["props"].items() if k not in props}, **props}
        old["sources"] = list(dict.fromkeys([*old["sources"], *sources]))
    return [
        Node(
            id=r["id"],
            label=Label(r["label"]),
            name=r["name"],
            tier=Tier(r["tier"]) if r["tier"] else None,
            kind=r["kind"],
            codes=tuple(r["codes"]),
            props=r["props"],
            sources=tuple(r["sources"]),
        )
        for r in merged.values()
    ]


def merge_edges(rows: Sequence[dict[str, Any]]) -> list[Edge]:
    """Edges from ``edges`` rows in read order, merged by key; claims by identity."""
    props: dict[tuple[str, str, str], dict[str, Any]] = {}
    claims: dict[tuple[str, str, str], dict[tuple[str, str], Claim]] = {}
    for row in rows:
        key = (row["src"], row["type"], row["dst"])
        given = json.loads(row["props"])
        old = props.get(key, {})
        # a later value replaces an earlier one; a None (removal) is kept for the store to apply
        props[key] = {**{k: v for k, v in old.items() if k not in given}, **given}
        into = claims.setdefault(key, {})
        for c in json.loads(row["claims"]):
            claim = Claim(**c)
            into.pop((claim.source, claim.key()), None)  # a replaced claim moves to the end
            into[(claim.source, claim.key())] = claim
    return [
        Edge(
            src=s,
            type=EdgeType(t),
            dst=d,
            props=props[(s, t, d)],
            claims=tuple(claims[(s, t, d)].values()),
        )
        for (s, t, d) in props
    ]


def reduce_parts(
    parts: Sequence[Path],
    folder: Path,
    *,
    limit: int | None = None,
    walk_failures: Sequence[tuple[str, str, str]] = (),
) -> Reduced:
    """Decide what the parts of one corpus source contribute (their ``documents`` tables only).

    Args:
        parts: the part folders of every shard of one plan (any order).
        folder: the corpus folder (for the paths in warnings).
        limit: keep at most this many documents (the first in read order).
        walk_failures: ``(path, reason, kind)`` of the entries the folder walk did not follow.

    Returns:
        The kept documents, the warnings, and the parts in read order, whose nodes and
        edges :meth:`Reduced.batches` streams.

    Raises:
        KgragError: two parts hold overlapping runs of files (they are not of one plan).
    """
    out = Reduced()
    for path, reason, kind in walk_failures:
        out.warnings.append((f"file skipped: {kind}", f"{path}: {reason}"))
    spans: list[tuple[tuple[str, ...], tuple[str, ...], Path]] = []
    documents: list[dict[str, Any]] = []
    for part in parts:
        rows = read_part(part, "documents")
        if rows:
            keys = [order_key(r["path"]) for r in rows]
            spans.append((min(keys), max(keys), part))
            documents.extend(rows)
    spans.sort(key=lambda s: s[0])
    for (_, last, before), (first, _, after) in pairwise(spans):
        if first <= last:
            raise KgragError(
                f"parts {before.name} and {after.name} hold overlapping files: they are not of one "
                "build plan; rebuild the source with --rebuild"
            )
    out.kept, out.cutoff = _kept_documents(documents, folder, limit, out)
    out.parts = [part for first, _, part in spans if out.cutoff is None or first <= out.cutoff]
    return out
