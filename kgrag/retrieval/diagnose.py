"""The differential diagnosis.

A facade over finding parsing (:mod:`.findings`), the rankers (:mod:`.rankers`), passage search
(:mod:`.passage_search`) and evidence (:mod:`.evidence`, :mod:`.report`).

``Diagnoser`` holds what a warm process reuses (the model, the passage index, the
linker, the rankers); ``kgrag.diagnose`` and ``kgrag.retrieve`` use a shared one.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from kgrag._text import sanitize
from kgrag.config import Settings, get_settings
from kgrag.errors import InvalidRequest, KnowledgeBaseRebuilding, RetrievalError, RetrievalNotBuilt
from kgrag.graph.base import GraphStore
from kgrag.retrieval.artifacts import META_KEY, artifacts_dir
from kgrag.retrieval.citations import verify
from kgrag.retrieval.consistency import consistent_read, read_stamp
from kgrag.retrieval.evidence import EvidenceBuilder
from kgrag.retrieval.findings import FindingsArg, read_findings
from kgrag.retrieval.manifest import verify as verify_artifacts
from kgrag.retrieval.model import FILE_NAME, DiagnosticModel, ScoringParams
from kgrag.retrieval.passage_search import PassageSearch, findings_query
from kgrag.retrieval.priors import SETTINGS, DiseasePrior, Setting, disease_priors, log_prior
from kgrag.retrieval.rankers import Ranker, RankRequest, make_ranker
from kgrag.retrieval.report import Laps, Ranking, build_report, check_request, posterior
from kgrag.retrieval.request import CaseRequest
from kgrag.retrieval.types import Citation, DiagnosisReport, EvidenceBundle, EvidenceLevel, Method

if TYPE_CHECKING:
    from kgrag.linking.linker import ConceptLinker
    from kgrag.ontology.table import ConceptTable
    from kgrag.retrieval.grounded import GroundedDifferential
    from kgrag.retrieval.grounding import Grounder


class Diagnoser:
    """A differential diagnosis over one knowledge base.

    Holds what a warm process reuses (the compiled model, the passage index, the linker).
    :func:`kgrag.diagnose` uses a shared one over the default knowledge base; make your own for
    another store.

    Args:
        store: the knowledge base: a store, a directory or ``neo4j://`` URI (default: settings).
        settings: kgrag settings (default: the environment's).
        table: the concept table (default: loaded on first use).
        linker: the text linker (default: built over ``table`` on first use).
        params: scoring constants for the graph model (default: the compiled ones).

    Raises:
        RetrievalNotBuilt: the knowledge base has no retrieval artifacts matching it.
        ArtifactDamaged: an artifact is missing, truncated, altered or from another build
            (checked against the build's manifest, :mod:`kgrag.retrieval.manifest`).

    Examples:
        >>> import kgrag
        >>> dx = kgrag.Diagnoser(kgrag.open_store("/tmp/guidelines-kb", read_only=True))
        >>> dx.diagnose(findings=["DDXE:E_91", "DDXE:E_77"], top_k=3).candidates[0].rank
        1
    """

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
        if read_stamp(self.store).status == "building":
            self.store.close()
            raise KnowledgeBaseRebuilding(
                "the knowledge base is being built (a build is running, or one was interrupted "
                "and `kgrag build` resumes it); retry when the build finishes"
            )
        try:  # sizes always, SHA-256 on the first open in this process
            verify_artifacts(self.directory, self.store.get_meta(META_KEY))
        except RetrievalError:
            now = read_stamp(self.store)
            if store is not self.store:  # opened here
                self.store.close()
            if now.retrieval == "building" or now.status == "building":
                raise KnowledgeBaseRebuilding(
                    "the knowledge base's retrieval artifacts are being written (a build is "
                    "running, or one was interrupted); retry when `kgrag build` finishes"
                ) from None
            raise
        self.model = DiagnosticModel.load(self.directory / FILE_NAME, params)
        if (stamp := self.store.get_meta(META_KEY)) != self.model.fingerprint:
            raise RetrievalNotBuilt(
                f"the retrieval artifacts in {self.directory} do not match the graph "
                f"(graph says {stamp!r}); rerun `kgrag build`"
            )
        if table is not None:
            self.table = table
        if linker is not None:
            self.linker = linker
        self.passages = PassageSearch(self.store, self.directory)
        self.evidence = EvidenceBuilder(self.model, self.store)
        self._rankers: dict[str, Ranker] = {}
        self._log_priors: dict[str, npt.NDArray[np.float64]] = {}

    @cached_property
    def table(self) -> ConceptTable:
        """The concept table (resolves codes that are not finding terms of the model)."""
        from kgrag.ontology.compiled import load_concepts

        return load_concepts(self.settings)

    @cached_property
    def linker(self) -> ConceptLinker:
        """The linker for free text."""
        from kgrag.linking.linker import ConceptLinker

        return ConceptLinker(self.table)

    @cached_property
    def priors(self) -> list[DiseasePrior]:
        """Each model disease's prior class (computed once from the store's nodes)."""
        return disease_priors(self.model.diseases, self.store, self.settings.ontologies_dir)

    @cached_property
    def prior_classes(self) -> list[str]:
        """Each model disease's prior class name (``common``, ``rare``, ...)."""
        return [p.prior_class.value for p in self.priors]

    def log_prior(self, setting: Setting) -> npt.NDArray[np.float64]:
        """The log prior per model disease under ``setting``, cached per setting.

        In nats, shape ``(n_diseases,)``.

        Raises:
            InvalidRequest: ``setting`` is not one of :data:`~kgrag.retrieval.priors.SETTINGS`.
        """
        if setting not in SETTINGS:
            raise InvalidRequest(f"setting must be one of {', '.join(SETTINGS)}, got {setting!r:.40}")
        if setting not in self._log_priors:
            self._log_priors[setting] = log_prior([p.prior_class for p in self.priors], setting)
        return self._log_priors[setting]

    def ranker(self, method: Method) -> Ranker:
        """The ranker registered as ``method`` (made once per Diagnoser)."""
        if method not in self._rankers:
            self._rankers[method] = make_ranker(method, self.model, self.settings)
        return self._rankers[method]

    def rank(
        self,
        text: str | None = None,
        findings: FindingsArg = None,
        *,
        method: Method | None = None,
        passages_k: int | None = None,
        drop_references: Iterable[str] = (),
        with_passages: bool = False,
        setting: Setting | None = None,
    ) -> Ranking:
        """Every candidate in rank order, without evidence (what benchmarks need).

        Passages are searched when the ranker needs them or ``with_passages``. Arguments as for
        :meth:`diagnose`.
        """
        method = method or self.settings.diagnose_method
        if text is not None:
            text = sanitize(text)  # lone surrogates (invalid UTF-8 in argv): U+FFFD
        ranker, laps = self.ranker(method), Laps()
        resolve, link = (lambda c: self.table.resolve(c)), (lambda t: self.linker.link(t))
        f = read_findings(self.model, text, findings, resolve=resolve, link=link)
        laps.lap("findings")
        dropped = set(drop_references)  # read once: it may be an iterator
        log_lr = self.model.score(f.present, f.absent, drop_references=dropped)
        setting = setting or self.settings.diagnose_setting
        prior = self.log_prior(setting)
        scored = log_lr + prior  # the pretest probability, in nats
        laps.lap("graph")
        passages, warnings = [], []
        if ranker.needs_passages or with_passages:
            query = text or findings_query(self.model, f.present)
            passages = self.passages.search(query, passages_k or self.settings.passages_k)
            if self.passages.error:
                warnings.append(self.passages.error + " (ranked by the graph alone)")
            laps.lap("vector")
        ranked = ranker.rank(RankRequest(scored, f.present, f.absent, passages, prior))
        laps.lap("rank")
        return Ranking(
            method, ranked.order, ranked.scores, ranked.ranks, log_lr, posterior(scored),
            f.present, f.absent, f.query, passages, dropped, warnings, laps,
            setting, prior, self.prior_classes,
        )  # fmt: skip

    def diagnose(
        self,
        text: str | None = None,
        findings: FindingsArg = None,
        *,
        top_k: int = 10,
        method: Method | None = None,
        evidence: EvidenceLevel = "full",
        passages_k: int | None = None,
        drop_references: Iterable[str] = (),
        setting: Setting | None = None,
    ) -> DiagnosisReport:
        """A ranked differential for ``text`` and/or coded ``findings``.

        Args:
            text: a patient description (linked, assertion-tagged).
            findings: codes (``"HP:0001250"``) or ``{"id": ..., "absent": true}``.
            top_k: candidates in the report.
            method: a ranker's name (default: ``settings.diagnose_method``).
            evidence: ``none``, ``summary`` or ``full`` (:data:`~kgrag.retrieval.types.EvidenceLevel`);
                below ``full`` no passage search unless the ranker needs it.
            passages_k: passages searched (default: ``settings.passages_k``).
            drop_references: score without annotations that cite only these references
                (evaluation on cases curated from the same papers).
            setting: the pretest probability, ``general`` | ``rare`` | ``uniform``
                (default: ``settings.diagnose_setting``; see :mod:`kgrag.retrieval.priors`).

        Returns:
            The report.

        Raises:
            NoUsableFindings: no present finding in the input.
            ConfigError: a bad argument or too large a request.
        """
        check_request(top_k, evidence)
        with consistent_read(self.store, self.model.fingerprint):  # one version, or an error
            r = self.rank(
                text, findings, method=method, passages_k=passages_k,
                drop_references=drop_references, with_passages=evidence == "full",
                setting=setting,
            )  # fmt: skip
            return build_report(r, top_k, evidence, self.store, self.evidence)

    def retrieve(
        self,
        text: str | None = None,
        findings: FindingsArg = None,
        *,
        top_k: int = 10,
        passages_k: int | None = None,
        setting: Setting | None = None,
    ) -> EvidenceBundle:
        """The evidence alone: graph candidates with full evidence, and the passages."""
        check_request(top_k, "full")
        with consistent_read(self.store, self.model.fingerprint):  # one version, or an error
            r = self.rank(
                text, findings, method="graph", passages_k=passages_k, with_passages=True,
                setting=setting,
            )  # fmt: skip
            report = build_report(r, top_k, "full", self.store, self.evidence)
        return EvidenceBundle(
            query=report.query, diseases=report.candidates, passages=r.passages, warnings=report.warnings
        )

    @cached_property
    def grounder(self) -> Grounder:
        """Grounds a caller's hypotheses (:mod:`kgrag.retrieval.grounding`), made on first use."""
        from kgrag.retrieval.grounding import Grounder

        return Grounder(self)

    def ground(
        self, request: CaseRequest, *, drop_references: Iterable[str] = ()
    ) -> GroundedDifferential:
        """The evidence for and against each of ``request.hypotheses``, and a second opinion.

        Args:
            request: the case and its hypotheses (:class:`~kgrag.retrieval.request.CaseRequest`).
            drop_references: rank the second opinion without annotations that cite only these
                references (evaluation on cases curated from the same papers).

        Returns:
            The :class:`~kgrag.retrieval.grounded.GroundedDifferential`, best grounded first.

        Raises:
            NoUsableFindings: the case names no finding kgrag knows.
        """
        with consistent_read(self.store, self.model.fingerprint):  # one version, or an error
            return self.grounder.ground(request, drop_references=drop_references)

    def verify(self, citation: Citation) -> bool:
        """Does the cited span of the stored document read exactly as the quote?"""
        return verify(self.store, citation)

    def __enter__(self) -> Diagnoser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store."""
        self.store.close()
