"""The ``GraphStore`` Protocol: what every store (embedded SQLite, Neo4j) provides.

Every implementation passes ``tests/test_graph_contract.py``. A new store subclasses
:class:`~kgrag.graph.traversal.Traversal` and implements its three read primitives
(:class:`~kgrag.graph.traversal.Backend`) plus the writes, bulk reads and meta below;
neighbours, ancestors, subgraph and the node/edge lookups come from ``Traversal``.

Semantics both stores share (the contract suite checks each):

- **props merge key by key** on upsert (nodes and edges alike): each key given replaces
  that key's value whole, a key given as None is removed, keys not given are kept
  (:func:`~kgrag.graph.schema.merge_props`).
- **claims** are keyed by ``(source, reference, start, end)``: an upsert replaces the claim
  with the same key and adds the others; an edge without claims does not exist.
- **frequency** of a HAS_FINDING edge is derived on read from its claims
  (:func:`~kgrag.graph.schema.edge_frequency`), never stored.
- **errors**: unreachable or unresponsive store -> ``GraphUnavailable``; a failed read
  -> ``GraphReadError``; a failed write -> ``GraphWriteError``.
- **lifetime**: a store is a context manager; ``close`` is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol, Self, runtime_checkable

from kgrag.graph.schema import Edge, EdgeType, GraphCounts, Label, Node, Subgraph

Direction = Literal["out", "in", "both"]


@runtime_checkable
class GraphStore(Protocol):
    """The contract every graph store keeps (SQLite embedded, Neo4j).

    The contract suite ``tests/test_graph_contract.py`` runs against each. Open one with
    :func:`kgrag.open_store`.

    Examples:
        >>> import kgrag
        >>> with kgrag.open_store("/tmp/kgrag-kb") as store:  # doctest: +SKIP
        ...     store.counts().edges.get("HAS_FINDING", 0)
    """

    name: str
    #: where the store is, safe to print: its directory, or its URI without credentials
    location: str
    #: the directory of an embedded store (retrieval artifacts live beside it), else None
    directory: Path | None

    def upsert_nodes(self, nodes: Iterable[Node]) -> int:
        """Insert or merge nodes.

        Args:
            nodes: nodes to write; an existing node keeps the union of sources, its name,
                tier, kind and codes unless the new ones are given, and merges ``props``
                key by key (None removes a key).

        Returns:
            How many nodes were written.

        Raises:
            GraphWriteError: the write failed; rerunning the build resumes.
        """
        ...

    def upsert_edges(self, edges: Iterable[Edge]) -> int:
        """Insert or merge edges (both end nodes must exist).

        Args:
            edges: edges to write; ``props`` merge key by key, each claim replaces the
                edge's claim with the same ``(source, reference, start, end)``.

        Returns:
            How many edges were written.

        Raises:
            GraphWriteError: the write failed.
        """
        ...

    def delete_source(self, source: str) -> dict[str, int]:
        """Remove a source's claims and node holdings; orphans disappear.

        Returns:
            Counts removed: ``{"claims", "edges", "nodes"}``.
        """
        ...

    def delete_documents(self, document_ids: Iterable[str]) -> dict[str, int]:
        """Remove Document nodes, their chunks and the claims citing those chunks.

        The chunks are those ``IN_DOCUMENT`` of a removed document; facts left without a
        claim disappear.

        Returns:
            Counts removed: ``{"claims", "edges", "nodes"}``.
        """
        ...

    def get_node(self, node_id: str) -> Node | None:
        """The node with this id, or None."""
        ...

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
    ) -> list[tuple[Edge, Node]]:
        """Edges at ``node_id`` along ``direction`` with the node at their other end."""
        ...

    def ancestors(self, node_id: str, *, max_depth: int = 10) -> list[tuple[Node, int]]:
        """IS_A ancestors with their depth (1 = parent), nearest first, then by id."""
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

    def counts(self) -> GraphCounts:
        """Nodes per label, edges per type, concepts per tier, number of sources."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Record a build fact (status, fingerprints) in the store."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A recorded build fact, or None."""
        ...

    def close(self) -> None:
        """Release the store (idempotent)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
