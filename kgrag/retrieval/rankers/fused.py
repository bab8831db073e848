"""The fused ranker.

The graph's ranking and the passage hits' diseases combined by reciprocal-rank fusion or a weighted
score (:mod:`kgrag.retrieval.fusion`).
"""

from __future__ import annotations

from typing import ClassVar

from kgrag.config import Settings
from kgrag.retrieval.fusion import reciprocal_rank_fusion, weighted_fusion
from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.rankers.base import RankedList, RankRequest, graph_ranks


class FusedRanker:
    """A disease's vector score is its best passage's cosine.

    ``score`` is the fusion score (``settings.fusion``: ``rrf`` or ``weighted``, weights
    ``fusion_graph_weight`` and ``fusion_vector_weight``).
    """

    needs_passages: ClassVar[bool] = True

    def __init__(self, model: DiagnosticModel, settings: Settings) -> None:
        self.model, self.settings = model, settings

    def rank(self, request: RankRequest) -> RankedList:
        """See :class:`~kgrag.retrieval.rankers.base.Ranker`."""
        graph = graph_ranks(self.model, request.log_lr)
        vector: dict[str, float] = {}
        for p in request.passages:
            for d in p.concepts:
                vector[d] = max(vector.get(d, -1.0), p.score)
        vector_ids = sorted(vector, key=lambda d: -vector[d])
        for r, d in enumerate(vector_ids, start=1):
            graph.ranks.setdefault(d, {})["vector"] = r
        s = self.settings
        weights = {"graph": s.fusion_graph_weight, "vector": s.fusion_vector_weight}
        if s.fusion == "rrf":
            fused = reciprocal_rank_fusion(
                {"graph": graph.order, "vector": vector_ids}, weights, s.rrf_k
            )
        else:
            fused = weighted_fusion({"graph": graph.scores, "vector": vector}, weights)
        return RankedList(list(fused), fused, graph.ranks)
