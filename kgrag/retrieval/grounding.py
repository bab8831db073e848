"""Grounding the caller's differential: evidence for and against each hypothesis.

The caller (an LLM, a clinician, a question's options) brings the hypotheses; for each one
kgrag returns what its knowledge base says for and against it in this case, every piece
cited, and kgrag's own ranking adds a second opinion (``consider_also``).

For a hypothesis resolved to a disease concept ``h`` and the patient's present findings
``P`` and absent findings ``A`` (linked from text with their assertions, or coded):

- **facts**: when ``h`` is a disease of the diagnostic model, :meth:`DiagnosticModel.explain`
  meets each finding with ``h``'s annotations (exactly or through is_a): present findings
  ``h`` shows are ``support`` (frequency, log LR, the fact's citations), absent findings
  ``h`` usually shows and present findings a source says ``h`` does not show are
  ``against``, present findings ``h`` shows nothing like are ``unexplained``.
- **passages**: the chunks of corpus pages about ``h`` (their focus) are searched for the
  patient's findings (the finding concept itself or an is_a ancestor of it, as a present
  mention): a present finding such a passage names is ``support`` (basis ``passage``), an
  absent finding it names is weak ``against``. A page about another disease that merely
  lists ``h`` among its features is not evidence about ``h`` (it counts in coverage only).
  Each citation is the exact span of the mention in its document, verified against the
  stored text. This needs no vectors: the graph's MENTIONS edges carry the spans.
- **coverage**: how many facts (from which sources) and passages ``h`` has, so "nothing
  known" is not read as "evidence against".
- **score**: a weighted sum of evidence features (:data:`FEATURES`), information-content
  weighted so a specific finding counts more than "fever"; the weights are fitted by a
  conditional logit (softmax over each question's options) on the development sets
  (``benchmarks/grounding.py --fit``) and shipped in ``grounding_weights.json`` with the
  command that made them. ``probability`` is the softmax of the scores over the request's
  hypotheses.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from kgrag._text import sanitize
from kgrag.errors import NoUsableFindings, RetrievalNotBuilt
from kgrag.graph.schema import EdgeType, Label, Node, Tier
from kgrag.retrieval.citations import passage_citation
from kgrag.retrieval.findings import ParsedFindings, read_findings
from kgrag.retrieval.grounded import (
    ConsiderAlso,
    Coverage,
    GroundedDifferential,
    GroundedFinding,
    GroundedHypothesis,
    Resolution,
    ResolutionStatus,
    ToAsk,
)
from kgrag.retrieval.model import DiagnosticModel, FloatArray
from kgrag.retrieval.passage_search import chunk_passage
from kgrag.retrieval.report import Laps
from kgrag.retrieval.request import CaseRequest
from kgrag.retrieval.types import ConceptRef, FindingEvidence, Passage, QueryFindings
from kgrag.types import Assertion, Mention

if TYPE_CHECKING:
    from kgrag.retrieval.diagnose import Diagnoser

WEIGHTS_FILE = Path(__file__).with_name("grounding_weights.json")
WEIGHTS_VERSION = 1
FEATURES = (
    "support",  # IC-weighted share of present findings supported (fact or passage)
    "fact_support",  # IC-weighted share supported by a fact
    "passage_support",  # IC-weighted share named by a passage about the hypothesis
    "against",  # IC-weighted share of findings against (absent expected, not shown)
    "log_lr",  # the model's summed log LR per present finding (0 without facts)
    "log_prior",  # the setting's log prior of the hypothesis's class
    "has_facts",  # 1 when the model has facts for the hypothesis
    "has_passages",  # 1 when passages are about it
    "similarity",  # the case's best vector-search score among the passages about it (0: none)
)
MIN_SCORE = 0.1  # a hypothesis resolves to a concept at least this likely right (linker's score) ...
SURE = 0.5  # ... and unambiguously when its reading is more likely right than wrong
STRONG_METHODS = frozenset({"code", "exact", "abbreviation", "bag", "swap", "training", "composite"})
GENERIC_WORDS = frozenset(
    {
        "disease", "diseases", "disorder", "disorders", "syndrome", "syndromes", "acute", "chronic",
        "primary", "secondary", "type", "deficiency", "infection", "the", "and", "with", "due",
        "left", "right", "bilateral", "unilateral",
    }
)  # fmt: skip
RESOLVED_CACHE = 4096  # hypotheses whose reading is kept (per knowledge base)
TIE = 0.02  # readings this close to the best are equally good: the best-known concept wins
MAX_CHUNKS = 200  # chunks read per hypothesis
PASSAGES_SHOWN = 3
TO_ASK = 5
CONSIDER_ALSO = 5
SIMILAR_K = 300  # nearest chunks of the case searched once per request (similarity feature)
DEFAULT_IC = 3.0  # information content (nats) of a finding the model does not score


@dataclass(frozen=True)
class GroundingWeights:
    """The feature weights of the grounding score (see the module docstring)."""

    weights: dict[str, float]
    version: int = WEIGHTS_VERSION
    trained_on: str = ""
    command: str = ""

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> GroundingWeights:
        """The shipped weights.

        Raises:
            RetrievalNotBuilt: the file is missing, damaged or of another version
                (reinstall kgrag, or refit with ``benchmarks/grounding.py --fit``).
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") != WEIGHTS_VERSION:
                raise ValueError(f"version {raw.get('version')!r}, expected {WEIGHTS_VERSION}")
            weights = {k: float(raw["weights"].get(k, 0.0)) for k in FEATURES}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
            raise RetrievalNotBuilt(
                f"the grounding weights {path} cannot be read ({e}); reinstall kgrag or refit them "
                "with `python benchmarks/grounding.py --fit`"
            ) from e
        return cls(weights, WEIGHTS_VERSION, str(raw.get("trained_on", "")), str(raw.get("command", "")))

    def score(self, features: dict[str, float]) -> float:
        """The weighted sum of ``features``."""
        return sum(self.weights.get(k, 0.0) * features.get(k, 0.0) for k in FEATURES)


@dataclass
class Patient:
    """The case's findings: model terms (for facts) and linked concepts (for passages)."""

    parsed: ParsedFindings | None
    present: dict[str, ConceptRef]  # concept id -> ref, every linked or coded present finding
    absent: dict[str, ConceptRef]
    ic: dict[str, float]  # concept id -> information content used as its weight
    up: dict[str, set[str]] = field(default_factory=dict)  # concept -> itself and its ancestors
    similar: dict[str, float] = field(default_factory=dict)  # chunk -> the case's vector score

    @property
    def present_terms(self) -> list[int]:
        """The present findings as model terms (empty when the model scores none)."""
        return self.parsed.present if self.parsed else []

    @property
    def absent_terms(self) -> list[int]:
        """The absent findings as model terms."""
        return self.parsed.absent if self.parsed else []


@dataclass
class ChunkEvidence:
    """The chunks about one concept and the patient findings each names."""

    chunks: dict[str, Node]
    # patient finding -> [(chunk, concept the chunk names, start, end)]
    named: dict[str, list[tuple[str, str, int, int]]]


class Grounder:
    """Grounds hypotheses against a case over one :class:`~kgrag.retrieval.diagnose.Diagnoser`.

    Args:
        dx: the diagnoser (model, store, linker, passages, priors).
        weights: the score's weights (default: the shipped ``grounding_weights.json``).
    """

    def __init__(self, dx: Diagnoser, weights: GroundingWeights | None = None) -> None:
        self.dx = dx
        self.weights = weights or GroundingWeights.load()
        self._resolved: dict[str, tuple[str | None, Resolution]] = {}  # hypothesis -> reading
        self._cache_lock = threading.Lock()

    # -- the request ------------------------------------------------------------------------
    def ground(self, req: CaseRequest, *, drop_references: Iterable[str] = ()) -> GroundedDifferential:
        """Each of ``req.hypotheses`` with its evidence, best grounded first.

        Args:
            req: the case; ``hypotheses`` may be empty (then only ``consider_also``).
            drop_references: references whose annotations the second opinion leaves out.

        Returns:
            The grounded differential.

        Raises:
            NoUsableFindings: the case names no finding kgrag knows.
        """
        dx, laps = self.dx, Laps()
        setting = req.setting or dx.settings.diagnose_setting
        patient = self.patient(req)
        laps.lap("findings")
        cite = req.evidence == "full"
        warnings: list[str] = []
        if req.text and req.hypotheses and self.weights.weights.get("similarity"):
            index = dx.passages.index
            if index is not None:
                patient.similar = dict(index.search(sanitize(req.text), SIMILAR_K))
            elif dx.passages.error:
                warnings.append(dx.passages.error + " (grounded without passage similarity)")
        laps.lap("vector")
        log_prior = dx.log_prior(setting)
        rows: list[GroundedHypothesis] = []
        for h in req.hypotheses:
            rows.append(self._one(h, patient, log_prior, cite=cite, evidence=req.evidence))
        laps.lap("hypotheses")
        for row in rows:
            exact = row.resolution.status == "resolved" and row.resolution.method in ("code", "exact")
            if not exact and (names := self._several(row.hypothesis)):
                warnings.append(
                    f"{row.hypothesis!r} was read as one hypothesis but names {len(names)} diseases "
                    f"({'; '.join(names)}): give each hypothesis on its own (one -H, one list item)"
                )
            if row.concept is not None and row.concept.tier in (Tier.FINDING.value, Tier.CATEGORY.value):
                warnings.append(
                    f"{row.hypothesis!r} reads as {row.concept.name!r}, a {row.concept.tier}, not a "
                    "disease: give the disease you suspect"
                )
        # an unresolved hypothesis has no score: ranked last, probability 0
        scores = [row.score if row.score is not None else -math.inf for row in rows]
        probs = _softmax(np.asarray(scores, float)) if rows else np.zeros(0)
        order = sorted(range(len(rows)), key=lambda i: (-scores[i], i))
        ranked = [
            rows[i].model_copy(update={"rank": r, "probability": round(float(probs[i]), 6)})
            for r, i in enumerate(order, start=1)
        ]
        also: list[ConsiderAlso] = []
        if req.consider_also and patient.parsed is not None:
            also = self._consider_also(patient, ranked, setting, set(drop_references))
        elif req.consider_also:
            warnings.append("no finding the diagnostic model scores: no second opinion")
        laps.lap("consider_also")
        laps.ms["total"] = (time.perf_counter() - laps.started) * 1000
        query = (
            patient.parsed.query
            if patient.parsed
            else QueryFindings(
                present=list(patient.present.values()), absent=list(patient.absent.values())
            )
        )
        return GroundedDifferential(
            setting=setting,
            query=query,
            hypotheses=ranked,
            consider_also=also,
            warnings=warnings,
            timings_ms={k: round(v, 2) for k, v in laps.ms.items()},
        )

    def patient(self, req: CaseRequest) -> Patient:
        """The case's findings, for the model and for passages.

        Raises:
            NoUsableFindings: no present finding at all (linked or coded).
        """
        dx = self.dx
        text = sanitize(req.text) if req.text else None
        mentions: list[Mention] = dx.linker.link(text) if text else []
        try:
            parsed: ParsedFindings | None = read_findings(
                dx.model, text, req.findings, resolve=dx.table.resolve, link=lambda _t: mentions
            )
        except NoUsableFindings:
            parsed = None
        present: dict[str, ConceptRef] = {}
        absent: dict[str, ConceptRef] = {}
        for m in mentions:
            best = m.best
            if best is None or best.score < 0.3:
                continue
            ref = ConceptRef(id=best.concept_id, name=best.name, tier=None)
            if m.assertion is Assertion.PRESENT:
                present.setdefault(best.concept_id, ref)
            elif m.assertion is Assertion.ABSENT:
                absent.setdefault(best.concept_id, ref)
        for f in req.findings:
            cid = dx.table.resolve(f.id)
            if cid is None:
                continue
            ref = ConceptRef(id=cid, name=dx.table.get(cid).name)
            (absent if f.absent else present).setdefault(cid, ref)
        for cid in set(present) & set(absent):
            del present[cid], absent[cid]
        if parsed is not None:  # model terms first: their names are the model's
            for t in parsed.present:
                present.setdefault(
                    dx.model.terms[t], ConceptRef(id=dx.model.terms[t], name=dx.model.term_names[t])
                )
        if not present:
            raise NoUsableFindings(
                "no present finding kgrag knows in the case; give at least one present finding "
                "(text or HPO/MeSH codes)"
            )
        model = dx.model
        ic = {
            c: float(model.ic[model.term_index[c]]) if c in model.term_index else DEFAULT_IC
            for c in [*present, *absent]
        }
        up: dict[str, set[str]] = {}
        for c in [*present, *absent]:
            if c in model.term_index:
                up[c] = {model.terms[a] for a in model.ancestors[model.term_index[c]][:4]}
            else:
                up[c] = {c} | {a.id for a in dx.table.ancestors(c, max_depth=1)}
        return Patient(parsed, present, absent, ic, up)

    # -- one hypothesis ---------------------------------------------------------------------
    def resolve(self, hypothesis: str) -> tuple[str | None, Resolution]:
        """The concept a hypothesis names, with how sure the reading is.

        A code of any shipped vocabulary or a unified id resolves exactly. A name is
        normalized by the linker (diseases preferred over findings); among equally good
        readings the concept the knowledge base knows most about is chosen and the reading
        is ``ambiguous``.
        """
        h = " ".join(hypothesis.split())
        cached = self._resolved.get(h)
        if cached is None:
            cached = self._resolve(h)
            with self._cache_lock:
                if len(self._resolved) >= RESOLVED_CACHE:
                    self._resolved.pop(next(iter(self._resolved)))
                self._resolved[h] = cached
        return cached

    def _resolve(self, h: str) -> tuple[str | None, Resolution]:
        dx = self.dx
        if ":" in h and " " not in h:
            cid = dx.table.resolve(h)
            if cid is not None:
                return cid, Resolution(status="resolved", method="code", score=1.0)
        cands = [c for c in dx.linker.normalize(h, None, 8) if c.score > 0]
        # a weak reading (fuzzy, dense, back-off) must share the hypothesis's distinctive words
        cands = [
            c
            for c in cands
            if c.method in STRONG_METHODS or _reads_as(h, c.method, c.matched or c.name, c.name)
        ]
        diseases = [c for c in cands if c.kind.value == "disease"] or cands
        # a reading that names every distinctive word beats a back-off or a partial one
        whole = [c for c in diseases if _shares_words(h, c.matched or c.name, c.name, every=True)]
        if whole and diseases and diseases[0] not in whole:
            diseases = [*whole, *(c for c in diseases if c not in whole)]
        top = diseases[0] if diseases else None
        if top is None or (top.score < MIN_SCORE and top not in whole):
            alts = [ConceptRef(id=c.concept_id, name=c.name) for c in diseases[:3]]
            if not alts:
                near = dx.table.search(h, limit=3, kinds=["disease"])
                alts = [ConceptRef(id=m.concept_id, name=m.name) for m in near]
            method, score = (top.method, top.score) if top else ("none", 0.0)
            return None, Resolution(status="unresolved", method=method, score=score, alternatives=alts)
        tied = list({c.concept_id: c for c in diseases if abs(top.score - c.score) < TIE}.values())
        # the name closest to the hypothesis, then the concept the knowledge base knows most about
        best = max(
            tied,
            key=lambda c: (round(_similarity(h, c.name), 1), self._known(c.concept_id), -tied.index(c)),
        )
        others = [
            ConceptRef(id=c.concept_id, name=c.name) for c in diseases if c.concept_id != best.concept_id
        ]
        sure = best.score >= SURE and len(tied) == 1 and best.method != "backoff"  # a broader concept
        status: ResolutionStatus = "resolved" if sure else "ambiguous"
        return best.concept_id, Resolution(
            status=status, method=best.method, score=round(best.score, 4), alternatives=others[:3]
        )

    def _several(self, hypothesis: str) -> list[str]:
        """The diseases a hypothesis lists (``"a, b"``, ``"a; b"``, ``"a / b"``, ``"a or b"``).

        Empty unless every part resolves on its own to a different disease: one name with a
        comma, such as "diabetes mellitus, type 2", is one hypothesis.
        """
        parts = [p.strip() for p in re.split(r"[,;/]|\s+or\s+", hypothesis) if p.strip()]
        if len(parts) < 2:
            return []
        concepts = [self.resolve(p) for p in parts]
        ids = {cid for cid, r in concepts if cid is not None and r.status != "unresolved"}
        if len(ids) < len(parts):
            return []
        return [_name(self.dx, cid) for cid, _ in concepts if cid is not None]

    def _known(self, cid: str) -> int:
        """How much the knowledge base holds about a concept (facts, then any chunk)."""
        d = self.dx.model.disease_index.get(cid)
        facts = len(self.dx.model.by_disease[d]) if d is not None else 0
        return facts * 1000 + len(
            self.dx.store.neighbours(cid, types=[EdgeType.MENTIONS], direction="in", limit=50)
        )

    def _one(
        self, hypothesis: str, patient: Patient, log_prior: FloatArray, *, cite: bool, evidence: str
    ) -> GroundedHypothesis:
        dx, model = self.dx, self.dx.model
        cid, resolution = self.resolve(hypothesis)
        if cid is None:
            return GroundedHypothesis(
                hypothesis=hypothesis, resolution=resolution, rank=0, score=None, probability=0.0,
                coverage=Coverage(level="nothing", facts=0, passages=0),
                unexplained=list(patient.present.values()),
            )  # fmt: skip
        node = dx.store.get_node(cid)
        name = node.name if node else dx.table.get(cid).name
        codes = list(node.codes) if node else list(dx.table.get(cid).codes)
        d = model.disease_index.get(cid)
        facts: list[FindingEvidence] = []
        if d is not None and patient.parsed is not None:
            facts = dx.evidence.findings(
                d, patient.present_terms, patient.absent_terms, set(), cite=cite
            )
        chunks = self._chunks(cid, patient)
        support, against, supported = self._sides(facts, chunks, patient, cite=cite)
        unexplained = [ref for c, ref in patient.present.items() if c not in supported]
        n_facts = len(model.by_disease[d]) if d is not None else 0
        coverage = Coverage(
            level="facts" if n_facts else "passages" if chunks.chunks else "nothing",
            facts=n_facts,
            sources=_fact_sources(model, d) if d is not None else [],
            passages=len(chunks.chunks),
        )
        llr = sum(f.log_lr for f in facts) if facts else None
        prior = float(log_prior[d]) if d is not None else None
        features = self._features(patient, facts, chunks, supported, against, llr, prior)
        return GroundedHypothesis(
            hypothesis=hypothesis,
            concept=ConceptRef(id=cid, name=name, tier=node.tier.value if node and node.tier else None),
            codes=codes,
            resolution=resolution,
            rank=0,
            score=round(self.weights.score(features), 4),
            probability=0.0,
            log_lr=None if llr is None else round(llr, 4),
            log_prior=None if prior is None else round(prior, 4),
            prior_class=dx.prior_classes[d] if d is not None else None,
            coverage=coverage,
            support=support,
            against=against,
            unexplained=unexplained,
            to_ask=self._to_ask(d, chunks, patient),
            passages=self._passages(chunks, patient, cid) if evidence == "full" else [],
            features={k: round(v, 4) for k, v in features.items()},
        )

    def _chunks(self, cid: str, patient: Patient) -> ChunkEvidence:
        """Chunks about ``cid`` and, per patient finding, the mentions of it that speak of ``cid``.

        A chunk is about ``cid`` when it names ``cid`` as present (counted in coverage). A
        finding it names is evidence for or against ``cid`` only when the chunk's document is
        about ``cid`` (its focus): a page about Addison's disease that lists depression and
        fatigue among its symptoms says nothing of what depression shows, even in one sentence.
        """
        store = self.dx.store
        about: dict[str, Node] = {}
        for edge, chunk in store.neighbours(
            cid, types=[EdgeType.MENTIONS], direction="in", limit=MAX_CHUNKS
        ):
            present = any(c.props.get("assertion") == "present" for c in edge.claims)
            if chunk.label is Label.CHUNK and present:
                about[chunk.id] = chunk
        if not about:
            return ChunkEvidence({}, {})
        docs = store.get_nodes({str(n.props.get("document")) for n in about.values()})
        focused = {
            c for c, n in about.items()
            if (d := docs.get(str(n.props.get("document")))) is not None and d.props.get("focus") == cid
        }  # fmt: skip
        wanted: dict[str, list[str]] = {}  # mentioned concept -> patient findings it stands for
        for f, ups in patient.up.items():
            for u in ups:
                if u != cid:
                    wanted.setdefault(u, []).append(f)
        keys = [(chunk, EdgeType.MENTIONS, u) for chunk in focused for u in wanted]
        named: dict[str, list[tuple[str, str, int, int]]] = {}
        for e in store.edges(keys):  # one indexed read of just the mentions that matter
            for c in e.claims:
                if c.props.get("assertion") != "present" or c.start is None:
                    continue
                start, end = int(c.start), int(c.end or c.start)
                for f in wanted[e.dst]:
                    named.setdefault(f, []).append((e.src, e.dst, start, end))
                break
        return ChunkEvidence(about, named)

    def _chunk_findings(self, chunks: ChunkEvidence) -> dict[str, int]:
        """Finding concept -> in how many of the chunks it is named as present (for ``to_ask``)."""
        store = self.dx.store
        sub = store.subgraph(list(chunks.chunks), hops=1, types=[EdgeType.MENTIONS], direction="out")
        tiers = {n.id: n.tier for n in sub.nodes}
        counts: dict[str, int] = {}
        for e in sub.edges:
            finding = e.src in chunks.chunks and tiers.get(e.dst) is Tier.FINDING
            if finding and any(c.props.get("assertion") == "present" for c in e.claims):
                counts[e.dst] = counts.get(e.dst, 0) + 1
        return counts

    def _sides(
        self, facts: list[FindingEvidence], chunks: ChunkEvidence, patient: Patient, *, cite: bool
    ) -> tuple[list[GroundedFinding], list[GroundedFinding], set[str]]:
        """Support and against from facts and passages; the present findings supported."""
        support: list[GroundedFinding] = []
        against: list[GroundedFinding] = []
        supported: set[str] = set()
        for f in facts:
            if f.not_shown and not f.absent:
                against.append(_from_fact(f, "not_shown"))
            elif f.absent and f.log_lr < 0:
                against.append(_from_fact(f, "fact"))
            elif not f.absent and f.matched is not None and f.log_lr > 0:
                support.append(_from_fact(f, "fact"))
                supported.add(f.finding.id)
        for fid, hits in chunks.named.items():
            side = "present" if fid in patient.present else "absent"
            if side == "present" and fid in supported:
                continue  # a fact already supports it; the passage is in ``passages``
            chunk_id, mentioned, start, end = hits[0]
            citations = []
            if cite:
                node = chunks.chunks[chunk_id]
                citations = [passage_citation(self.dx.store, node, None, start, end, "corpus")]
            ref = patient.present.get(fid) or patient.absent[fid]
            item = GroundedFinding(
                finding=ref,
                absent=side == "absent",
                basis="passage",
                matched=None
                if mentioned == fid
                else ConceptRef(id=mentioned, name=_name(self.dx, mentioned)),
                citations=citations,
            )
            if side == "present":
                support.append(item)
                supported.add(fid)
            elif not any(a.finding.id == fid for a in against):
                against.append(item)
        support.sort(
            key=lambda g: -(g.log_lr if g.log_lr is not None else patient.ic.get(g.finding.id, 0))
        )
        return support, against, supported

    def _features(
        self,
        patient: Patient,
        facts: list[FindingEvidence],
        chunks: ChunkEvidence,
        supported: set[str],
        against: list[GroundedFinding],
        llr: float | None,
        prior: float | None,
    ) -> dict[str, float]:
        ic = patient.ic
        total = sum(ic[c] for c in patient.present) or 1.0
        by_fact = {
            f.finding.id for f in facts if not f.absent and f.matched is not None and not f.not_shown
        }
        by_passage = {c for c in chunks.named if c in patient.present}
        n_present = max(len(patient.present_terms), 1)
        return {
            "support": sum(ic[c] for c in supported) / total,
            "fact_support": sum(ic.get(c, DEFAULT_IC) for c in by_fact) / total,
            "passage_support": sum(ic[c] for c in by_passage) / total,
            "against": sum(ic.get(a.finding.id, DEFAULT_IC) for a in against) / total,
            "log_lr": (llr or 0.0) / n_present,
            "log_prior": prior if prior is not None else 0.0,
            "has_facts": 1.0 if facts or llr is not None else 0.0,
            "has_passages": 1.0 if chunks.chunks else 0.0,
            "similarity": max((patient.similar.get(c, 0.0) for c in chunks.chunks), default=0.0),
        }

    def _to_ask(self, d: int | None, chunks: ChunkEvidence, patient: Patient) -> list[ToAsk]:
        """Typical findings the case does not mention, those that would move the odds most first."""
        model = self.dx.model
        known = (
            set(patient.present) | set(patient.absent) | {u for ups in patient.up.values() for u in ups}
        )
        out: list[ToAsk] = []
        if d is not None:
            best: dict[int, float] = {}
            for a in model.by_disease[d]:
                if a.not_shown or model.terms[a.term] in known:
                    continue
                f = a.frequency if a.frequency is not None else model.params.default_frequency
                best[a.term] = max(best.get(a.term, 0.0), f)
            for t, f in sorted(best.items(), key=lambda kv: -kv[1] * model.ic[kv[0]])[:TO_ASK]:
                q = float(model.q[t])
                out.append(
                    ToAsk(
                        finding=ConceptRef(id=model.terms[t], name=model.term_names[t], tier="finding"),
                        frequency=round(f, 3),
                        log_lr_if_present=round(math.log(f / q), 3),
                        log_lr_if_absent=round(float(np.log(model._absent_ratio(f, t))), 3),
                    )
                )
        if len(out) < TO_ASK and chunks.chunks:
            have = {a.finding.id for a in out}
            for c, _n in sorted(self._chunk_findings(chunks).items(), key=lambda kv: (-kv[1], kv[0])):
                if c in known or c in have:
                    continue
                out.append(
                    ToAsk(
                        finding=ConceptRef(id=c, name=_name(self.dx, c), tier="finding"), basis="passage"
                    )
                )
                if len(out) >= TO_ASK:
                    break
        return out

    def _passages(self, chunks: ChunkEvidence, patient: Patient, cid: str) -> list[Passage]:
        """The chunks about the hypothesis that name most of the patient's findings."""
        hits: dict[str, set[str]] = {}
        for fid, where in chunks.named.items():
            if fid in patient.present:
                for chunk_id, *_ in where:
                    hits.setdefault(chunk_id, set()).add(fid)
        if not hits:
            return []
        top = sorted(hits, key=lambda c: (-sum(patient.ic[f] for f in hits[c]), c))[:PASSAGES_SHOWN]
        docs = self.dx.store.get_nodes({str(chunks.chunks[c].props.get("document")) for c in top})
        out = []
        for c in top:
            node = chunks.chunks[c]
            doc = docs.get(str(node.props.get("document")))
            score = sum(patient.ic[f] for f in hits[c])
            out.append(chunk_passage(self.dx.store, node, doc, score, [cid], "corpus"))
        return out

    def _consider_also(
        self, patient: Patient, ranked: Sequence[GroundedHypothesis], setting: str, dropped: set[str]
    ) -> list[ConsiderAlso]:
        """Kgrag's own top candidates that are not among the hypotheses."""
        dx = self.dx
        assert patient.parsed is not None
        scores = dx.model.score(
            patient.present_terms, patient.absent_terms, drop_references=dropped
        ) + dx.log_prior(setting)  # type: ignore[arg-type]
        given = {h.concept.id for h in ranked if h.concept is not None}
        given_idx = [dx.model.disease_index[c] for c in given if c in dx.model.disease_index]
        best_given = max((float(scores[i]) for i in given_idx), default=None)
        post = _softmax(scores)
        out: list[ConsiderAlso] = []
        order = np.argsort(-scores, kind="stable")
        for rank, i in enumerate(order[: 50 + len(given)], start=1):
            cid = dx.model.diseases[i]
            if cid in given:
                continue
            ref = (
                float(scores[i]) - best_given
                if best_given is not None
                else float(scores[i] - scores[order[0]])
            )
            node = dx.store.get_node(cid)
            out.append(
                ConsiderAlso(
                    rank=rank,
                    concept_id=cid,
                    name=node.name if node else dx.model.disease_names[i],
                    codes=list(node.codes)[:6] if node else [],
                    probability=round(float(post[i]), 6),
                    margin=round(ref, 4),
                )
            )
            if len(out) >= CONSIDER_ALSO:
                break
        return out


def _from_fact(f: FindingEvidence, basis: Literal["fact", "not_shown"]) -> GroundedFinding:
    return GroundedFinding(
        finding=f.finding,
        absent=f.absent,
        basis=basis,
        matched=f.matched,
        frequency=f.frequency,
        log_lr=f.log_lr,
        citations=f.citations,
    )


def _fact_sources(model: DiagnosticModel, d: int) -> list[str]:
    """The sources of a disease's facts, named from their references' prefixes."""
    kinds: dict[str, None] = {}
    for a in model.by_disease[d]:
        for r in a.references or ("curated",):
            kinds[_source_of(r)] = None
    return sorted(kinds)


def _source_of(reference: str) -> str:
    prefix = reference.split(":", 1)[0].upper()
    if prefix.startswith(("ISBN", "HTTP")):
        return "HPO annotations"
    return {
        "PMID": "HPO annotations",
        "OMIM": "HPO annotations",
        "ORPHA": "HPO annotations",
        "DECIPHER": "HPO annotations",
        "ISBN": "HPO annotations",
        "DOID": "Disease Ontology",
        "CHUNK": "corpus",
        "DDX": "DDXPlus",
        "DDXPLUS": "DDXPlus",
    }.get(prefix, prefix.lower() or "curated")


def _similarity(a: str, b: str) -> float:
    """How alike two names are, in [0, 1] (case folded, word order ignored)."""
    from rapidfuzz import fuzz

    return float(fuzz.token_sort_ratio(a.lower(), b.lower())) / 100.0


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower().replace("'s", "")) if len(w) >= 3]


def _reads_as(hypothesis: str, method: str, *names: str) -> bool:
    """Is a weak reading of ``hypothesis`` as a concept named ``names`` a plausible one?

    A back-off (modifiers dropped) must name nothing the hypothesis does not ("pneumonia"
    for "community-acquired pneumonia"); a fuzzy or dense reading must share the
    hypothesis's distinctive words (:func:`_shares_words`).
    """
    if method == "backoff":
        from rapidfuzz import fuzz

        mine = _words(hypothesis)
        theirs = [w for n in names[:1] for w in _words(n)]
        return bool(theirs) and all(any(fuzz.ratio(t, w) >= 80 for w in mine) for t in theirs)
    return _shares_words(hypothesis, *names)


def _shares_words(hypothesis: str, *names: str, every: bool = False) -> bool:
    """Do at least half the hypothesis's distinctive words appear (spelled alike) in ``names``?

    With ``every``, all of them must. Generic words (disease, syndrome, acute, type, ...) do
    not count, so "Zorblax syndrome"
    does not read as "Dravet syndrome" while "Hashimoto's" reads as "Hashimoto thyroiditis"
    and "diabeties" as "diabetes".
    """
    from rapidfuzz import fuzz

    mine = [w for w in _words(hypothesis) if w not in GENERIC_WORDS] or _words(hypothesis)
    if not mine:
        return False
    theirs = {w for n in names for w in _words(n)}
    hits = sum(any(fuzz.ratio(w, t) >= 80 for t in theirs) for w in mine)
    return hits == len(mine) if every else hits * 2 >= len(mine)


def _name(dx: Diagnoser, cid: str) -> str:
    i = dx.model.term_index.get(cid)
    if i is not None:
        return dx.model.term_names[i]
    try:
        return dx.table.get(cid).name
    except Exception:  # a concept of the graph the table does not hold
        return cid


def _softmax(x: FloatArray) -> FloatArray:
    if x.size == 0 or not np.isfinite(x).any():
        return np.zeros_like(x, dtype=float)
    e = np.exp(x - x[np.isfinite(x)].max())
    out: FloatArray = e / e.sum()
    return out
