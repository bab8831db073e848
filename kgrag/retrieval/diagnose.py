"""The differential diagnosis: findings (coded, or linked from text) scored against the
graph, fused with passages from vector search, each candidate with its evidence.

``Diagnoser`` holds what a warm process reuses (the model, the passage index, the
linker); ``kgrag.diagnose`` and ``kgrag.retrieve`` use a shared one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kgrag.config import Settings, get_settings
from kgrag.errors import ConfigError, NoUsableFindings, RetrievalError, RetrievalNotBuilt
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Edge, EdgeType, Label, Node, Tier
from kgrag.retrieval.artifacts import META_KEY, artifacts_dir
from kgrag.retrieval.differences import follow_ups
from kgrag.retrieval.fusion import reciprocal_rank_fusion, weighted_fusion
from kgrag.retrieval.model import FILE_NAME, DiagnosticModel, ScoringParams
from kgrag.retrieval.priors import SETTINGS, DiseasePrior, Setting, disease_priors, log_prior
from kgrag.retrieval.types import (
    CategoryScore,
    Citation,
    ConceptRef,
    DiagnosisCandidate,
    DiagnosisReport,
    EvidenceBundle,
    FindingEvidence,
    FindingInput,
    FollowUp,
    Method,
    Passage,
    QueryFindings,
)
from kgrag.types import Assertion

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.table import ConceptTable
    from kgrag.retrieval.passages import PassageIndex
    from kgrag.retrieval.ppr import PersonalizedPageRank

logger = logging.getLogger(__name__)

MAX_FINDINGS = 2000
MAX_TEXT_CHARS = 200_000
QUERY_FINDINGS = 8  # coded findings named in the passage query
ROLL_UP = 50  # candidates whose probability is rolled up to groups and categories


@dataclass
class Ranking:
    method: Method
    order: list[str]
    scores: dict[str, float]
    ranks: dict[str, dict[str, int]]
    log_lr: npt.NDArray[np.float64]
    posterior: npt.NDArray[np.float64]
    present: list[int]
    excluded: list[int]
    query: QueryFindings
    passages: list[Passage]
    warnings: list[str]
    timings: dict[str, float]
    started: float
    # pretest probability (kgrag/retrieval/priors.py): the setting and its log prior per disease
    setting: Setting = "uniform"
    log_prior: npt.NDArray[np.float64] | None = None


class Diagnoser:
    def __init__(
        self,
        store: GraphStore | str | None = None,
        *,
        settings: Settings | None = None,
        table: ConceptTable | None = None,
        linker: ConceptLinker | None = None,
        params: ScoringParams | None = None,
    ) -> None:
        from kgrag.graph.stores import open_store

        self.settings = settings or get_settings()
        self.store = (
            store
            if isinstance(store, GraphStore)
            else open_store(store, read_only=True, settings=self.settings)
        )
        self.directory = artifacts_dir(self.store, self.settings)
        stamp = self.store.get_meta(META_KEY)
        self.model = DiagnosticModel.load(self.directory / FILE_NAME, params)
        if stamp != self.model.fingerprint:
            raise RetrievalNotBuilt(
                f"the retrieval artifacts in {self.directory} do not match the graph "
                f"(graph says {stamp!r}); rerun `kgrag build`"
            )
        if table is not None:
            self.table = table
        if linker is not None:
            self.linker = linker
        self._passages: PassageIndex | None = None
        self._passage_error: str | None = None
        self._paths: dict[str, list[ConceptRef]] = {}

    # -- lazily loaded parts -------------------------------------------------------------
    @cached_property
    def table(self) -> ConceptTable:
        from kgrag.ontology.compiled import load_concepts

        return load_concepts(self.settings)

    @cached_property
    def linker(self) -> ConceptLinker:
        from kgrag.linking.linker import ConceptLinker

        return ConceptLinker(self.table)

    @property
    def passages(self) -> PassageIndex | None:
        """``None`` (with the reason kept for the report) when the index cannot be used."""
        if self._passages is None and self._passage_error is None:
            from kgrag.retrieval.passages import PassageIndex

            try:
                self._passages = PassageIndex.load(self.directory, store=self.store)
            except RetrievalError:
                raise
            except Exception as e:  # e.g. the encoder it was built with is not installed
                self._passage_error = f"vector search unavailable: {e}"
        return self._passages

    @cached_property
    def priors(self) -> list[DiseasePrior]:
        """Each model disease's prior class (computed once from the store's nodes)."""
        return disease_priors(self.model.diseases, self.store, self.settings.ontologies_dir)

    def log_prior(self, setting: Setting) -> npt.NDArray[np.float64]:
        """The log prior per model disease under ``setting`` (cached per setting)."""
        if setting not in SETTINGS:
            raise ConfigError(f"setting must be one of {', '.join(SETTINGS)}, not {setting!r}")
        cache: dict[str, npt.NDArray[np.float64]] = self.__dict__.setdefault("_log_priors", {})
        if setting not in cache:
            cache[setting] = log_prior([p.prior_class for p in self.priors], setting)
        return cache[setting]

    @cached_property
    def ppr(self) -> PersonalizedPageRank:
        from kgrag.retrieval.ppr import PersonalizedPageRank

        return PersonalizedPageRank(self.model)

    # -- input ---------------------------------------------------------------------------
    def _ref(self, term: int) -> ConceptRef:
        return ConceptRef(id=self.model.terms[term], name=self.model.term_names[term], tier="finding")

    def read_findings(
        self, text: str | None, findings: Sequence[FindingInput | dict[str, Any] | str] | None
    ) -> tuple[list[int], list[int], QueryFindings]:
        present: dict[int, None] = {}
        excluded: dict[int, None] = {}
        ignored: list[str] = []
        items = [
            f
            if isinstance(f, FindingInput)
            else FindingInput(id=f)
            if isinstance(f, str)
            else FindingInput.model_validate(f)
            for f in findings or ()
        ]
        if len(items) > MAX_FINDINGS:
            raise ConfigError(f"{len(items)} findings; at most {MAX_FINDINGS} per request")
        for f in items:
            concept = f.id if f.id in self.model.term_index else self.table.resolve(f.id)
            if concept is None:
                ignored.append(f"{f.id}: unknown code")
            elif concept not in self.model.term_index:
                ignored.append(f"{f.id}: no disease in the knowledge base is annotated with it")
            else:
                (excluded if f.excluded else present)[self.model.term_index[concept]] = None
        if text:
            if len(text) > MAX_TEXT_CHARS:
                raise ConfigError(
                    f"text of {len(text):,} characters; diagnose at most {MAX_TEXT_CHARS:,} at once"
                )
            for m in self.linker.link(text):
                term = next(
                    (
                        self.model.term_index[c.concept_id]
                        for c in m.candidates[:3]
                        if c.concept_id in self.model.term_index
                    ),
                    None,
                )
                where = f"{m.text!r} [{m.start}:{m.end}]"
                if term is None:
                    ignored.append(f"{where}: not a finding of any disease in the knowledge base")
                elif m.assertion is Assertion.PRESENT:
                    present[term] = None
                elif m.assertion is Assertion.ABSENT:
                    excluded[term] = None
                else:
                    ignored.append(f"{where}: {m.assertion.value}, not a current finding")
        for t in set(present) & set(excluded):  # said both ways: trust neither
            del present[t], excluded[t]
            ignored.append(f"{self.model.terms[t]}: reported both present and absent")
        query = QueryFindings(
            present=[self._ref(t) for t in present],
            excluded=[self._ref(t) for t in excluded],
            ignored=ignored,
        )
        if not present:
            what = "only absent findings" if excluded else "no finding kgrag knows"
            raise NoUsableFindings(
                f"{what} in the input ({'; '.join(ignored[:5]) or 'nothing recognised'}); "
                "give at least one present finding (text or HPO/MeSH codes)"
            )
        return list(present), list(excluded), query

    # -- ranking -------------------------------------------------------------------------
    def _findings_query(self, present: list[int]) -> str:
        """The passage query for coded findings: the names of the most specific ones (a
        long list adds encoder time, not recall)."""
        m = self.model
        top = sorted(present, key=lambda t: -m.ic[t])[:QUERY_FINDINGS]
        return "; ".join(m.term_names[t] for t in top)

    def _passage_hits(self, query: str, k: int) -> list[Passage]:
        index = self.passages
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
            concepts = list(
                dict.fromkeys(
                    ([str(doc.props["focus"])] if doc is not None and doc.props.get("focus") else [])
                    + about.get(chunk_id, [])
                )
            )
            start, end = int(node.props["start"]), int(node.props["end"])
            out.append(
                Passage(
                    chunk=chunk_id,
                    document=str(node.props.get("document")),
                    title=doc.name if doc else "",
                    section=node.props.get("section"),
                    start=start,
                    end=end,
                    text=str(node.props.get("text", "")),
                    score=round(score, 4),
                    concepts=concepts,
                    citation=self._passage_citation(node, doc, start, end, "vector"),
                )
            )
        return out

    def _diseases_mentioned(self, chunk_ids: Sequence[str]) -> dict[str, list[str]]:
        """Chunk -> the diseases (and groups) it mentions as present, in one read."""
        sub = self.store.subgraph(list(chunk_ids), hops=1, types=[EdgeType.MENTIONS], direction="out")
        tiers = {n.id: n.tier for n in sub.nodes}
        chunks = set(chunk_ids)
        out: dict[str, list[str]] = {}
        for edge in sub.edges:
            present = any(cl.props.get("assertion") == "present" for cl in edge.claims)
            if edge.src in chunks and present and tiers.get(edge.dst) in (Tier.DISEASE, Tier.GROUP):
                out.setdefault(edge.src, []).append(edge.dst)
        return out

    def _passage_citation(
        self, chunk: Node, doc: Node | None, start: int, end: int, source: str
    ) -> Citation:
        citation = Citation(
            kind="passage",
            source=source,
            document=str(chunk.props.get("document")),
            chunk=chunk.id,
            start=start,
            end=end,
            quote=str(chunk.props.get("text", ""))[start - int(chunk.props["start"]) :][: end - start],
        )
        return citation.model_copy(update={"verified": self.verify(citation, doc)})

    def verify(self, citation: Citation, doc: Node | None = None) -> bool:
        """Does the cited span of the stored document read exactly as the quote?"""
        if citation.kind != "passage":
            return True
        if citation.document is None or citation.start is None or citation.end is None:
            return False
        doc = (
            doc
            if doc is not None and doc.id == citation.document
            else self.store.get_node(citation.document)
        )
        if doc is None or doc.label is not Label.DOCUMENT:
            return False
        text = str(doc.props.get("text", ""))
        return 0 <= citation.start <= citation.end <= len(text) and text[
            citation.start : citation.end
        ] == (citation.quote or "")

    def _rank(
        self,
        method: Method,
        log_lr: npt.NDArray[np.float64],
        present: list[int],
        excluded: list[int],
        passages: list[Passage],
    ) -> tuple[list[str], dict[str, float], dict[str, dict[str, int]]]:
        m = self.model
        graph_order = np.argsort(-log_lr, kind="stable")[:500]
        graph_ids = [m.diseases[i] for i in graph_order]
        ranks: dict[str, dict[str, int]] = {}
        for r, d in enumerate(graph_ids, start=1):
            ranks.setdefault(d, {})["graph"] = r
        if method == "graph":
            return graph_ids, {d: float(log_lr[m.disease_index[d]]) for d in graph_ids}, ranks
        if method == "ppr":
            ppr = self.ppr.score(present, excluded)
            order = np.argsort(-ppr, kind="stable")[:500]
            ids = [m.diseases[i] for i in order]
            for r, d in enumerate(ids, start=1):
                ranks.setdefault(d, {})["ppr"] = r
            return ids, {d: float(ppr[m.disease_index[d]]) for d in ids}, ranks
        vector: dict[str, float] = {}
        for p in passages:
            for d in p.concepts:
                vector[d] = max(vector.get(d, -1.0), p.score)
        vector_ids = sorted(vector, key=lambda d: -vector[d])
        for r, d in enumerate(vector_ids, start=1):
            ranks.setdefault(d, {})["vector"] = r
        weights = {
            "graph": self.settings.fusion_graph_weight,
            "vector": self.settings.fusion_vector_weight,
        }
        if self.settings.fusion == "rrf":
            fused = reciprocal_rank_fusion(
                {"graph": graph_ids, "vector": vector_ids}, weights, self.settings.rrf_k
            )
        else:
            fused = weighted_fusion(
                {"graph": {d: float(log_lr[m.disease_index[d]]) for d in graph_ids}, "vector": vector},
                weights,
            )
        return list(fused), fused, ranks

    # -- evidence ------------------------------------------------------------------------
    def _finding_evidence(
        self, d: int, present: list[int], excluded: list[int], dropped: set[str]
    ) -> list[FindingEvidence]:
        m = self.model
        matches = m.explain(d, present, excluded, dropped)
        disease = m.diseases[d]
        keys = [(disease, EdgeType.HAS_FINDING, m.terms[x.via]) for x in matches if x.via is not None]
        edges: dict[str, Edge] = {e.dst: e for e in self.store.edges(keys)}
        chunks = self.store.get_nodes(
            c.reference
            for e in edges.values()
            for c in e.claims
            if c.start is not None and c.reference and c.reference.startswith("chunk:")
        )
        out = []
        for x in matches:
            via = m.terms[x.via] if x.via is not None else None
            edge = edges.get(via) if via else None
            citations = []
            frequency = None
            if edge is not None:
                freqs = [
                    c.props["frequency"] for c in edge.claims if c.props.get("frequency") is not None
                ]
                frequency = round(sum(freqs) / len(freqs), 3) if freqs else None
                for c in edge.claims:
                    if c.start is not None and c.reference and c.reference.startswith("chunk:"):
                        chunk = chunks.get(c.reference)
                        if chunk is not None:
                            citations.append(
                                self._passage_citation(chunk, None, c.start, c.end or c.start, c.source)
                            )
                            continue
                    citations.append(Citation(kind="annotation", source=c.source, reference=c.reference))
            path = [m.terms[x.term]]
            if x.matched is not None and x.matched != x.term:
                path.append(m.terms[x.matched])
            if via is not None and via not in path:
                path.append(via)
            if x.via is not None:
                path.append(disease)
            out.append(
                FindingEvidence(
                    finding=self._ref(x.term),
                    excluded=not x.present,
                    matched=self._ref(x.matched) if x.matched is not None else None,
                    annotated=self._ref(x.via) if x.via is not None else None,
                    frequency=frequency,
                    log_lr=round(x.log_lr, 4),
                    path=path,
                    citations=citations,
                )
            )
        out.sort(key=lambda e: -abs(e.log_lr))
        return out

    def _category_path(self, disease: str) -> list[ConceptRef]:
        cached = self._paths.get(disease)
        if cached is not None:
            return cached
        path: list[ConceptRef] = []
        i = self.model.disease_index.get(disease)
        if i is not None:  # compiled at build time
            path = [ConceptRef(id=c, name=n, tier=t) for c, n, t in self.model.category_paths[i]]
            self._paths[disease] = path
            return path
        # a disease outside the model (a passage's): walk the store
        best: dict[Tier, tuple[int, Node]] = {}
        for node, depth in self.store.ancestors(disease, max_depth=12):
            if node.tier in (Tier.GROUP, Tier.CATEGORY) and (
                node.tier not in best or depth < best[node.tier][0]
            ):
                best[node.tier] = (depth, node)
        for tier in (Tier.GROUP, Tier.CATEGORY):
            if tier in best:
                n = best[tier][1]
                path.append(ConceptRef(id=n.id, name=n.name, tier=tier.value))
        if len(self._paths) > 100_000:
            self._paths.clear()
        self._paths[disease] = path
        return path

    # -- the public calls ----------------------------------------------------------------
    def rank(
        self,
        text: str | None = None,
        findings: Sequence[FindingInput | dict[str, Any] | str] | None = None,
        *,
        method: Method | None = None,
        passages_k: int | None = None,
        drop_references: Iterable[str] = (),
        with_passages: bool = False,
        setting: Setting | None = None,
    ) -> Ranking:
        """Every candidate in rank order, without the evidence (what benchmarks need).
        Passages are searched for ``fused`` (they rank) or when ``with_passages``."""
        method = method or self.settings.diagnose_method
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        present, excluded, query = self.read_findings(text, findings)
        timings["findings"] = (time.perf_counter() - t0) * 1000
        warnings: list[str] = []
        t1 = time.perf_counter()
        log_lr = self.model.score(present, excluded, drop_references=drop_references)
        setting = setting or self.settings.diagnose_setting
        prior = self.log_prior(setting)
        timings["graph"] = (time.perf_counter() - t1) * 1000
        passages: list[Passage] = []
        if method == "fused" or with_passages:
            t2 = time.perf_counter()
            query_text = text or self._findings_query(present)
            passages = self._passage_hits(query_text, passages_k or self.settings.passages_k)
            if self._passage_error:
                warnings.append(self._passage_error + " (ranked by the graph alone)")
            timings["vector"] = (time.perf_counter() - t2) * 1000
        t3 = time.perf_counter()
        order, scores, ranks = self._rank(method, log_lr + prior, present, excluded, passages)
        posterior = np.exp(log_lr + prior - (log_lr + prior).max())
        posterior /= posterior.sum()
        timings["rank"] = (time.perf_counter() - t3) * 1000
        return Ranking(
            method,
            order,
            scores,
            ranks,
            log_lr,
            posterior,
            present,
            excluded,
            query,
            passages,
            warnings,
            timings,
            t0,
            setting,
            prior,
        )

    def diagnose(
        self,
        text: str | None = None,
        findings: Sequence[FindingInput | dict[str, Any] | str] | None = None,
        *,
        top_k: int = 10,
        method: Method | None = None,
        evidence: bool = True,
        passages_k: int | None = None,
        drop_references: Iterable[str] = (),
        setting: Setting | None = None,
    ) -> DiagnosisReport:
        """A ranked differential for ``text`` and/or coded ``findings``.

        ``drop_references``: score without annotations that cite only these references
        (evaluation on cases curated from the same papers). ``setting``: the pretest
        probability, ``general`` | ``rare`` | ``uniform`` (default: settings; see
        :mod:`kgrag.retrieval.priors`)."""
        if top_k < 1:
            raise ConfigError("top_k must be at least 1")
        dropped = set(drop_references)
        r = self.rank(
            text,
            findings,
            method=method,
            passages_k=passages_k,
            drop_references=dropped,
            with_passages=evidence,
            setting=setting,
        )
        return self._report(r, top_k, evidence, dropped)

    def _report(self, r: Ranking, top_k: int, evidence: bool, dropped: set[str]) -> DiagnosisReport:
        """The top ``top_k`` of a ranking as a report, with evidence when asked."""
        t4 = time.perf_counter()
        top = r.order[:top_k]
        nodes = self.store.get_nodes(top)
        candidates = []
        for rank, d in enumerate(top, start=1):
            di = self.model.disease_index.get(d)
            node = nodes.get(d)
            candidates.append(
                DiagnosisCandidate(
                    rank=rank,
                    concept_id=d,
                    name=node.name if node else (self.model.disease_names[di] if di is not None else d),
                    codes=list(node.codes) if node else [],
                    score=round(r.scores[d], 6),
                    probability=round(float(r.posterior[di]), 6) if di is not None else 0.0,
                    log_lr=round(float(r.log_lr[di]), 4) if di is not None else None,
                    log_prior=(
                        round(float(r.log_prior[di]), 4)
                        if di is not None and r.log_prior is not None
                        else None
                    ),
                    prior_class=self.priors[di].prior_class.value if di is not None else None,
                    category_path=self._category_path(d) if evidence else [],
                    ranks=r.ranks.get(d, {}),
                    findings=(
                        self._finding_evidence(di, r.present, r.excluded, dropped)
                        if evidence and di is not None
                        else []
                    ),
                    passages=[p for p in r.passages if d in p.concepts][:3],
                )
            )
        follow: list[FollowUp] = []
        categories: list[CategoryScore] = []
        if evidence:
            categories = self._roll_up(r.posterior)
            top_in_model = [
                self.model.disease_index[c.concept_id]
                for c in candidates[:5]
                if c.concept_id in self.model.disease_index
            ]
            follow = follow_ups(
                self.model,
                top_in_model,
                [float(r.posterior[i]) + 1e-9 for i in top_in_model],
                r.present,
                r.excluded,
            )
        r.timings["evidence"] = (time.perf_counter() - t4) * 1000
        r.timings["total"] = (time.perf_counter() - r.started) * 1000
        return DiagnosisReport(
            method=r.method,
            setting=r.setting,
            query=r.query,
            candidates=candidates,
            categories=categories,
            follow_ups=follow,
            warnings=r.warnings,
            timings_ms={k: round(v, 2) for k, v in r.timings.items()},
        )

    def _roll_up(self, posterior: npt.NDArray[np.float64]) -> list[CategoryScore]:
        totals: dict[str, float] = {}
        names: dict[str, tuple[str, str]] = {}
        for i in np.argsort(-posterior)[:ROLL_UP]:
            p = float(posterior[i])
            for ref in self._category_path(self.model.diseases[i]):
                totals[ref.id] = totals.get(ref.id, 0.0) + p
                names[ref.id] = (ref.name, ref.tier or "")
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:10]
        return [
            CategoryScore(id=i, name=names[i][0], tier=names[i][1], probability=round(min(p, 1.0), 6))
            for i, p in ranked
        ]

    def retrieve(
        self,
        text: str | None = None,
        findings: Sequence[FindingInput | dict[str, Any] | str] | None = None,
        *,
        top_k: int = 10,
        passages_k: int | None = None,
        setting: Setting | None = None,
    ) -> EvidenceBundle:
        """The evidence alone: graph candidates with their paths, and passages."""
        if top_k < 1:
            raise ConfigError("top_k must be at least 1")
        r = self.rank(
            text, findings, method="graph", passages_k=passages_k, with_passages=True, setting=setting
        )
        report = self._report(r, top_k, evidence=True, dropped=set())
        return EvidenceBundle(
            query=report.query, diseases=report.candidates, passages=r.passages, warnings=report.warnings
        )

    def __enter__(self) -> Diagnoser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()
