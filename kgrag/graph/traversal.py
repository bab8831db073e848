"""The backend contract a store implements, and the traversals written once over it.

A new store implements :class:`Backend` (three read primitives) plus the writes, bulk
reads, meta and ``close`` of :class:`~kgrag.graph.base.GraphStore`, and inherits
:class:`Traversal`, which builds every other read from the primitives:

========================  ===========================================================
primitive                 contract
========================  ===========================================================
``_adjacent(ids, types,   keys ``(src, type, dst)`` of the edges leaving (``out``),
direction, limit)``       entering (``in``) or touching (``both``) any of ``ids``,
                          of ``types`` (None: all), at most ``limit``; order free
``_edges(keys)``          the edges with these keys, claims included, in the order
                          asked; missing keys left out; HAS_FINDING ``props`` carry
                          ``frequency`` from :func:`~kgrag.graph.schema.edge_frequency`
``_nodes(ids)``           the nodes with these ids, by id; missing ids left out
========================  ===========================================================

Failures: a read that fails raises :class:`~kgrag.errors.GraphReadError`, an unreachable
or unresponsive server :class:`~kgrag.errors.GraphUnavailable`. Stores are context
managers (``with open_store(...) as g:`` closes it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol, Self

from kgrag.graph.base import Direction
from kgrag.graph.schema import Edge, EdgeType, Node, Subgraph
from kgrag.graph.schema import Path as GraphPath

EdgeKey = tuple[str, str, str]


class Backend(Protocol):
    """The three read primitives every store provides (see the module docstring)."""

    def _adjacent(
        self,
        node_ids: Sequence[str],
        types: Sequence[EdgeType] | None,
        direction: Direction,
        limit: int | None = None,
    ) -> list[EdgeKey]: ...

    def _edges(self, keys: Iterable[EdgeKey]) -> list[Edge]: ...

    def _nodes(self, ids: Iterable[str]) -> dict[str, Node]: ...


class Traversal:
    """The graph reads shared by the stores, built on a few :class:`Backend` primitives.

    Every read of :class:`~kgrag.graph.base.GraphStore` but the bulk ones; a store
    subclasses it and implements the primitives.
    """

    def _adjacent(
        self,
        node_ids: Sequence[str],
        types: Sequence[EdgeType] | None,
        direction: Direction,
        limit: int | None = None,
    ) -> list[EdgeKey]:
        raise NotImplementedError

    def _edges(self, keys: Iterable[EdgeKey]) -> list[Edge]:
        raise NotImplementedError

    def _nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend's connection; each store implements it."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _walk(self, node_id: str, max_depth: int, up: bool) -> list[tuple[Node, int]]:
        """IS_A breadth first from ``node_id``: up (ancestors) or down (descendants)."""
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
        ranked = sorted((d, i) for i, d in depth.items() if i in nodes)
        return [(nodes[i], d) for d, i in ranked]

    def ancestors(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]:
        """Implements :meth:`GraphStore.ancestors` by a breadth-first walk up ``IS_A``."""
        return self._walk(node_id, max_depth, up=True)

    def descendants(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]:
        """Implements :meth:`GraphStore.descendants` by a breadth-first walk down ``IS_A``."""
        return self._walk(node_id, max_depth, up=False)

    def get_node(self, node_id: str) -> Node | None:
        """Implements :meth:`GraphStore.get_node`."""
        return self._nodes([node_id]).get(node_id)

    def get_nodes(self, node_ids: Iterable[str]) -> dict[str, Node]:
        """Implements :meth:`GraphStore.get_nodes`."""
        return self._nodes(node_ids)

    def edges(self, keys: Iterable[tuple[str, EdgeType, str]]) -> list[Edge]:
        """Implements :meth:`GraphStore.edges`."""
        return self._edges((src, str(typ), dst) for src, typ, dst in keys)

    def neighbours(
        self,
        node_id: str,
        *,
        types: Sequence[EdgeType] | None = None,
        direction: Direction = "out",
        limit: int = 1000,
    ) -> list[tuple[Edge, Node]]:
        """Implements :meth:`GraphStore.neighbours`: edges at ``node_id``, each with its other end."""
        keys = self._adjacent([node_id], types, direction, limit)
        edges = self._edges(keys)
        others = self._nodes(e.dst if e.src == node_id else e.src for e in edges)
        return [(e, others[o]) for e in edges if (o := e.dst if e.src == node_id else e.src) in others]

    def paths(  # a helper over the primitives, not part of the GraphStore contract
        self,
        starts: Sequence[str],
        ends: Sequence[str],
        *,
        max_hops: int = 3,
        types: Sequence[EdgeType] | None = None,
        limit: int = 100,
        direction: Direction = "out",
    ) -> list[GraphPath]:
        """Shortest paths (breadth-first) from any of ``starts`` to any of ``ends``.

        Args:
            starts: Node ids to start from.
            ends: Node ids to reach; a start that is also an end is a path of length 0.
            max_hops: The longest path in edges.
            types: Edge types to follow (all when None).
            limit: At most this many paths.
            direction: Follow edges ``"out"`` of, ``"in"`` to, or ``"both"`` ways from each node.

        Returns:
            One :class:`GraphPath` per end reached, nearest first.
        """
        targets = set(ends)
        parent: dict[str, tuple[str, tuple[str, str, str]] | None] = {s: None for s in starts}
        frontier = list(dict.fromkeys(starts))
        found: list[str] = [s for s in frontier if s in targets]
        for _ in range(max_hops):
            if not frontier or len(found) >= limit:
                break
            here_set = set(frontier)
            nxt = []
            for src, typ, dst in self._adjacent(frontier, types, direction):
                moves = []
                if direction in ("out", "both") and src in here_set:
                    moves.append((src, dst))
                if direction in ("in", "both") and dst in here_set:
                    moves.append((dst, src))
                for here, there in moves:
                    if there not in parent:
                        parent[there] = (here, (src, typ, dst))
                        nxt.append(there)
                        if there in targets:
                            found.append(there)
            frontier = nxt
        out = []
        for end in found[:limit]:
            chain: list[tuple[str, str, str]] = []
            nodes = [end]
            step = parent[end]
            while step is not None:
                prev, key = step
                chain.append(key)
                nodes.append(prev)
                step = parent[prev]
            chain.reverse()
            nodes.reverse()
            out.append(GraphPath(nodes=tuple(nodes), edges=tuple(self._edges(chain))))
        return out

    def subgraph(
        self,
        node_ids: Sequence[str],
        *,
        hops: int = 1,
        types: Sequence[EdgeType] | None = None,
        direction: Direction = "both",
    ) -> Subgraph:
        """Nodes within ``hops`` of ``node_ids`` and the edges between them."""
        seen = set(node_ids)
        frontier = deque(node_ids)
        keys: set[tuple[str, str, str]] = set()
        for _ in range(hops):
            batch = list(frontier)
            frontier.clear()
            for key in self._adjacent(batch, types, direction):
                keys.add(key)
                for n in (key[0], key[2]):
                    if n not in seen:
                        seen.add(n)
                        frontier.append(n)
        nodes = self._nodes(seen)
        edges = [e for e in self._edges(sorted(keys)) if e.src in nodes and e.dst in nodes]
        return Subgraph(nodes=tuple(nodes.values()), edges=tuple(edges))
