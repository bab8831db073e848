"""Citations: a graph claim or a passage as a :class:`Citation`.

Also the check that a cited span of a stored document reads exactly as its quote.
"""

from __future__ import annotations

from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Claim, Label, Node
from kgrag.retrieval.types import Citation


def is_span_claim(claim: Claim) -> bool:
    """Does the claim cite a span of a corpus chunk (rather than a curated record)?"""
    return (
        claim.start is not None and bool(claim.reference) and str(claim.reference).startswith("chunk:")
    )


def passage_citation(
    store: GraphStore, chunk: Node, doc: Node | None, start: int, end: int, source: str
) -> Citation:
    """The citation of characters ``start:end`` of the chunk's document, verified.

    Args:
        store: where the document is read from when ``doc`` is not given.
        chunk: the chunk node (``props``: ``text``, ``start``, ``document``).
        doc: the chunk's document node, if already read.
        start: first character, in document coordinates.
        end: one past the last character.
        source: the graph source that made the claim (``vector`` for a search hit).

    Returns:
        The citation, ``verified`` when the stored document reads as the quote.
    """
    citation = Citation(
        kind="passage",
        source=source,
        document=str(chunk.props.get("document")),
        chunk=chunk.id,
        start=start,
        end=end,
        quote=str(chunk.props.get("text", ""))[start - int(chunk.props["start"]) :][: end - start],
    )
    return citation.model_copy(update={"verified": verify(store, citation, doc)})


def claim_citation(store: GraphStore, claim: Claim, chunks: dict[str, Node]) -> Citation:
    """A claim of a graph fact as a citation.

    A verified passage span when it cites one of ``chunks``, else the curated record it names.
    """
    chunk = chunks.get(str(claim.reference)) if is_span_claim(claim) else None
    if chunk is not None and claim.start is not None:
        return passage_citation(store, chunk, None, claim.start, claim.end or claim.start, claim.source)
    return Citation(kind="annotation", source=claim.source, reference=claim.reference)


def verify(store: GraphStore, citation: Citation, doc: Node | None = None) -> bool:
    """Does the cited span of the stored document read exactly as the quote?

    Args:
        store: the knowledge base holding the document.
        citation: the citation (an ``annotation`` citation is taken as it is: True).
        doc: the document node, if already read (ignored when it is another document).

    Returns:
        Whether ``document.text[start:end] == quote``.
    """
    if citation.kind != "passage":
        return True
    if citation.document is None or citation.start is None or citation.end is None:
        return False
    if doc is None or doc.id != citation.document:
        doc = store.get_node(citation.document)
    if doc is None or doc.label is not Label.DOCUMENT:
        return False
    text = str(doc.props.get("text", ""))
    return 0 <= citation.start <= citation.end <= len(text) and text[citation.start : citation.end] == (
        citation.quote or ""
    )
