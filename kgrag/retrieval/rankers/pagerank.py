"""The personalized-PageRank ranker (:mod:`kgrag.retrieval.ppr`).

Measured beside the likelihood ratios.
"""

from __future__ import annotations

from typing import ClassVar

from kgrag.config import Settings
from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.ppr import PersonalizedPageRank
from kgrag.retrieval.rankers.base import RankedList, RankRequest, graph_ranks, top_by_score


class PageRankRanker:
    """Ranks by the walk's mass from the present findings minus that from the absent ones.

    ``score`` is that mass (a probability difference).
    """

    needs_passages: ClassVar[bool] = False

    def __init__(self, model: DiagnosticModel, settings: Settings) -> None:
        self.model = model
        self.walk = PersonalizedPageRank(model)

    def rank(self, request: RankRequest) -> RankedList:
        """See :class:`~kgrag.retrieval.rankers.base.Ranker`."""
        ranks = graph_ranks(self.model, request.log_lr).ranks
        mass = self.walk.score(request.present, request.absent)
        return top_by_score(self.model, mass, "ppr", ranks)
