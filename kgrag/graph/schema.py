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
    ``HAS_FINDING`` disease -> finding. ``props``: ``frequency`` (0..1, mean over the
                    claims that give one), ``polarity`` (``present``; ``excluded`` when a
                    source says the disease does *not* show the finding, so its presence
                    argues against the disease), ``onset``.
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

from enum import StrEnum
from typing import Any

from pydantic import Field

from kgrag.types import BoundaryModel


class Label(StrEnum):
    CONCEPT = "Concept"
    DOCUMENT = "Document"
    CHUNK = "Chunk"


class Tier(StrEnum):
    CATEGORY = "category"
    GROUP = "group"
    DISEASE = "disease"
    FINDING = "finding"
    OTHER = "other"


class EdgeType(StrEnum):
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
        return (
            f"{self.reference or ''}|{self.start if self.start is not None else ''}|"
            f"{self.end if self.end is not None else ''}"
        )


class Node(_Frozen):
    id: str
    label: Label
    name: str = ""
    tier: Tier | None = None
    kind: str | None = None
    codes: tuple[str, ...] = ()
    props: dict[str, Any] = Field(default_factory=dict)
    sources: tuple[str, ...] = Field(min_length=1)


class Edge(_Frozen):
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
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


class GraphCounts(_Frozen):
    nodes: dict[str, int]
    edges: dict[str, int]
    tiers: dict[str, int] = Field(default_factory=dict)
    sources: int = 0
