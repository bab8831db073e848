"""Evidence for a candidate.

How each of the patient's findings meets it (a graph path, its log likelihood ratio, the citations
of the facts on the path), its category path, and the roll-up of the posterior to groups and
categories.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Edge, EdgeType
from kgrag.retrieval.citations import claim_citation, is_span_claim
from kgrag.retrieval.compile import is_not_shown
from kgrag.retrieval.findings import term_ref
from kgrag.retrieval.model import DiagnosticModel, FloatArray, Match
from kgrag.retrieval.types import CategoryScore, Citation, ConceptRef, FindingEvidence

ROLL_UP = 50  # candidates whose probability is rolled up to groups and categories


class EvidenceBuilder:
    """Builds evidence from the compiled model, and citations from the store.

    Args:
        model: the diagnostic model (matches, frequencies, category paths).
        store: the knowledge base the facts' claims are read from.
    """

    def __init__(self, model: DiagnosticModel, store: GraphStore) -> None:
        self.model, self.store = model, store

    def category_path(self, concept: str) -> list[ConceptRef]:
        """The nearest group and category above a disease (the model's compiled path)."""
        return [ConceptRef(id=c, name=n, tier=t) for c, n, t in self.model.category_path(concept)]

    def findings(
        self,
        d: int,
        present: Sequence[int],
        absent: Sequence[int],
        dropped: set[str],
        *,
        cite: bool,
    ) -> list[FindingEvidence]:
        """How each finding bears on disease ``d``, strongest first.

        Args:
            d: the disease's index in the model.
            present: present finding terms.
            absent: absent finding terms.
            dropped: references left out of the scoring (their annotations too).
            cite: read each fact's claims from the store and cite them (passage spans
                verified); without it the evidence comes from the model alone.

        Returns:
            One evidence item per finding; its ``log_lr`` values sum to the disease's score.
        """
        m = self.model
        matches = m.explain(d, present, absent, dropped)
        frequency = {a.term: a.frequency for a in m.by_disease[d] if not a.not_shown}
        citations = self._citations(d, matches) if cite else {}
        out = [
            FindingEvidence(
                finding=term_ref(m, x.term),
                absent=not x.present,
                not_shown=x.not_shown,
                matched=term_ref(m, x.matched) if x.matched is not None else None,
                annotated=term_ref(m, x.via) if x.via is not None else None,
                frequency=_round(frequency.get(x.via))
                if x.via is not None and not x.not_shown
                else None,
                log_lr=round(x.log_lr, 4),
                path=self._path(d, x),
                citations=citations.get((x.via, x.not_shown), []) if x.via is not None else [],
            )
            for x in matches
        ]
        out.sort(key=lambda e: -abs(e.log_lr))
        return out

    def _path(self, d: int, x: Match) -> list[str]:
        """``finding -IS_A*-> matched <-IS_A*- annotated <-HAS_FINDING- disease`` as ids."""
        m = self.model
        path = [m.terms[x.term]]
        if x.matched is not None and x.matched != x.term:
            path.append(m.terms[x.matched])
        if x.via is not None:
            if m.terms[x.via] not in path:
                path.append(m.terms[x.via])
            path.append(m.diseases[d])
        return path

    def _citations(self, d: int, matches: Sequence[Match]) -> dict[tuple[int, bool], list[Citation]]:
        """The citations of the disease's HAS_FINDING fact, by ``(annotated term, not_shown)``.

        One citation per claim of that polarity.
        """
        m = self.model
        disease = m.diseases[d]
        keys = [(disease, EdgeType.HAS_FINDING, m.terms[x.via]) for x in matches if x.via is not None]
        edges: dict[str, Edge] = {e.dst: e for e in self.store.edges(keys)}
        chunks = self.store.get_nodes(
            str(c.reference) for e in edges.values() for c in e.claims if is_span_claim(c)
        )
        out: dict[tuple[int, bool], list[Citation]] = {}
        for dst, e in edges.items():
            for c in e.claims:
                key = (m.term_index[dst], is_not_shown(c))
                out.setdefault(key, []).append(claim_citation(self.store, c, chunks))
        return out

    def roll_up(self, posterior: FloatArray, n: int = 10) -> list[CategoryScore]:
        """The ``n`` groups and categories with the largest summed posterior, most probable first.

        Sums run over the ``ROLL_UP`` most probable diseases.
        """
        totals: dict[str, float] = {}
        names: dict[str, tuple[str, str]] = {}
        for i in np.argsort(-posterior)[:ROLL_UP]:
            p = float(posterior[i])
            for c, name, tier in self.model.category_path(self.model.diseases[i]):
                totals[c] = totals.get(c, 0.0) + p
                names[c] = (name, tier)
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:n]
        return [
            CategoryScore(id=i, name=names[i][0], tier=names[i][1], probability=round(min(p, 1.0), 6))
            for i, p in ranked
        ]


def _round(f: float | None) -> float | None:
    return None if f is None else round(f, 3)
