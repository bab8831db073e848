"""Personalized PageRank over the diagnostic model, the alternative to likelihood ratios.

The walk runs on one undirected graph: finding terms linked to their IS_A parents, and
diseases linked to the terms they are annotated with (weight = frequency). It restarts
at the patient's present findings; a second walk from the absent findings is
subtracted (``beta``), so diseases near what the patient does *not* have lose mass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kgrag.retrieval.model import DiagnosticModel, FloatArray


class PersonalizedPageRank:
    """Personalized PageRank over the diagnostic model's finding hierarchy and annotations.

    ``restart`` is the restart probability, ``iterations`` the power iterations, and ``beta`` the
    weight of the walk from absent findings.
    """

    def __init__(
        self, model: DiagnosticModel, *, restart: float = 0.3, iterations: int = 30, beta: float = 0.5
    ) -> None:
        from scipy import sparse

        self.model, self.restart, self.iterations, self.beta = model, restart, iterations, beta
        n_t = len(model.terms)
        src: list[int] = []
        dst: list[int] = []
        w: list[float] = []
        for child, parents in enumerate(model.parents):
            for p in parents:
                src.append(child)
                dst.append(p)
                w.append(1.0)
        default = model.params.default_frequency
        for a in model.annotations:
            if not a.not_shown:
                src.append(n_t + a.disease)
                dst.append(a.term)
                w.append(a.frequency if a.frequency is not None else default)
        n = n_t + len(model.diseases)
        a_half = sparse.csr_matrix((w, (src, dst)), shape=(n, n))
        adjacency = (a_half + a_half.T).tocsr()
        degree = np.asarray(adjacency.sum(axis=0)).ravel()
        degree[degree == 0] = 1.0
        self.walk = adjacency @ sparse.diags(1.0 / degree)  # column-stochastic
        self.n_terms = n_t

    def _run(self, seeds: Sequence[int]) -> FloatArray:
        n = self.walk.shape[0]
        s = np.zeros(n)
        if not seeds:
            return s
        s[list(seeds)] = 1.0 / len(seeds)
        r = s.copy()
        for _ in range(self.iterations):
            r = self.restart * s + (1 - self.restart) * (self.walk @ r)
        return r

    def score(self, present: Sequence[int], absent: Sequence[int] = ()) -> FloatArray:
        """Per disease.

        The walk's mass from the present findings minus ``beta`` times the mass from the absent
        ones.
        """
        r = self._run(list(dict.fromkeys(present)))
        if absent:
            r = r - self.beta * self._run(list(dict.fromkeys(absent)))
        out: FloatArray = r[self.n_terms :]
        return out
