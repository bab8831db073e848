"""Corpus ingestion into the graph: Document and Chunk nodes, MENTIONS of linked concepts,
and disease -> finding facts from pages that describe a disease's signs and symptoms,
each fact citing the chunk and the character span it comes from."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel

from kgrag.corpus.chunking import Chunk, chunk_document
from kgrag.corpus.documents import ReadFailure, SourceDocument, read_corpus
from kgrag.errors import ConfigError
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node
from kgrag.ontology.records import Warnings
from kgrag.progress import counted
from kgrag.types import Assertion, Mention, SemanticKind

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker
    from kgrag.pipeline.runner import Builder, SourceSpec

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


class CorpusUpdate(BaseModel):
    """What one corpus build did, document by document."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    nodes: int = 0
    edges: int = 0


def _stored_checksums(store: GraphStore, source: str) -> dict[str, str | None]:
    """Document node id -> checksum of every document of ``source`` in the store (None: a
    document whose write did not finish)."""
    return {
        n.id: (str(n.props["checksum"]) if n.props.get("checksum") else None)
        for n in store.iter_nodes(Label.DOCUMENT)
        if source in n.sources
    }


def build_corpus(
    builder: Builder, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> CorpusUpdate:
    """Link and write every document of a corpus source. ``incremental``: the store holds
    an earlier build of this source with the same linker, so documents whose checksum is
    unchanged are kept, changed ones replaced and vanished ones removed."""
    from kgrag.linking.linker import ConceptLinker

    if not spec.path:
        raise ConfigError(f"corpus source {name!r} needs a path")
    folder = (builder.recipe.base_dir / spec.path).resolve()
    store = builder.store
    stored = _stored_checksums(store, name) if incremental else {}
    linker: ConceptLinker | None = None
    update = CorpusUpdate()
    seen: set[str] = set()
    items = read_corpus(folder, format=spec.format, source=name, limit=spec.limit)
    for item in counted(items, builder.say, f"{name}: documents", spec.limit):
        if isinstance(item, ReadFailure):
            warnings.add("file skipped", f"{item.path}: {item.reason}")
            continue
        doc_node = document_node_id(item.id)
        seen.add(doc_node)
        if doc_node in stored and stored[doc_node] == item.checksum:
            update.unchanged += 1
            continue
        if doc_node in stored:
            store.delete_documents([doc_node])
            update.changed += 1
        else:
            update.added += 1
        linker = linker or ConceptLinker(builder.table, kinds=builder.recipe.linker_kinds)
        nodes, edges = document_records(item, linker, name)
        # the document node goes last with its checksum, so a document whose write was
        # cut short is redone on the next build
        update.nodes += store.upsert_nodes([_pending(nodes[0]), *nodes[1:]])
        update.edges += store.upsert_edges(edges)
        store.upsert_nodes(nodes[:1])
    if not seen:
        raise ConfigError(f"corpus source {name!r}: no readable document under {folder}")
    gone = [d for d in stored if d not in seen]
    if gone:
        store.delete_documents(gone)
        update.removed = len(gone)
    return update


def _pending(node: Node) -> Node:
    return node.model_copy(update={"props": {**node.props, "checksum": None}})
