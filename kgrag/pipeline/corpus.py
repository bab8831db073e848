"""What one corpus document contributes to the graph.

Document and Chunk nodes, MENTIONS of linked concepts, and disease -> finding facts from pages that
describe a disease's signs and symptoms, each fact citing the chunk and the character span it comes
from. Pure functions of a document and a linker: the shard stage (:mod:`kgrag.pipeline.stage`)
runs them, and the ``corpus`` source kind (:mod:`kgrag.pipeline.sources.corpus`) drives it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import TYPE_CHECKING

from kgrag.corpus.chunking import Chunk, chunk_document
from kgrag.corpus.documents import SourceDocument
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node
from kgrag.types import Assertion, Mention, SemanticKind

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker

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
    sections, and the guideline facts of :mod:`kgrag.facts.guideline_facts`; ``is_disease`` tells
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
    from kgrag.facts.guideline_facts import extract_facts, title_disease

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
