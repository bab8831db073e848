"""The hierarchical diagnostic graph: what its nodes and edges are.

Nodes
    ``Concept``  a unified concept (id = its unified id; all source codes in ``codes``),
                 with a ``tier``: category > group > disease > finding (``other`` for
                 modifiers and the rest). Tiers come from the vocabularies' hierarchies:
                 ICD-10-CM chapters and blocks and ontology roots are categories, classes
                 with disease descendants are groups, leaves and near-leaves are diseases,
                 HPO phenotypic abnormalities and symptoms are findings.
    ``Document`` a source text (``props``: title, source, version, checksum, path).
    ``Chunk``    a span of a document (``props``: text, start, end; ``document``).

Edges (``src -[TYPE]-> dst``)
    ``IS_A``        child -> parent concept.
    ``HAS_FINDING`` disease -> finding. ``props``: ``frequency`` (0..1, derived on
                    read by :func:`edge_frequency` from the claims, never stored),
                    ``polarity`` (``present``; ``not_shown`` when a source says the
                    disease does *not* show the finding, a NOT or a 0/n frequency, so its
                    presence argues against the disease; each claim carries its own, the
                    edge is ``present`` when any claim is), ``onset``.
    ``HAS_RISK_FACTOR`` disease -> antecedent/exposure concept (DDXPlus antecedents).
    ``MENTIONS``    chunk -> concept. ``props``: ``start``, ``end`` (characters in the
                    document), ``assertion``.
    ``IN_DOCUMENT`` chunk -> document.

Provenance
    Every node and edge is held by one or more *sources* (``"HPOA:2025-01-16"``,
    ``"doc:medquad/0000001_1"``). An edge keeps one :class:`Claim` per source assertion
    (with its reference or chunk span); deleting a source deletes its claims, and an edge
    or node left with none disappears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field

from kgrag.types import BoundaryModel


class Label(StrEnum):
    """The node labels of the graph."""

    CONCEPT = "Concept"
    DOCUMENT = "Document"
    CHUNK = "Chunk"


class Tier(StrEnum):
    """A concept's level in the hierarchy (``category`` > ``group`` > ``disease``), or a finding."""

    CATEGORY = "category"
    GROUP = "group"
    DISEASE = "disease"
    FINDING = "finding"
    OTHER = "other"


class EdgeType(StrEnum):
    """The relationship types of the graph (one per kind of fact)."""

    IS_A = "IS_A"
    HAS_FINDING = "HAS_FINDING"
    HAS_RISK_FACTOR = "HAS_RISK_FACTOR"
    MENTIONS = "MENTIONS"
    IN_DOCUMENT = "IN_DOCUMENT"


_Frozen = BoundaryModel  # the one frozen base (kgrag.types)


class Claim(_Frozen):
    """One source's assertion of an edge: who says it, where, and with which values."""

    source: str
    reference: str | None = Field(default=None, description="PMID, OMIM, ... or a chunk id")
    start: int | None = Field(default=None, description="span in the chunk's document")
    end: int | None = None
    props: dict[str, Any] = Field(default_factory=dict)

    def key(self) -> str:
        """The claim's identity within its edge and source, as stored by the SQLite store.

        ``reference|start|end``: ``start`` and ``end`` are integers or empty, so the string
        splits back uniquely from the right even when the reference holds ``|``; no reader
        splits it (a structured key, :meth:`identity`, is what Neo4j stores).

        Returns:
            The key string.
        """
        return (
            f"{self.reference or ''}|{self.start if self.start is not None else ''}|"
            f"{self.end if self.end is not None else ''}"
        )

    def identity(self) -> tuple[str, str | None, int | None, int | None]:
        """``(source, reference, start, end)``: the structured key of a claim on its edge."""
        return (self.source, self.reference, self.start, self.end)


NOT_SHOWN_POLARITIES = ("not_shown", "excluded")  # "excluded": older graphs' name
"""Claim polarities saying a disease does *not* show a finding."""


def edge_frequency(claims: Iterable[Claim]) -> float | None:
    """An edge's frequency.

    The mean of the numeric ``frequency`` props of its claims that say the disease shows the finding
    (a ``not_shown`` claim, e.g. "0/7 patients", says how rarely it does not; it argues against the
    disease instead and is left out here).

    The one definition every reader uses (both stores fill ``Edge.props["frequency"]``
    with it on HAS_FINDING edges; the diagnostic model applies it to the claims of one
    polarity; evidence reports it).

    Args:
        claims: the claims to average (an edge's, or a subset of them).

    Returns:
        The mean in 0..1, or None when no claim gives a frequency.
    """
    values = [
        float(f)
        for c in claims
        if isinstance(f := c.props.get("frequency"), int | float)
        and not isinstance(f, bool)
        and c.props.get("polarity", "present") not in NOT_SHOWN_POLARITIES
    ]
    return sum(values) / len(values) if values else None


def merge_props(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The props an upsert leaves on a node or edge that already exists (both stores).

    Args:
        stored: the props held now (empty for a new node or edge).
        given: the props of the upsert.

    Returns:
        ``stored`` updated key by key: each key in ``given`` replaces that key's value
        whole; a key given as None is removed; keys not given are kept.
    """
    out = {k: v for k, v in stored.items() if k not in given}
    out.update((k, v) for k, v in given.items() if v is not None)
    return out


def with_frequency(
    edge_type: EdgeType, props: dict[str, Any], claims: Iterable[Claim]
) -> dict[str, Any]:
    """``props`` of a HAS_FINDING edge as readers return them.

    ``frequency`` derived from the claims by :func:`edge_frequency` (absent when none gives one);
    other types as they are.
    """
    if edge_type is not EdgeType.HAS_FINDING:
        return props
    props.pop("frequency", None)
    frequency = edge_frequency(claims)
    if frequency is not None:
        props["frequency"] = frequency
    return props


class Node(_Frozen):
    """A graph node: a concept, a document or a chunk, with the sources that hold it (at least one)."""

    id: str
    label: Label
    name: str = ""
    tier: Tier | None = None
    kind: str | None = None
    codes: tuple[str, ...] = ()
    props: dict[str, Any] = Field(default_factory=dict)
    sources: tuple[str, ...] = Field(min_length=1)


class Edge(_Frozen):
    """A directed edge ``src -type-> dst``: its merged props and the claims asserting it (1+)."""

    src: str
    type: EdgeType
    dst: str
    props: dict[str, Any] = Field(default_factory=dict)
    claims: tuple[Claim, ...] = Field(min_length=1)


class Path(_Frozen):
    """A chain of edges from one of the start concepts to one of the end concepts."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]


class Subgraph(_Frozen):
    """A set of nodes and the edges between them."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


class GraphCounts(_Frozen):
    """What a graph store holds: nodes per label, edges per type, concepts per tier, sources."""

    nodes: dict[str, int]
    edges: dict[str, int]
    tiers: dict[str, int] = Field(default_factory=dict)
    sources: int = 0
