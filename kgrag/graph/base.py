"""The ``GraphStore`` Protocol: what every store (embedded SQLite, Neo4j) provides.

Every implementation passes ``tests/test_graph_contract.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from kgrag.graph.schema import Edge, EdgeType, GraphCounts, Label, Node, Path, Subgraph

Direction = Literal["out", "in", "both"]


@runtime_checkable
class GraphStore(Protocol):
    """The contract every graph store keeps (SQLite embedded, Neo4j); the contract suite
    ``tests/test_graph_contract.py`` runs against each. Open one with
    :func:`kgrag.open_store`.

    Example:
        >>> import kgrag
        >>> with kgrag.open_store("/tmp/kgrag-kb") as store:  # doctest: +SKIP
        ...     store.counts().edges.get("HAS_FINDING", 0)
    """

    name: str

    def upsert_nodes(self, nodes: Iterable[Node]) -> int:
        """Insert or merge nodes (sources and codes are unions); returns how many."""
        ...

    def upsert_edges(self, edges: Iterable[Edge]) -> int:
        """Insert or merge edges; claims are keyed by (source, reference, span)."""
        ...

    def delete_source(self, source: str) -> dict[str, int]:
        """Remove a source's claims and node holdings; orphans disappear."""
        ...

    def delete_documents(self, document_ids: Iterable[str]) -> dict[str, int]:
        """Remove Document nodes, their chunks (``IN_DOCUMENT``) and every claim whose
        reference is one of those chunks; facts left without a claim disappear."""
        ...

    def get_node(self, node_id: str) -> Node | None: ...

    def get_nodes(self, node_ids: Iterable[str]) -> dict[str, Node]:
        """The nodes with these ids, by id (missing ones left out), in one round trip."""
        ...

    def edges(self, keys: Iterable[tuple[str, EdgeType, str]]) -> list[Edge]:
        """The edges with these ``(src, type, dst)`` keys (missing ones left out)."""
        ...

    def iter_nodes(self, label: Label | None = None) -> Iterator[Node]:
        """Every node (of ``label``), streamed: bulk reads for retrieval artifacts."""
        ...

    def iter_edges(self, types: Sequence[EdgeType] | None = None) -> Iterator[Edge]:
        """Every edge (of ``types``) with all its claims, streamed."""
        ...

    def neighbours(
        self,
        node_id: str,
        *,
        types: Sequence[EdgeType] | None = None,
        direction: Direction = "out",
        limit: int = 1000,
    ) -> list[tuple[Edge, Node]]: ...

    def ancestors(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]:
        """IS_A ancestors with their depth (1 = parent), nearest first."""
        ...

    def descendants(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]: ...

    def paths(
        self,
        starts: Sequence[str],
        ends: Sequence[str],
        *,
        max_hops: int = 3,
        types: Sequence[EdgeType] | None = None,
        limit: int = 100,
        direction: Direction = "out",
    ) -> list[Path]:
        """Shortest paths from any start to any end (``direction`` as in neighbours)."""
        ...

    def subgraph(
        self,
        node_ids: Sequence[str],
        *,
        hops: int = 1,
        types: Sequence[EdgeType] | None = None,
        direction: Direction = "both",
    ) -> Subgraph:
        """Nodes within ``hops`` of ``node_ids`` (along ``direction``) and their edges."""
        ...

    def counts(self) -> GraphCounts: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def get_meta(self, key: str) -> str | None: ...

    def close(self) -> None: ...
