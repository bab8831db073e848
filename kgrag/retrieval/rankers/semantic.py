"""The semantic-similarity ranker: information-content similarity of the findings to each disease.

Sources: Resnik, "Using information content to evaluate semantic similarity in a
taxonomy", IJCAI 1995 (the similarity of two terms is the information content of their
most informative common ancestor, MICA); Köhler et al., "Clinical diagnostics in human
genetics with semantic similarity searches in ontologies", Am J Hum Genet 85:457-464,
2009 (the Phenomizer: a patient's terms against a disease's annotations, each patient
term scored by its best match, averaged); Pesquita et al., PLoS Comput Biol 5:e1000443,
2009 (best-match average, BMA, the symmetric form).

With the compiled :class:`~kgrag.retrieval.model.DiagnosticModel`:

* the information content is the model's ``ic = -log q``, the is_a-aware background:
  ``q[t]`` is the mean over diseases of ``F[:, t]``, the annotation *frequency* of ``t`` or
  any term below it, so a finding most diseases show often is worth little;
* patient -> disease: for a present finding ``p``, the MICA with any of the disease's
  annotations is the most informative ancestor of ``p`` (``p`` itself included) that the
  disease shows (``F[d, x] > 0``: it is annotated at ``x`` or below), so
  ``s_pd[d] = mean_p max_{x in anc(p), F[d, x] > 0} ic[x]``;
* disease -> patient: for each of the disease's own annotations ``a``,
  ``max_{x in anc(a) and x in anc(some p)} ic[x]``, averaged over the annotations weighted
  by their frequency (a feature seen in 90% of patients counts 9 times one seen in 10%:
  a patient lacking the disease's typical features is a worse match);
* the ranker's score is ``s_pd + TIE_BREAK * s_dp`` (nats): the Phenomizer's one-sided
  similarity, whose many ties (every disease annotated with all of the patient's terms
  scores the same) the frequency-weighted reverse side breaks. On the phenopacket
  development cases the one-sided score with this tie-break ranks better than the
  best-match average ``(s_pd + s_dp) / 2`` (top-1 0.33 against 0.23 of the cases, whose
  own gold disease the reverse side alone ranks first in 5%: it favours diseases with
  few annotations).

Absent findings do not enter the similarity (as in the Phenomizer); the graph's
likelihood ratios, which the ensemble combines with this score, count them.
Everything is vectorised over diseases: one sparse column write per ancestor of a
present finding (diseases that show it), one per ancestor of any finding (annotated
terms below it), a column that covers most rows written as a fill plus its few missing
rows, and one sparse matrix-vector product for the weighted mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from kgrag.config import Settings
from kgrag.retrieval.model import DiagnosticModel, FloatArray, IntArray
from kgrag.retrieval.rankers.base import RankedList, RankRequest, graph_ranks, top_by_score

TIE_BREAK = 0.01  # weight of the disease -> patient side in the ranker's score


@dataclass(frozen=True)
class Similarity:
    """Per disease (index = model disease index), the parts of the similarity.

    Attributes:
        patient_to_disease: mean over the present findings of their best match's IC (nats).
        disease_to_patient: frequency-weighted mean over the disease's annotations of their
            best match's IC among the findings (nats).
        exact: how many present findings the disease shows at that term or below.
    """

    patient_to_disease: FloatArray
    disease_to_patient: FloatArray
    exact: FloatArray

    @property
    def score(self) -> FloatArray:
        """The ranker's score, ``patient_to_disease + TIE_BREAK * disease_to_patient`` (nats)."""
        out: FloatArray = self.patient_to_disease + TIE_BREAK * self.disease_to_patient
        return out

    @property
    def bma(self) -> FloatArray:
        """The best-match average, ``(patient_to_disease + disease_to_patient) / 2`` (nats)."""
        out: FloatArray = 0.5 * (self.patient_to_disease + self.disease_to_patient)
        return out


class SemanticIndex:
    """What the similarity reuses across requests, precomputed from one model.

    Args:
        model: the compiled diagnostic model.
    """

    def __init__(self, model: DiagnosticModel) -> None:
        from scipy import sparse

        self.model = model
        n_d = len(model.diseases)
        default = model.params.default_frequency
        # direct annotations, merged per (disease, term) to their largest frequency
        rows = [
            (a.disease, a.term, default if a.frequency is None else a.frequency)
            for a in model.annotations
            if not a.not_shown
        ]
        arr = np.array(rows, np.float64).reshape(-1, 3)
        d, t, f = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
        key = d * len(model.terms) + t
        order = np.lexsort((-f, key))
        key, f = key[order], f[order]
        first = np.ones(len(key), bool)
        first[1:] = key[1:] != key[:-1]
        key, f = key[first], f[first]
        self.ann_disease: IntArray = key // len(model.terms)
        ann_term = key % len(model.terms)
        # the annotated terms once each, with their ancestors flattened (for the d -> p side)
        self.terms_used, self.ann_slot = np.unique(ann_term, return_inverse=True)
        ptr = model._anc_ptr
        lengths = ptr[self.terms_used + 1] - ptr[self.terms_used]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        gather = np.repeat(ptr[self.terms_used] - starts, lengths) + np.arange(lengths.sum())
        n_slots = len(self.terms_used)
        # term x -> the annotated terms at or below it (one sparse column per term)
        self.below = sparse.csc_matrix(
            (
                np.ones(len(gather), bool),
                (np.repeat(np.arange(n_slots), lengths), model._anc_idx[gather]),
            ),
            shape=(n_slots, len(model.terms)),
        )
        self.ann_weight: FloatArray = f
        total = np.bincount(self.ann_disease, weights=f, minlength=n_d)
        self.weight_total: FloatArray = np.where(total > 0, total, 1.0)
        # disease x annotated term, each annotation's share of its disease's total weight
        self.reverse_weights = sparse.csr_matrix(
            (f / self.weight_total[self.ann_disease], (self.ann_disease, self.ann_slot)),
            shape=(n_d, len(self.terms_used)),
        )
        self.annotation_count: FloatArray = np.bincount(self.ann_disease, minlength=n_d).astype(
            np.float64
        )
        # ancestors in ascending IC order, so later column writes keep the larger IC
        self.ascending = [tuple(sorted(anc, key=lambda x: model.ic[x])) for anc in model.ancestors]
        # a column most diseases show (the root, organ systems) is written as "all but
        # these few": a fill and a small scatter instead of a large one
        self.complement = _complements(model.F)
        self.below_complement = _complements(self.below)

    def similarity(self, present: Sequence[int]) -> Similarity:
        """The similarity of every disease to the present findings (each counted once).

        Args:
            present: present finding terms (model term indices); implied ancestors are dropped.

        Returns:
            The parts per disease; all zero without a present finding.
        """
        model = self.model
        n_d = len(model.diseases)
        present, _ = model.distinct(present)
        if not present:
            zero = np.zeros(n_d)
            return Similarity(zero, zero.copy(), zero.copy())
        F, ic = model.F, model.ic
        total = np.zeros(n_d)
        exact = np.zeros(n_d)
        best = np.empty(n_d)
        for p in present:
            best.fill(0.0)
            _write_max(best, F, self.ascending[p], ic, self.complement)
            total += best
            exact[F.indices[F.indptr[p] : F.indptr[p + 1]]] += 1.0
        p_to_d = total / len(present)
        # d -> p: each annotated term's best common ancestor with the findings, written
        # down from every ancestor of a finding to the annotated terms below it
        reached = sorted({x for p in present for x in model.ancestors[p]}, key=lambda x: ic[x])
        best_term = np.zeros(self.below.shape[0])
        _write_max(best_term, self.below, reached, ic, self.below_complement)
        d_to_p = np.asarray(self.reverse_weights @ best_term, np.float64)
        return Similarity(p_to_d, d_to_p, exact)


def _complements(matrix: Any) -> dict[int, IntArray]:
    """For each column of a CSC matrix holding most rows: the rows it lacks."""
    n = matrix.shape[0]
    sizes = np.diff(matrix.indptr)
    everyone = np.ones(n, bool)
    out: dict[int, IntArray] = {}
    for x in np.flatnonzero(sizes > n // 2):
        everyone[:] = True
        everyone[matrix.indices[matrix.indptr[x] : matrix.indptr[x + 1]]] = False
        out[int(x)] = np.flatnonzero(everyone)
    return out


def _write_max(
    best: FloatArray,
    matrix: Any,
    columns: Sequence[int],
    ic: FloatArray,
    complement: dict[int, IntArray],
) -> None:
    """``best[rows of column x] = ic[x]`` for each column in ascending IC order (so the max stays).

    A column that holds most rows is written as a fill plus its few missing rows restored:
    every value written before is <= ``ic[x]``.
    """
    for x in columns:
        missing = complement.get(x)
        if missing is None:
            best[matrix.indices[matrix.indptr[x] : matrix.indptr[x + 1]]] = ic[x]
        else:
            keep = best[missing]
            best.fill(ic[x])
            best[missing] = keep


class SemanticRanker:
    """Ranks by the Phenomizer's Resnik similarity, ties broken by the reverse side (module docstring).

    ``score`` is that similarity (nats). The pretest probability does not enter it.
    """

    needs_passages: ClassVar[bool] = False

    def __init__(self, model: DiagnosticModel, settings: Settings) -> None:
        self.model = model
        self.index = SemanticIndex(model)

    def rank(self, request: RankRequest) -> RankedList:
        """See :class:`~kgrag.retrieval.rankers.base.Ranker`."""
        ranks = graph_ranks(self.model, request.log_lr).ranks
        sim = self.index.similarity(request.present)
        return top_by_score(self.model, sim.score, "semantic", ranks)
