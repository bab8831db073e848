"""Rankers, one file each, behind one :class:`~kgrag.retrieval.rankers.base.Ranker` Protocol.

A new ranker is a new file here and one line in ``RANKERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from kgrag.config import Settings
from kgrag.errors import InvalidRequest
from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.rankers.base import RankedList, Ranker, RankRequest
from kgrag.retrieval.rankers.ensemble import EnsembleRanker
from kgrag.retrieval.rankers.fused import FusedRanker
from kgrag.retrieval.rankers.graph import GraphRanker
from kgrag.retrieval.rankers.pagerank import PageRankRanker
from kgrag.retrieval.rankers.semantic import SemanticRanker

RANKERS: dict[str, Callable[[DiagnosticModel, Settings], Ranker]] = {
    "graph": GraphRanker,
    "ppr": PageRankRanker,
    "fused": FusedRanker,
    "semantic": SemanticRanker,
    "ensemble": EnsembleRanker,
}


def make_ranker(name: str, model: DiagnosticModel, settings: Settings) -> Ranker:
    """The ranker registered as ``name``.

    Raises:
        InvalidRequest: no ranker has that name.
    """
    factory = RANKERS.get(name)
    if factory is None:
        raise InvalidRequest(f"unknown ranking method {name!r}; choose one of {', '.join(RANKERS)}")
    return factory(model, settings)


__all__ = ["RANKERS", "RankRequest", "RankedList", "Ranker", "make_ranker"]
