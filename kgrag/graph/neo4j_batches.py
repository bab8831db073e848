"""Write batches for Neo4j that touch disjoint nodes, so they can run at the same time.

Neo4j locks both end nodes of a relationship it creates or changes. Two transactions that
write edges sharing a node in different orders can deadlock (the server aborts one; the
driver retries it, at a cost). The batches here never share a node within a **wave**, so
the waves' batches run concurrently in several sessions without waiting on each other:

- every node id goes to one of ``P`` buckets by a stable hash (CRC-32 of its UTF-8);
- an edge goes to the cell ``{bucket(src), bucket(dst)}`` (unordered);
- the cells are scheduled as a round-robin tournament of the ``P`` buckets (the circle
  method): ``P - 1`` rounds in which the off-diagonal cells pair up distinct buckets, then
  one round of the ``P`` diagonal cells ``{i, i}``. Within a round no two cells share a
  bucket, so no two share a node.

An edge always lands in the same cell, and a cell's rows keep their order, so repeated
upserts of one edge apply in the order given. With ``W`` workers, ``P = 2W`` buckets give
``W`` cells in every off-diagonal round.

Nodes need no schedule: a node row locks its own node only, so ``W`` buckets by id hash
run at once (one bucket per worker keeps repeated upserts of one id in order).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def bucket(node_id: str, buckets: int) -> int:
    """The bucket of a node id (stable across processes and runs, unlike ``hash``).

    Args:
        node_id: the node's id.
        buckets: how many buckets (1 or more).

    Returns:
        A bucket in ``0 .. buckets - 1``.
    """
    return zlib.crc32(node_id.encode("utf-8")) % buckets


def rounds(buckets: int) -> list[list[tuple[int, int]]]:
    """The cells ``(i, j)``, ``i <= j``, in rounds whose cells share no bucket.

    Args:
        buckets: how many buckets (1 or more).

    Returns:
        Off-diagonal rounds (a round-robin tournament, the circle method; for an odd count a
        bye is added) and last the round of diagonal cells; every cell appears exactly once.
    """
    players = list(range(buckets)) + ([-1] if buckets % 2 else [])
    n = len(players)
    out: list[list[tuple[int, int]]] = []
    for _ in range(n - 1):
        pairs = [(players[k], players[n - 1 - k]) for k in range(n // 2)]
        out.append([(min(a, b), max(a, b)) for a, b in pairs if a >= 0 and b >= 0])
        players = [players[0], players[-1], *players[1:-1]]
    out.append([(i, i) for i in range(buckets)])
    return [r for r in out if r]


def edge_waves(
    rows: Sequence[T], ends: Callable[[T], tuple[str, str]], buckets: int
) -> list[list[list[T]]]:
    """Partition edge rows into waves of groups that touch disjoint nodes.

    Args:
        rows: the edge rows, in the order they are to be applied.
        ends: a row's ``(src, dst)`` node ids.
        buckets: how many node buckets (``2 x workers``; 1 puts everything in one group).

    Returns:
        Waves in order; each wave's groups (non-empty, rows in input order) share no node
        with one another, so they may be written concurrently; waves run one after another.
    """
    if buckets <= 1:
        return [[list(rows)]] if rows else []
    cells: dict[tuple[int, int], list[T]] = {}
    for row in rows:
        src, dst = ends(row)
        a, b = bucket(src, buckets), bucket(dst, buckets)
        cells.setdefault((min(a, b), max(a, b)), []).append(row)
    waves = [[cells[c] for c in r if c in cells] for r in rounds(buckets)]
    return [w for w in waves if w]


def node_groups(rows: Sequence[T], key: Callable[[T], str], buckets: int) -> list[list[T]]:
    """Split node rows into groups by id bucket (a node's rows in one group, in order).

    Args:
        rows: the node rows, in the order they are to be applied.
        key: a row's node id.
        buckets: how many groups at most (the workers).

    Returns:
        The non-empty groups; no two share a node id.
    """
    if buckets <= 1:
        return [list(rows)] if rows else []
    groups: list[list[T]] = [[] for _ in range(buckets)]
    for row in rows:
        groups[bucket(key(row), buckets)].append(row)
    return [g for g in groups if g]
