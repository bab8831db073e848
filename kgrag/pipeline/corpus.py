"""Corpus ingestion into the graph.

Document and Chunk nodes, MENTIONS of linked concepts, and disease -> finding facts from pages that
describe a disease's signs and symptoms, each fact citing the chunk and the character span it comes
from.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
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
    """The graph node id of a document: ``doc:<document id>``."""
    return f"doc:{doc_id}"


def chunk_node_id(chunk: Chunk) -> str:
    """The graph node id of a chunk: ``chunk:<chunk id>``."""
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
    doc: SourceDocument,
    linker: ConceptLinker,
    source: str,
    max_chars: int = 1200,
    is_disease: Callable[[str], bool] | None = None,
) -> tuple[list[Node], list[Edge]]:
    """The nodes and edges one document contributes.

    Its Document and Chunk nodes, the chunks' MENTIONS, and HAS_FINDING facts (from MedQuAD symptom
    sections, and the guideline facts of :mod:`kgrag.pipeline.guideline_facts`; ``is_disease`` tells
    which concepts are disease-tier, default: disease-kind).
    """
    doc_node = document_node_id(doc.id)
    focus = _focus(doc, linker)
    in_doc: list[Mention] = []  # every chunk's mentions, in document offsets
    chunk_spans: list[tuple[int, int, str]] = []
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
        chunk_spans.append((chunk.start, chunk.end, cid))
        in_doc.extend(
            m.model_copy(update={"start": chunk.start + m.start, "end": chunk.start + m.end})
            for m in mentions
        )
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
    edges.extend(_guideline_edges(doc, linker, source, focus, in_doc, chunk_spans, is_disease))
    return nodes, edges


def _guideline_edges(
    doc: SourceDocument,
    linker: ConceptLinker,
    source: str,
    focus: str | None,
    mentions: list[Mention],
    chunk_spans: list[tuple[int, int, str]],
    is_disease: Callable[[str], bool] | None,
) -> list[Edge]:
    """HAS_FINDING edges for the guideline facts of one document.

    Each claim cites the stating sentence (``start``/``end`` in the document, reference:
    its chunk).
    """
    from kgrag.pipeline.guideline_facts import extract_facts, title_disease

    focus = focus or title_disease(doc.title, linker, is_disease)
    claims: dict[tuple[str, str], list[Claim]] = {}
    starts = [s for s, _, _ in chunk_spans]  # chunks are in document order
    for f in extract_facts(doc.text, mentions, focus=focus, is_disease=is_disease):
        k = bisect.bisect_right(starts, f.start) - 1
        inside = k >= 0 and f.start < chunk_spans[k][1]
        chunk = chunk_spans[k][2] if inside else document_node_id(doc.id)
        claims.setdefault((f.disease, f.finding), []).append(
            Claim(
                source=source,
                reference=chunk,
                start=f.start,
                end=f.end,
                props={
                    "text": f.text,
                    "section": f.section,
                    "polarity": f.polarity,
                    "rule": f.rule,
                    "finding_text": f.finding_text,
                    "finding_start": f.finding_start,
                    "finding_end": f.finding_end,
                },
            )
        )
    out: list[Edge] = []
    for (disease, finding), cs in claims.items():
        shown = any(c.props["polarity"] == "present" for c in cs)  # as the schema sums up
        out.append(
            Edge(
                src=disease,
                type=EdgeType.HAS_FINDING,
                dst=finding,
                props={"polarity": "present" if shown else "not_shown"},
                claims=tuple(cs),
            )
        )
    return out


class CorpusUpdate(BaseModel):
    """What one corpus build did, document by document."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    nodes: int = 0
    edges: int = 0


def _stored_checksums(store: GraphStore, source: str) -> dict[str, str | None]:
    """The stored checksum of every document of ``source``, by node id.

    None marks a document whose write did not finish.
    """
    return {
        n.id: (str(n.props["checksum"]) if n.props.get("checksum") else None)
        for n in store.iter_nodes(Label.DOCUMENT)
        if source in n.sources
    }


def build_corpus(
    builder: Builder, spec: SourceSpec, name: str, warnings: Warnings, *, incremental: bool = False
) -> CorpusUpdate:
    """Link and write every document of a corpus source.

    ``incremental``: the store holds an earlier build of this source with the same linker, so
    documents whose checksum is unchanged are kept, changed ones replaced and vanished ones removed.
    """
    from kgrag.linking.linker import ConceptLinker

    if not spec.path:
        raise ConfigError(f"corpus source {name!r} needs a path")
    folder = builder.recipe.confined(spec.path)
    store = builder.store
    stored = _stored_checksums(store, name) if incremental else {}
    linker: ConceptLinker | None = None
    is_disease: Callable[[str], bool] | None = None
    update = CorpusUpdate()
    seen: set[str] = set()
    items = read_corpus(
        folder,
        format=spec.format,
        source=name,
        limit=spec.limit,
        max_chars=spec.max_chars,
        allowed=builder.recipe.allowed(),
    )
    for item in counted(items, builder.say, f"{name}: documents", spec.limit):
        if isinstance(item, ReadFailure):
            warnings.add(f"file skipped: {item.kind}", f"{item.path}: {item.reason}")
            continue
        doc_node = document_node_id(item.id)
        seen.add(doc_node)
        if doc_node in stored and stored[doc_node] == item.checksum:
            update.unchanged += 1
            continue
        linker = linker or ConceptLinker(builder.table, kinds=builder.recipe.linker_kinds)
        is_disease = is_disease or _disease_tier(builder)
        try:  # one document's chunking or linking failure skips that document alone
            nodes, edges = document_records(item, linker, name, is_disease=is_disease)
        except Exception as e:
            logger.warning("%s: document %s not linked: %s", name, item.id, type(e).__name__)
            warnings.add("document skipped: linking failed", f"{item.path}: {type(e).__name__}: {e}")
            seen.discard(doc_node)
            continue
        if doc_node in stored:
            store.delete_documents([doc_node])
            update.changed += 1
        else:
            update.added += 1
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


def _disease_tier(builder: Builder) -> Callable[[str], bool]:
    """Whether a concept id is a disease-tier concept of the builder's table.

    Groups and categories such as "infection" or "lung disease" are not the X of a fact.
    """
    from kgrag.graph.schema import Tier

    table, tiers = builder.table, builder._tiers_of_table()

    def is_disease(concept_id: str) -> bool:
        i = table.index_of(concept_id)
        return i is not None and tiers[i] is Tier.DISEASE

    return is_disease


def _pending(node: Node) -> Node:
    return node.model_copy(update={"props": {**node.props, "checksum": None}})
