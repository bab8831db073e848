"""The loaded knowledge base behind both the REST API and the MCP tools.

One :class:`~kgrag.retrieval.diagnose.Diagnoser` (graph store, diagnostic model, passage index,
linker), loaded once and warmed (priors, rankers), its calls run concurrently: every structure they
share is read-only once loaded, the embedded store gives each thread its own read connection, and
a reload after a rebuild waits for the requests in flight (:class:`ReadWriteGate`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from kgrag.errors import (
    ArtifactDamaged,
    ConceptNotFound,
    DocumentNotFound,
    GraphUnavailable,
    InvalidRequest,
    KnowledgeBaseRebuilding,
    LLMNotConfigured,
    NotReady,
)
from kgrag.graph.schema import Label
from kgrag.retrieval.request import CaseRequest
from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle
from kgrag.serve.models import ConceptSearchResponse, Readiness, SpanResponse
from kgrag.service import CaseService
from kgrag.types import Candidate, Concept, Mention

if TYPE_CHECKING:
    from kgrag.config import Settings
    from kgrag.generate.llm import LLM
    from kgrag.generate.types import GroundedDiagnosis
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.grounded import GroundedDifferential

logger = logging.getLogger(__name__)

T = TypeVar("T")


def warm(dx: Diagnoser) -> None:
    """Compute at load what the first requests would otherwise compute (and race to cache).

    The prior classes and the log prior of every setting, the default ranker, and which
    diseases each passage mentions.
    """
    from kgrag.retrieval.priors import SETTINGS

    for setting in SETTINGS:
        dx.log_prior(setting)
    dx.ranker(dx.settings.diagnose_method)
    dx.ranker("graph")
    _ = dx.passages.mentions  # chunk -> diseases it mentions, read once


class ReadWriteGate:
    """Many readers at once, or one writer; a waiting writer holds new readers off."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the gate shared."""
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the gate alone (waits for the readers in flight)."""
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class KnowledgeService:
    """One knowledge base, loaded once per process.

    Args:
        store: a knowledge-base directory or ``neo4j://`` URI (``None``: the settings').
        settings: kgrag settings (``None``: the process-wide ones).
        factory: builds the Diagnoser instead of ``Diagnoser(store, settings=...)``.
        torch_threads: CPU threads torch may use (0: leave torch's default), set once the
            passage encoder has loaded torch.
        timeout_s: the longest a request may run (the case service's timeout; None: no limit).
    """

    def __init__(
        self,
        store: str | None = None,
        *,
        settings: Settings | None = None,
        factory: Callable[[], Diagnoser] | None = None,
        torch_threads: int = 1,
        timeout_s: float | None = None,
    ) -> None:
        self.store_spec = store
        self.settings = settings
        self.factory = factory
        self.torch_threads = torch_threads
        self._dx: Diagnoser | None = None
        self._llm_instance: LLM | None = None
        self._lock = threading.Lock()  # making the LLM
        self._gate = ReadWriteGate()  # requests read together; a reload runs alone
        self.error: str | None = None
        self.parts = {"knowledge_base": False, "model": False, "index": False}
        self.load_seconds: float | None = None
        self.store_error: str | None = None  # set while a server-backed store is unreachable
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self.rebuilding = False  # the last load found a build running; load() retries
        self.damaged: ArtifactDamaged | None = None  # the last load found a damaged artifact
        # every case request goes through the one case service (the timeout); its calls run
        # through the gate below, which reloads the knowledge base after a newer build
        self.cases = CaseService(factory=lambda: self.diagnoser, timeout_s=timeout_s, guard=self._locked)

    # -- life cycle -------------------------------------------------------------------
    def load(self, retry_every: float = 5.0) -> None:
        """Open the store, load the model, the passage index and the linker (blocking).

        A failure is kept for ``/readyz`` instead of raised; a loaded service stays as is.
        While a build of the knowledge base is running (:class:`KnowledgeBaseRebuilding`),
        loading is retried every ``retry_every`` seconds until it completes or the service
        closes, so a server started during a build becomes ready when the build ends. A
        damaged artifact (:class:`ArtifactDamaged`) is retried the same way: requests answer
        503 naming the file, and the server becomes ready once ``kgrag build`` has remade it.
        """
        while self._dx is None and not self._stop.is_set():
            self._load_once()
            if self._dx is not None or not self.rebuilding:
                return
            self._stop.wait(retry_every)

    def _load_once(self) -> None:
        """One attempt of :meth:`load`; a failure is kept in ``error``.

        ``rebuilding`` and ``damaged`` keep the last outcome until this one is known, so a
        request meanwhile gets the same answer as before (not a "failed to load").
        """
        started = time.perf_counter()
        try:
            if self.factory is not None:
                dx = self.factory()
            else:
                from kgrag.retrieval.diagnose import Diagnoser

                dx = Diagnoser(self.store_spec, settings=self.settings)
            self.parts["knowledge_base"] = True
            _ = dx.model
            self.parts["model"] = True
            _ = dx.linker  # builds the dictionary over the concept table
            warm(dx)
            index = dx.passages.index
            self.parts["index"] = True
            torch = sys.modules.get("torch")
            if torch is not None and self.torch_threads:
                torch.set_num_threads(self.torch_threads)
            if index is None:
                logger.warning("passage search unavailable: %s", dx.passages.error)
            self._dx = dx
            self.rebuilding, self.damaged = False, None
            if getattr(dx.store, "driver", None) is not None:
                self._watch = threading.Thread(
                    target=self._watch_store, name="kgrag-store-watch", daemon=True
                )
                self._watch.start()
            self.load_seconds = time.perf_counter() - started
            self.error = None
            logger.info("knowledge base loaded", extra={"seconds": round(self.load_seconds, 2)})
        except ArtifactDamaged as e:  # kept for requests (503) and retried: a build repairs it
            self.damaged = e
            self.rebuilding = True
            self.error = f"{type(e).__name__}: {e}"
            logger.error("knowledge base is damaged: %s", e)
        except KnowledgeBaseRebuilding as e:
            self.rebuilding, self.damaged = True, None
            self.error = f"{type(e).__name__}: {e} (the server loads it when the build ends)"
            logger.warning("knowledge base is being built; loading it when the build ends")
        except Exception as e:
            self.rebuilding, self.damaged = False, None
            self.error = f"{type(e).__name__}: {e}"
            logger.error("knowledge base failed to load: %s", self.error)

    def _ping(self) -> None:
        """Raises GraphUnavailable when a server-backed store (Neo4j) does not answer.

        Not under the lock, and without the driver's 30 s of retries.
        """
        if self._dx is None:
            return
        driver = getattr(self._dx.store, "driver", None)
        if driver is None:
            return
        try:  # an auto-commit query: one round trip, none of execute_query's retries
            with driver.session(database=getattr(self._dx.store, "database", None)) as session:
                session.run("RETURN 1").consume()
        except Exception as e:
            raise GraphUnavailable(f"the graph store does not answer: {type(e).__name__}: {e}") from e

    def _watch_store(self, every: float = 1.0) -> None:
        """Poll the graph store every ``every`` seconds and keep ``store_error`` current.

        Requests then fail fast (503) while the graph server is down instead of each
        waiting out the driver's retries.
        """
        while not self._stop.wait(every):
            try:
                self._ping()
                if self.store_error is not None:
                    logger.warning("graph store reachable again")
                self.store_error = None
            except GraphUnavailable as e:
                if self.store_error is None:
                    logger.error(
                        "graph store unreachable", extra={"error_type": type(e.__cause__).__name__}
                    )
                self.store_error = str(e)

    def stop_loading(self) -> None:
        """End :meth:`load`'s retries (a load in progress finishes) and the store watcher."""
        self._stop.set()

    def close(self) -> None:
        """Stop the store watcher and close the knowledge base."""
        self._stop.set()
        if self._dx is not None:
            self._dx.close()
            self._dx = None

    @property
    def loaded(self) -> bool:
        """Whether the knowledge base has finished loading."""
        return self._dx is not None

    @property
    def diagnoser(self) -> Diagnoser:
        """Raises: NotReady: still loading, or loading failed."""
        if self._dx is None:
            if (d := self.damaged) is not None:  # a fresh copy: one error object per request
                raise ArtifactDamaged(d.path, d.problem, d.detail)
            if self.rebuilding:  # loaded again once the running build ends
                raise KnowledgeBaseRebuilding(
                    "the knowledge base is being rebuilt; the server reloads it when the build "
                    "ends (retry shortly)"
                )
            raise NotReady(
                (self.error and f"the knowledge base failed to load ({self.error}); fix and restart")
                or "the knowledge base is still loading; retry shortly (see /readyz)"
            )
        if self.store_error is not None:
            raise GraphUnavailable(self.store_error)
        return self._dx

    def status(self, status: str, detail: str | None = None) -> Readiness:
        """A readiness answer with the parts loaded so far."""
        return Readiness(
            status=status,  # type: ignore[arg-type]
            knowledge_base=self.parts["knowledge_base"],
            model=self.parts["model"],
            index=self.parts["index"],
            store=self.store_spec or "default",
            detail=detail,
        )

    def readiness(self) -> Readiness:
        """Loaded, and the graph store answers a read right now."""
        if self._dx is None:
            return self.status("unavailable" if self.error else "loading", self.error)
        try:
            if getattr(self._dx.store, "driver", None) is not None:
                self._ping()  # the server answers now
                self.store_error = None
            else:
                self._locked(lambda: self.diagnoser.store.get_meta("status"))
        except GraphUnavailable as e:
            self.store_error = str(e)
            return self.status("unavailable", str(e))
        return self.status("ready")

    def _locked(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` beside other requests, reloading the knowledge base once if needed.

        Requests run concurrently (each thread reads the graph through its own connection);
        when a newer build has completed since the knowledge base was loaded, the first
        request to notice waits for the requests in flight, reloads it while new ones wait,
        and ``fn`` runs again (``fn`` must read ``self.diagnoser`` anew, as every call below
        does).
        """
        with self._gate.read():
            stale = self._dx
            try:
                return fn()
            except KnowledgeBaseRebuilding as e:
                if not e.reopen or stale is None:
                    raise
                rebuilt = e
        with self._gate.write():
            if self._dx is stale:  # no other request reloaded it meanwhile
                logger.info("knowledge base rebuilt; reloading it")
                stale.close()
                self._dx = None
                self._load_once()
                if self._dx is None and self.rebuilding:  # another build began: load after it
                    threading.Thread(target=self.load, name="kgrag-reload", daemon=True).start()
            if self._dx is None:
                raise rebuilt
        with self._gate.read():
            return fn()

    # -- the calls ---------------------------------------------------------------------
    def link(self, text: str) -> list[Mention]:
        """Link ``text`` (see :func:`kgrag.link`), one request at a time."""
        dx = self.diagnoser
        return self._locked(lambda: dx.linker.link(text))

    def normalize(self, mention: str, context: str | None, k: int) -> list[Candidate]:
        """The top ``k`` concepts for ``mention`` (see :func:`kgrag.normalize`)."""
        dx = self.diagnoser
        return self._locked(lambda: dx.linker.normalize(mention, context, k))

    def retrieve(self, req: CaseRequest) -> EvidenceBundle:
        """The evidence bundle for a case (see :func:`kgrag.retrieve`)."""
        return self.cases.retrieve(req)

    def diagnose(self, req: CaseRequest) -> DiagnosisReport:
        """The ranked differential for a case (see :func:`kgrag.diagnose`)."""
        return self.cases.diagnose(req)

    def ground(self, req: CaseRequest) -> GroundedDifferential:
        """The caller's differential, grounded (see :func:`kgrag.ground`)."""
        return self.cases.ground(req)

    def grounded(self, req: CaseRequest) -> GroundedDiagnosis:
        """The generation stage's answer over this server's knowledge base.

        Raises:
            LLMNotConfigured: the server has no LLM (``KGRAG_LLM`` unset or ``none``).
        """
        return self.cases.answer(req, llm=self._llm())

    def _llm(self) -> LLM:
        """The configured LLM, made once (a GGUF model loads once per worker)."""
        settings = self.diagnoser.settings
        spec = (settings.llm or "").strip()
        if not spec or spec.lower() == "none":
            raise LLMNotConfigured(
                "no LLM is configured for this server: set KGRAG_LLM (openai://HOST:PORT/MODEL, "
                'a .gguf path or smollm2) and restart, or send "llm": false'
            )
        with self._lock:
            if self._llm_instance is None:
                from kgrag.generate.backends import llm_from_spec

                model = llm_from_spec(spec, settings)
                assert model is not None
                self._llm_instance = model
            return self._llm_instance

    def concept(self, code: str) -> Concept:
        """Raises: ConceptNotFound: no concept has this id or code."""
        dx = self.diagnoser
        return self._locked(lambda: dx.table.get(code))

    def search(self, q: str, limit: int, kind: str | None) -> ConceptSearchResponse:
        """Concepts whose names match ``q`` (at most ``limit``, of ``kind`` when given)."""
        dx = self.diagnoser
        kinds = [kind] if kind else None
        matches = self._locked(lambda: dx.table.search(q, limit=limit, kinds=kinds))
        return ConceptSearchResponse(query=q, matches=matches)

    def span(self, document: str, start: int | None, end: int | None) -> SpanResponse:
        """``text[start:end]`` of a stored document (whole text when both are omitted).

        Raises:
            DocumentNotFound: no document with this id.
            InvalidRequest: the span is outside the document or reversed.
        """
        dx = self.diagnoser
        node = self._locked(lambda: dx.store.get_node(document))
        if node is None or node.label is not Label.DOCUMENT:
            raise DocumentNotFound(f"no document {document!r}; cite ids come from passages' 'document'")
        text = str(node.props.get("text", ""))
        s = 0 if start is None else start
        e = len(text) if end is None else end
        if not 0 <= s <= e <= len(text):
            raise InvalidRequest(f"span [{s}:{e}] is outside the document (0..{len(text)})")
        return SpanResponse(
            document=document, title=node.name, start=s, end=e, text=text[s:e], length=len(text)
        )


__all__ = ["ConceptNotFound", "DocumentNotFound", "KnowledgeService", "NotReady"]
