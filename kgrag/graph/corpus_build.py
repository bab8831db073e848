"""Corpus ingestion into the graph: Document and Chunk nodes, MENTIONS of linked concepts,
and disease -> finding facts from pages that describe a disease's signs and symptoms,
each fact citing the chunk and the character span it comes from."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kgrag.corpus.chunking import Chunk, chunk_document
from kgrag.corpus.documents import ReadFailure, SourceDocument, read_corpus
from kgrag.errors import ConfigError
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node
from kgrag.ontology.records import Warnings
from kgrag.types import Assertion, Mention, SemanticKind

if TYPE_CHECKING:
    from kgrag.graph.build import Builder, SourceSpec
    from kgrag.linking.linker import ConceptLinker

logger = logging.getLogger(__name__)

SYMPTOM_SECTIONS = frozenset({"symptoms", "signs and symptoms", "symptom"})
MIN_SCORE = 0.3  # mentions whose best candidate is less likely right than this are not kept


def document_node_id(doc_id: str) -> str:
    return f"doc:{doc_id}"


def chunk_node_id(chunk: Chunk) -> str:
    return f"chunk:{chunk.id}"


def _focus(doc: SourceDocument, linker: ConceptLinker) -> str | None:
    table = linker.table
    for code in doc.focus_codes:
        concept = table.resolve(code)
        if concept is not None:
            return concept
    if doc.focus:
        for c in linker.normalize(doc.focus, k=1):
            if c.kind is SemanticKind.DISEASE:
                return c.concept_id
    return None


def document_records(
    doc: SourceDocument, linker: ConceptLinker, source: str, max_chars: int = 1200
) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges one document contributes."""
    doc_node = document_node_id(doc.id)
    focus = _focus(doc, linker)
    nodes = [
        Node(
            id=doc_node,
            label=Label.DOCUMENT,
            name=doc.title,
            sources=(source,),
            props={
                "text": doc.text,
                "source": doc.source,
                "version": doc.version,
                "path": doc.path,
                "checksum": doc.checksum,
                "focus": focus,
            },
        )
    ]
    edges: list[Edge] = []
    for chunk in chunk_document(doc, max_chars=max_chars):
        cid = chunk_node_id(chunk)
        nodes.append(
            Node(
                id=cid,
                label=Label.CHUNK,
                name=f"{doc.title} ({chunk.section})",
                sources=(source,),
                props={
                    "text": chunk.text,
                    "start": chunk.start,
                    "end": chunk.end,
                    "section": chunk.section,
                    "document": doc_node,
                },
            )
        )
        edges.append(
            Edge(
                src=cid,
                type=EdgeType.IN_DOCUMENT,
                dst=doc_node,
                claims=(Claim(source=source, reference=doc.id),),
            )
        )
        mentions: list[Mention] = linker.link(chunk.text)
        for m in mentions:
            best = m.candidates[0]
            if best.score < MIN_SCORE:
                continue
            start, end = chunk.start + m.start, chunk.start + m.end
            claim = Claim(
                source=source,
                reference=cid,
                start=start,
                end=end,
                props={"assertion": m.assertion.value, "text": m.text, "score": best.score},
            )
            edges.append(Edge(src=cid, type=EdgeType.MENTIONS, dst=best.concept_id, claims=(claim,)))
            if (
                focus
                and chunk.section in SYMPTOM_SECTIONS
                and best.concept_id != focus
                and best.kind is SemanticKind.FINDING
                and m.assertion is Assertion.PRESENT
            ):
                edges.append(
                    Edge(
                        src=focus,
                        type=EdgeType.HAS_FINDING,
                        dst=best.concept_id,
                        props={"polarity": "present"},
                        claims=(
                            Claim(
                                source=source,
                                reference=cid,
                                start=start,
                                end=end,
                                props={"text": m.text, "section": chunk.section},
                            ),
                        ),
                    )
                )
    return nodes, edges


def build_corpus(builder: Builder, spec: SourceSpec, name: str, warnings: Warnings) -> tuple[int, int]:
    from kgrag.linking.linker import ConceptLinker

    if not spec.path:
        raise ConfigError(f"corpus source {name!r} needs a path")
    folder = (builder.recipe.base_dir / spec.path).resolve()
    linker = ConceptLinker(builder.table, kinds=builder.recipe.linker_kinds)
    n_nodes = n_edges = docs = 0
    for item in read_corpus(folder, format=spec.format, source=name, limit=spec.limit):
        if isinstance(item, ReadFailure):
            warnings.add("file skipped", f"{item.path}: {item.reason}")
            continue
        nodes, edges = document_records(item, linker, name)
        n_nodes += builder.store.upsert_nodes(nodes)
        n_edges += builder.store.upsert_edges(edges)
        docs += 1
        if docs % 50 == 0:
            builder.say(f"{name}: {docs} documents")
    if docs == 0:
        raise ConfigError(f"corpus source {name!r}: no readable document under {folder}")
    return n_nodes, n_edges
