"""The diagnostic model.

The graph's disease -> finding annotations and the finding hierarchy as arrays, scored as likelihood
ratios.

For a disease ``d`` and a finding term ``t``, ``F[d, t]`` is the frequency with which
``d`` shows ``t`` or any term below it (annotations propagate up the IS_A hierarchy, the
true-path rule), unknown frequencies taken as ``default_frequency``. ``q[t]`` is the
background: the mean of ``F[:, t]`` over all diseases, so ``-log q[t]`` is the term's
information content.

A present finding ``p`` is matched at the most informative term ``a`` among ``p`` and its
ancestors that ``d`` shows; its likelihood ratio is ``F[d, a] / q[a]``, times ``kappa``
when ``a`` is only an ancestor of ``p`` (the disease shows something more general than
the patient's finding), ``eps`` when nothing matches, and ``contradicted`` when ``d``
is annotated as *not* showing ``p`` (a ``not_shown`` annotation). An absent finding ``e`` gives
``max(1 - w F[d, e], floor) / (1 - w q[e])`` with ``w = absent_weight``: a disease that expects it is
penalized in proportion to how often it shows it. ``absent_weight`` < 1 because absent
findings are not missing at random: a clinician records as absent what the suspected
disease would show, so a typical feature's absence is weaker evidence than its frequency
says (on the phenopacket dev cases, counting absences fully costs 4-5 points of
top-1). A disease's score is the sum of log ratios. A finding given together with its own
descendants counts once (:meth:`DiagnosticModel.distinct`): a present finding implied
by a more specific present one, or an absent finding implied by a more general absent
one, adds nothing.

The model is compiled once from any :class:`~kgrag.graph.base.GraphStore` (bulk reads,
:func:`kgrag.retrieval.compile.compile_model`) and saved beside the knowledge base;
``score`` ranks every disease in a few milliseconds with sparse column reads,
``explain`` recomputes one disease term by term (the evidence) and agrees with
``score`` (tested).
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import Field

from kgrag.errors import RetrievalNotBuilt
from kgrag.types import BoundaryModel

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
CategoryStep = tuple[str, str, str]  # (id, name, tier) of a group or category above a disease
FILE_NAME = "diagnostic_model.npz"
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class ScoringParams(BoundaryModel):
    """The likelihood-ratio constants (see the module docstring)."""

    kappa: float = Field(0.1, gt=0, le=1, description="ratio factor for an ancestor-only match")
    eps: float = Field(0.02, gt=0, description="ratio for a finding the disease shows nothing like")
    floor: float = Field(0.05, gt=0, le=1, description="lowest ratio for an expected, absent finding")
    absent_weight: float = Field(
        0.25, gt=0, le=1, description="how much an expected finding's absence counts (1 = fully)"
    )
    contradicted: float = Field(
        0.01, gt=0, le=1, description="ratio for a finding the disease is annotated as lacking"
    )
    default_frequency: float = Field(0.5, gt=0, le=1, description="for annotations without one")


@dataclass(frozen=True)
class Annotation:
    """One direct disease -> finding annotation, merged over its sources."""

    disease: int
    term: int
    frequency: float | None
    not_shown: bool  # the source says the disease does *not* show the finding
    references: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """How one case finding met one disease in :meth:`DiagnosticModel.explain`."""

    term: int
    present: bool  # the patient's side: present (True) or absent (False)
    matched: int | None  # the term the disease shows (the finding itself or an ancestor)
    via: int | None  # the disease's annotated term at or below ``matched``
    log_lr: float
    not_shown: bool = False  # ``via`` is annotated as *not* shown by the disease


class DiagnosticModel:
    """The diagnostic model: the finding hierarchy and the disease -> finding annotations, with scoring.

    Built by :mod:`kgrag.retrieval.compile`; ``params`` are the scoring constants.
    """

    def __init__(
        self,
        terms: list[str],
        term_names: list[str],
        parents: list[list[int]],
        diseases: list[str],
        disease_names: list[str],
        annotations: list[Annotation],
        params: ScoringParams | None = None,
        fingerprint: str = "",
        category_paths: dict[str, list[CategoryStep]] | None = None,
    ) -> None:
        self.terms, self.term_names, self.parents = terms, term_names, parents
        self.diseases, self.disease_names = diseases, disease_names
        # per disease or group concept of the graph: its nearest group and category
        # ancestors (:func:`kgrag.retrieval.compile.category_path`, the only algorithm)
        self.category_paths = category_paths or {}
        self.annotations = annotations
        self.fingerprint = fingerprint
        self.term_index = {t: i for i, t in enumerate(terms)}
        self.disease_index = {d: i for i, d in enumerate(diseases)}
        self.ancestors = self._closure()
        self._anc_ptr = np.concatenate([[0], np.cumsum([len(a) for a in self.ancestors])]).astype(
            np.int64
        )
        self._anc_idx = np.fromiter(
            (x for a in self.ancestors for x in a), np.int64, int(self._anc_ptr[-1])
        )
        self.by_disease: list[list[Annotation]] = [[] for _ in diseases]
        self.by_reference: dict[str, set[int]] = {}
        for a in annotations:
            self.by_disease[a.disease].append(a)
            for r in a.references:
                self.by_reference.setdefault(r, set()).add(a.disease)
        lacking = [(a.disease, a.term) for a in annotations if a.not_shown]
        self.not_shown_pairs = set(lacking)
        self.not_shown_by_term: dict[int, list[int]] = {}
        for dis, term in lacking:
            self.not_shown_by_term.setdefault(term, []).append(dis)
        self.params = params or ScoringParams.model_validate({})
        self._propagate()

    # -- structure -----------------------------------------------------------------------
    def category_path(self, concept: str) -> list[CategoryStep]:
        """The nearest group and category above a disease or group concept (compiled at build time).

        Empty for a concept the graph places under neither.
        """
        return self.category_paths.get(concept, [])

    def _closure(self) -> list[tuple[int, ...]]:
        """Each term's ancestors, itself first (memoized DFS over the parent lists)."""
        memo: list[tuple[int, ...] | None] = [None] * len(self.terms)

        def up(t: int, seen: frozenset[int]) -> tuple[int, ...]:
            cached = memo[t]
            if cached is not None:
                return cached
            out = dict.fromkeys([t])
            for p in self.parents[t]:
                if p not in seen:  # a cycle in bad data must not recurse forever
                    out.update(dict.fromkeys(up(p, seen | {t})))
            memo[t] = tuple(out)
            return memo[t]  # type: ignore[return-value]

        return [up(t, frozenset()) for t in range(len(self.terms))]

    def _propagate(self) -> None:
        """``F`` (column-major) and the background ``q`` for the current parameters."""
        from scipy import sparse

        keep = [a for a in self.annotations if not a.not_shown]
        default = self.params.default_frequency
        d = np.array([a.disease for a in keep], np.int64)
        t = np.array([a.term for a in keep], np.int64)
        f = np.array([default if a.frequency is None else a.frequency for a in keep], np.float64)
        # expand every annotation to its term's ancestors (true-path rule)
        lengths = np.diff(self._anc_ptr)[t]
        starts = np.repeat(self._anc_ptr[t] - np.cumsum(lengths) + lengths, lengths)
        cols = self._anc_idx[np.arange(lengths.sum()) + starts]
        rows, vals = np.repeat(d, lengths), np.repeat(f, lengths)
        shape = (len(self.diseases), len(self.terms))
        key = rows * shape[1] + cols
        order = np.lexsort((-vals, key))  # per (disease, term) the largest frequency first
        key, vals = key[order], vals[order]
        first = np.ones(len(key), bool)
        first[1:] = key[1:] != key[:-1]
        key, vals = key[first], vals[first]
        self.F = sparse.csc_matrix((vals, (key // shape[1], key % shape[1])), shape=shape)
        n = max(len(self.diseases), 1)
        self.q = (np.asarray(self.F.sum(axis=0)).ravel() + 1.0) / (n + 1.0)
        self.F_rows = self.F.tocsr()  # the same, by disease: a disease's row is a cheap slice
        self.ic = -np.log(self.q)
        # ancestors ordered most informative first (the finding itself always first)
        self.match_order = [
            (anc[0], *sorted(anc[1:], key=lambda t: -self.ic[t])) for anc in self.ancestors
        ]

    def with_params(self, params: ScoringParams) -> DiagnosticModel:
        """The same model scored with other constants (the hierarchy is reused)."""
        if params == self.params:
            return self
        other = copy.copy(self)
        other.params = params
        other._propagate()
        return other

    # -- scoring -------------------------------------------------------------------------
    def distinct(
        self, present: Sequence[int], absent: Sequence[int] = ()
    ) -> tuple[list[int], list[int]]:
        """The findings that count, each once.

        A present finding is left out when a more specific present finding below it implies it, an
        absent finding when a more general absent finding above it implies it (input order kept
        otherwise).
        """
        p, a = list(dict.fromkeys(present)), list(dict.fromkeys(absent))
        implied = {x for t in p for x in self.ancestors[t][1:]}
        general = set(a)
        return (
            [t for t in p if t not in implied],
            [t for t in a if not any(x in general for x in self.ancestors[t][1:])],
        )

    def _absent_ratio(self, f: FloatArray | float, t: int) -> FloatArray | float:
        p = self.params
        background = 1.0 - p.absent_weight * min(float(self.q[t]), 0.95)
        return np.maximum(1.0 - p.absent_weight * np.asarray(f), p.floor) / background

    def score(
        self,
        present: Sequence[int],
        absent: Sequence[int] = (),
        *,
        drop_references: Iterable[str] = (),
    ) -> FloatArray:
        """Summed log likelihood ratios for every disease (index = disease index).

        ``drop_references``: score as if annotations citing only these references did
        not exist (for evaluating on cases curated from the same papers).
        """
        p = self.params
        n = len(self.diseases)
        total = np.zeros(n)
        F = self.F
        present, absent = self.distinct(present, absent)
        for t in present:
            lr = np.full(n, np.nan)
            for rank, a in enumerate(self.match_order[t]):
                lo, hi = F.indptr[a], F.indptr[a + 1]
                idx = F.indices[lo:hi]
                unset = np.isnan(lr[idx])
                factor = 1.0 if rank == 0 else p.kappa
                lr[idx[unset]] = F.data[lo:hi][unset] / self.q[a] * factor
            lr[np.isnan(lr)] = p.eps
            contradicted = self.not_shown_by_term.get(t)
            if contradicted:
                lr[contradicted] = p.contradicted
            total += np.log(lr)
        for t in absent:
            col = np.zeros(n)
            lo, hi = F.indptr[t], F.indptr[t + 1]
            col[F.indices[lo:hi]] = F.data[lo:hi]
            total += np.log(self._absent_ratio(col, t))
        dropped = set(drop_references)
        if dropped:
            affected = set().union(*(self.by_reference.get(r, set()) for r in dropped))
            for d in affected:
                total[d] = sum(m.log_lr for m in self.explain(d, present, absent, dropped))
        return total

    def _propagated_row(self, d: int, dropped: set[str]) -> dict[int, tuple[float, int]]:
        """``term -> (F[d, term], the annotated term it comes from)`` for one disease."""
        row: dict[int, tuple[float, int]] = {}
        default = self.params.default_frequency
        for a in self.by_disease[d]:
            if a.not_shown or (dropped and set(a.references) <= dropped):
                continue
            f = a.frequency if a.frequency is not None else default
            for anc in self.ancestors[a.term]:
                if anc not in row or f > row[anc][0]:
                    row[anc] = (f, a.term)
        return row

    def explain(
        self,
        d: int,
        present: Sequence[int],
        absent: Sequence[int] = (),
        dropped: set[str] | None = None,
    ) -> list[Match]:
        """Term by term, how the findings meet disease ``d`` (sums to ``score(...)[d]``)."""
        p = self.params
        dropped = dropped or set()
        row = self._propagated_row(d, dropped)
        out: list[Match] = []
        present, absent = self.distinct(present, absent)
        for t in present:
            if (d, t) in self.not_shown_pairs and not (dropped and self._only_dropped(d, t, dropped)):
                out.append(Match(t, True, None, t, math.log(p.contradicted), not_shown=True))
                continue
            for rank, a in enumerate(self.match_order[t]):
                if a in row:
                    f, via = row[a]
                    lr = f / self.q[a] * (1.0 if rank == 0 else p.kappa)
                    out.append(Match(t, True, a, via, math.log(lr)))
                    break
            else:
                out.append(Match(t, True, None, None, math.log(p.eps)))
        for t in absent:
            f, via = row.get(t, (0.0, None))  # type: ignore[assignment]
            lr = float(self._absent_ratio(f, t))
            out.append(Match(t, False, t if via is not None else None, via, math.log(lr)))
        return out

    def _only_dropped(self, d: int, t: int, dropped: set[str]) -> bool:
        return all(
            set(a.references) <= dropped for a in self.by_disease[d] if a.term == t and a.not_shown
        )

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Save the model to ``path`` as an ``.npz`` file (arrays plus JSON metadata)."""
        meta = {
            "format": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "terms": self.terms,
            "term_names": self.term_names,
            "parents": self.parents,
            "diseases": self.diseases,
            "disease_names": self.disease_names,
            **_pack_paths(self.category_paths),
            "references": [list(a.references) for a in self.annotations],
        }
        freq = np.array(
            [np.nan if a.frequency is None else a.frequency for a in self.annotations], np.float64
        )
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            disease=np.array([a.disease for a in self.annotations], np.int32),
            term=np.array([a.term for a in self.annotations], np.int32),
            frequency=freq,
            not_shown=np.array([a.not_shown for a in self.annotations], bool),
        )
        tmp.replace(path)  # a reader never sees half a file

    @classmethod
    def load(cls, path: Path, params: ScoringParams | None = None) -> DiagnosticModel:
        """Load a model saved by :meth:`save`.

        Raises:
            RetrievalNotBuilt: there is no file at ``path``.
        """
        if not path.is_file():
            raise RetrievalNotBuilt(
                f"no diagnostic model at {path}; run `kgrag build` to make the retrieval artifacts"
            )
        with np.load(path) as z:
            raw = z["meta"].tobytes()
            try:  # orjson: a few times faster on the model's large meta (names, references)
                meta = orjson.loads(raw)
            except orjson.JSONDecodeError:  # what only json reads (NaN)
                meta = json.loads(raw.decode())
            if meta.get("format") != FORMAT_VERSION:
                raise RetrievalNotBuilt(f"{path} is from another kgrag version; rerun `kgrag build`")
            annotations = [
                Annotation(int(d), int(t), None if math.isnan(f) else float(f), bool(x), tuple(refs))
                for d, t, f, x, refs in zip(
                    z["disease"],
                    z["term"],
                    z["frequency"],
                    z["not_shown"],
                    meta["references"],
                    strict=True,
                )
            ]
        return cls(
            meta["terms"],
            meta["term_names"],
            meta["parents"],
            meta["diseases"],
            meta["disease_names"],
            annotations,
            params,
            meta["fingerprint"],
            _unpack_paths(meta["category_anchors"], meta["category_paths"]),
        )


def _pack_paths(paths: dict[str, list[CategoryStep]]) -> dict[str, object]:
    """Category paths as indices into one list of the groups and categories they name."""
    anchors: dict[CategoryStep, int] = {}
    packed = {c: [anchors.setdefault(step, len(anchors)) for step in path] for c, path in paths.items()}
    return {"category_anchors": [list(a) for a in anchors], "category_paths": packed}


def _unpack_paths(
    anchors: list[list[str]], packed: dict[str, list[int]]
) -> dict[str, list[CategoryStep]]:
    steps = [(i, n, t) for i, n, t in anchors]
    return {c: [steps[j] for j in path] for c, path in packed.items()}
