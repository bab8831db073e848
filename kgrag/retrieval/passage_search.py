"""Passages for a request.

Vector search over the corpus chunks, each hit with its document, the diseases it is about and a
verified citation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kgrag.errors import GraphError, KgragError, RetrievalError
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import EdgeType, Node, Tier
from kgrag.retrieval.citations import passage_citation
from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.types import Passage

if TYPE_CHECKING:
    from pathlib import Path

    from kgrag.retrieval.passages import PassageIndex

logger = logging.getLogger(__name__)

QUERY_FINDINGS = 8  # coded findings named in the passage query


def findings_query(model: DiagnosticModel, present: Sequence[int]) -> str:
    """The passage query for coded findings.

    The names of the ``QUERY_FINDINGS`` most specific ones (a long list adds encoder time, not
    recall).
    """
    top = sorted(present, key=lambda t: -model.ic[t])[:QUERY_FINDINGS]
    return "; ".join(model.term_names[t] for t in top)


def chunk_passage(
    store: GraphStore, chunk: Node, doc: Node | None, score: float, concepts: list[str], source: str
) -> Passage:
    """A stored chunk as a :class:`Passage` with its verified citation.

    Args:
        store: the knowledge base (the document is read from it when ``doc`` is None).
        chunk: the chunk node (``props``: ``text``, ``start``, ``end``, ``document``, ``section``).
        doc: its document node, if already read.
        score: the passage's score (vector similarity, or another ranking's).
        concepts: the diseases it is about.
        source: what found it (``vector``, ``corpus``), named in the citation.
    """
    start, end = int(chunk.props["start"]), int(chunk.props["end"])
    return Passage(
        chunk=chunk.id,
        document=str(chunk.props.get("document")),
        title=doc.name if doc else "",
        section=chunk.props.get("section"),
        start=start,
        end=end,
        text=str(chunk.props.get("text", "")),
        score=round(score, 4),
        concepts=concepts,
        citation=passage_citation(store, chunk, doc, start, end, source),
    )


class PassageSearch:
    """The passage index of a knowledge base, loaded on first use.

    Args:
        store: the knowledge base (chunks, documents, mentions).
        directory: its retrieval artifacts directory.
    """

    def __init__(self, store: GraphStore, directory: Path) -> None:
        self.store, self.directory = store, directory
        self._index: PassageIndex | None = None
        self._mentions: dict[str, tuple[str, ...]] | None = None
        self.error: str | None = None  # why vector search is unavailable, once known

    @property
    def index(self) -> PassageIndex | None:
        """``None`` (with the reason in ``error``) when the index cannot be used."""
        if self._index is None and self.error is None:
            from kgrag.retrieval.passages import PassageIndex

            try:
                self._index = PassageIndex.load(self.directory, store=self.store)
            except (RetrievalError, GraphError):  # a real fault: the caller must see it
                raise
            except (KgragError, ImportError, OSError) as e:  # e.g. its encoder is not installed
                self.error = f"vector search unavailable: {e}"
        return self._index

    def search(self, query: str, k: int) -> list[Passage]:
        """The ``k`` nearest chunks to ``query``, best first (empty without an index)."""
        index = self.index
        if index is None:
            return []
        hits = index.search(query, k)
        nodes = self.store.get_nodes([c for c, _ in hits])
        docs = self.store.get_nodes({str(n.props.get("document")) for n in nodes.values()})
        about = self._diseases_mentioned([c for c, _ in hits])
        out: list[Passage] = []
        for chunk_id, score in hits:
            node = nodes.get(chunk_id)
            if node is None:
                continue
            doc = docs.get(str(node.props.get("document")))
            focus = [str(doc.props["focus"])] if doc is not None and doc.props.get("focus") else []
            concepts = list(dict.fromkeys(focus + about.get(chunk_id, [])))
            out.append(chunk_passage(self.store, node, doc, score, concepts, "vector"))
        return out

    def _diseases_mentioned(self, chunk_ids: Sequence[str]) -> dict[str, list[str]]:
        """Chunk -> the diseases (and groups) it mentions as present (from :attr:`mentions`)."""
        mentions = self.mentions
        return {c: list(mentions[c]) for c in chunk_ids if c in mentions}

    @property
    def mentions(self) -> dict[str, tuple[str, ...]]:
        """Every chunk -> the diseases and groups it mentions as present, ids in sorted order.

        Read once (on first use; the sidecar reads it at load) from the MENTIONS edges and the
        tiers of the concepts they reach, instead of a subgraph read per request. A rebuild of
        the knowledge base makes a new Diagnoser, so it never outlives its graph.
        """
        if self._mentions is None:
            present: dict[str, list[str]] = {}
            for edge in self.store.iter_edges([EdgeType.MENTIONS]):
                if any(cl.props.get("assertion") == "present" for cl in edge.claims):
                    present.setdefault(edge.src, []).append(edge.dst)
            targets = {d for ds in present.values() for d in ds}
            tiers = {i: n.tier for i, n in self.store.get_nodes(sorted(targets)).items()}
            wanted = (Tier.DISEASE, Tier.GROUP)
            table = {
                c: tuple(sorted({d for d in ds if tiers.get(d) in wanted})) for c, ds in present.items()
            }
            self._mentions = {c: ds for c, ds in table.items() if ds}
        return self._mentions
