"""The one service every entry point's case request goes through.

The Python API (``kgrag.diagnose``, ``retrieve``, ``ground``, ``answer``), the CLI (one case
and ``--input`` batches), REST and MCP all build a :class:`~kgrag.retrieval.request.CaseRequest`
(validated once, against one table of limits) and call a :class:`CaseService`, which owns:

- the knowledge base (a :class:`~kgrag.retrieval.diagnose.Diagnoser`, opened on first use);
- **reopen after rebuild**: when a newer build has completed since it was opened
  (:class:`~kgrag.errors.KnowledgeBaseRebuilding` with ``reopen``), the knowledge base is
  reopened once and the request runs again;
- **the timeout**: with ``timeout_s``, a request that runs longer raises
  :class:`~kgrag.errors.RequestTimeout` (the work is abandoned to its thread);
- **the evidence level** of each kind of request (``retrieve`` always cites in full).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, TypeVar

from kgrag.errors import InvalidRequest, KnowledgeBaseRebuilding, RequestTimeout

if TYPE_CHECKING:
    from kgrag.config import Settings
    from kgrag.generate.llm import LLM
    from kgrag.generate.types import GroundedDiagnosis
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.grounded import GroundedDifferential
    from kgrag.retrieval.request import CaseRequest
    from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle

T = TypeVar("T")


class CaseService:
    """Answers case requests over one knowledge base.

    Args:
        store: a knowledge-base directory or ``neo4j://`` URI (None: the settings' default).
        settings: kgrag settings (None: the environment's).
        factory: makes the Diagnoser (default: ``Diagnoser(store, settings=settings)``);
            the shared default passes one that reuses the shared linker.
        on_reopen: called when the knowledge base is reopened (the shared default drops
            its stale diagnoser).
        timeout_s: the longest a request may run (None: no limit).
        diagnoser: an already open knowledge base to start with.
        guard: runs every call instead, and owns reopening after a rebuild (the server's
            gate: requests run together, a reload runs alone); None: calls run directly and
            reopen here.

    Examples:
        >>> from kgrag.retrieval.request import CaseRequest
        >>> svc = CaseService()
        >>> svc.diagnose(CaseRequest.parse(findings=["HP:0001250"], top_k=3)).candidates[0].rank
        1
    """

    def __init__(
        self,
        store: str | None = None,
        *,
        settings: Settings | None = None,
        factory: Callable[[], Diagnoser] | None = None,
        on_reopen: Callable[[], None] | None = None,
        timeout_s: float | None = None,
        diagnoser: Diagnoser | None = None,
        guard: Callable[[Callable[[], Any]], Any] | None = None,
    ) -> None:
        self.store, self.settings, self.timeout_s = store, settings, timeout_s
        self._factory, self._on_reopen = factory, on_reopen
        self._dx: Diagnoser | None = diagnoser
        self._lock = threading.Lock()
        self._guard = guard
        self._pool: ThreadPoolExecutor | None = None

    # -- the knowledge base -----------------------------------------------------------------
    @property
    def diagnoser(self) -> Diagnoser:
        """The open knowledge base (opened on first use, once, under a lock).

        With a ``guard`` (a server that reloads its knowledge base itself), the factory's
        current one, every time.
        """
        if self._guard is not None and self._factory is not None:
            return self._factory()
        dx = self._dx
        if dx is None:
            with self._lock:
                if self._dx is None:
                    self._dx = self._open()
                dx = self._dx
        return dx

    def _open(self) -> Diagnoser:
        if self._factory is not None:
            return self._factory()
        from kgrag.retrieval.diagnose import Diagnoser

        return Diagnoser(self.store, settings=self.settings)

    def reopen(self) -> None:
        """Forget the open knowledge base; the next request opens it anew."""
        with self._lock:
            self._dx = None  # the old one closes when no request holds it
        if self._on_reopen is not None:
            self._on_reopen()

    def close(self) -> None:
        """Close the knowledge base (the service can be used again: it reopens)."""
        with self._lock:
            dx, self._dx = self._dx, None
        if dx is not None:
            dx.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> CaseService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running a request ------------------------------------------------------------------
    def run(self, call: Callable[[Diagnoser], T]) -> T:
        """``call`` on the knowledge base, reopened once after a rebuild, within the timeout.

        Raises:
            RequestTimeout: it ran longer than ``timeout_s``.
            KnowledgeBaseRebuilding: a build is running (retry when it ends).
        """
        if self.timeout_s is None:
            return self._with_reopen(call)
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kgrag-case")
        future = self._pool.submit(self._with_reopen, call)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout as e:
            future.cancel()
            raise RequestTimeout(
                f"the request took longer than {self.timeout_s:g} s; send fewer findings, "
                "hypotheses or candidates, or raise the timeout"
            ) from e

    def _with_reopen(self, call: Callable[[Diagnoser], T]) -> T:
        if self._guard is not None:
            result: T = self._guard(lambda: call(self.diagnoser))
            return result
        try:
            return call(self.diagnoser)
        except KnowledgeBaseRebuilding as e:
            if not e.reopen:
                raise
            self.reopen()
            return call(self.diagnoser)

    # -- the requests -----------------------------------------------------------------------
    def diagnose(self, req: CaseRequest) -> DiagnosisReport:
        """The ranked differential (see :func:`kgrag.diagnose`)."""
        return self.run(
            lambda dx: dx.diagnose(
                req.text,
                req.findings,
                top_k=req.top_k,
                method=req.method,
                evidence=req.evidence,
                passages_k=req.passages_k,
                setting=req.setting,
            )
        )

    def retrieve(self, req: CaseRequest) -> EvidenceBundle:
        """The evidence bundle, always with full citations (see :func:`kgrag.retrieve`)."""
        return self.run(
            lambda dx: dx.retrieve(
                req.text, req.findings, top_k=req.top_k, passages_k=req.passages_k, setting=req.setting
            )
        )

    def ground(self, req: CaseRequest) -> GroundedDifferential:
        """Each hypothesis with its evidence for and against (see :func:`kgrag.ground`).

        Raises:
            InvalidRequest: the request has no hypothesis to ground.
        """
        if not req.hypotheses:
            raise InvalidRequest(
                'no hypotheses to ground; give at least one diagnosis (["pneumonia", "ICD10CM:J20.9"])'
            )
        return self.run(lambda dx: dx.ground(req))

    def answer(self, req: CaseRequest, *, llm: LLM | str | None, **options: Any) -> GroundedDiagnosis:
        """The LLM's grounded answer (see :func:`kgrag.answer`).

        ``llm``: an :class:`~kgrag.generate.llm.LLM`, a spec (``openai://...``, a ``.gguf``
        path, ``smollm2``, ``none``) or None for the ``llm`` setting.
        """
        from kgrag.generate.answer import GenerateOptions, answer_with
        from kgrag.generate.backends import llm_from_spec

        def call(dx: Diagnoser) -> GroundedDiagnosis:
            opts = GenerateOptions.from_settings(dx.settings, **options)
            model = (
                llm if llm is not None and not isinstance(llm, str) else llm_from_spec(llm, dx.settings)
            )
            return answer_with(
                dx, req.text, list(req.findings), llm=model, top_k=req.top_k, options=opts,
                setting=req.setting, hypotheses=req.hypotheses,
            )  # fmt: skip

        return self.run(call)
