"""Traversals every store shares, written once over three primitives a store provides:
``_adjacent(ids, types, direction)`` (edge keys), ``_edges(keys)`` and ``_nodes(ids)``."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from kgrag.graph.base import Direction
from kgrag.graph.schema import Edge, EdgeType, Node, Subgraph
from kgrag.graph.schema import Path as GraphPath

EdgeKey = tuple[str, str, str]


class Traversal:
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

    def get_node(self, node_id: str) -> Node | None:
        return self._nodes([node_id]).get(node_id)

    def get_nodes(self, node_ids: Iterable[str]) -> dict[str, Node]:
        return self._nodes(node_ids)

    def edges(self, keys: Iterable[tuple[str, EdgeType, str]]) -> list[Edge]:
        return self._edges((src, str(typ), dst) for src, typ, dst in keys)

    def neighbours(
        self,
        node_id: str,
        *,
        types: Sequence[EdgeType] | None = None,
        direction: Direction = "out",
        limit: int = 1000,
    ) -> list[tuple[Edge, Node]]:
        keys = self._adjacent([node_id], types, direction, limit)
        edges = self._edges(keys)
        others = self._nodes(e.dst if e.src == node_id else e.src for e in edges)
        return [(e, others[o]) for e in edges if (o := e.dst if e.src == node_id else e.src) in others]

    def paths(
        self,
        starts: Sequence[str],
        ends: Sequence[str],
        *,
        max_hops: int = 3,
        types: Sequence[EdgeType] | None = None,
        limit: int = 100,
        direction: Direction = "out",
    ) -> list[GraphPath]:
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
