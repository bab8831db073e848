"""The graph likelihood-ratio ranker.

Diseases by their summed log likelihood ratio (:mod:`kgrag.retrieval.model`).
"""

from __future__ import annotations

from typing import ClassVar

from kgrag.config import Settings
from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.rankers.base import RankedList, RankRequest, graph_ranks


class GraphRanker:
    """Ranks by the graph model's scores; ``score`` is the summed log LR (nats)."""

    needs_passages: ClassVar[bool] = False

    def __init__(self, model: DiagnosticModel, settings: Settings) -> None:
        self.model = model

    def rank(self, request: RankRequest) -> RankedList:
        """See :class:`~kgrag.retrieval.rankers.base.Ranker`."""
        return graph_ranks(self.model, request.log_lr)
