"""The FastAPI app.

Routes, error mapping, the lifespan that loads the knowledge base once, the MCP endpoint and the web
page.

``create_app()`` builds one from a :class:`~kgrag.serve.config.ServeConfig`;
``app_from_env()`` is the factory uvicorn's workers import (``--workers N``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kgrag._version import __version__
from kgrag.errors import (
    ApiError,
    ArtifactDamaged,
    ConceptNotFound,
    ConfigError,
    DocumentNotFound,
    GraphUnavailable,
    KgragError,
    KnowledgeBaseRebuilding,
    LLMNotConfigured,
    NotReady,
    NoUsableFindings,
    RequestTimeout,
    RetrievalNotBuilt,
)
from kgrag.retrieval.grounded import GroundedDifferential
from kgrag.retrieval.request import CaseRequest
from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle
from kgrag.serve import metrics
from kgrag.serve.config import ServeConfig
from kgrag.serve.guard import Guard
from kgrag.serve.models import (
    ConceptSearchResponse,
    DiagnoseRequest,
    ErrorBody,
    GroundRequest,
    Health,
    LinkRequest,
    LinkResponse,
    NormalizeRequest,
    NormalizeResponse,
    Readiness,
    RetrieveRequest,
    SpanResponse,
)
from kgrag.serve.service import KnowledgeService
from kgrag.types import Concept, SemanticKind

logger = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

STATIC = Path(str(resources.files("kgrag.serve") / "static"))


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "missing or invalid API key",
        404: "not found",
        413: "request body too large",
        422: "invalid request (limits, missing input, unusable findings)",
        429: "rate limited (see Retry-After)",
        501: "not available in this deployment",
        503: "knowledge base loading or graph store unavailable",
        504: "request took longer than the timeout",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


COMMON = (401, 413, 422, 429, 503, 504)


def create_app(config: ServeConfig | None = None, service: KnowledgeService | None = None) -> FastAPI:
    """The sidecar app.

    Args:
        config: serve settings (``None``: from ``KGRAG_SERVE_*``).
        service: the knowledge base to serve (``None``: ``config.store`` or the default);
            loaded in the lifespan, in a background thread, so ``/readyz`` says 503 until done.

    Returns:
        The FastAPI app (OpenAPI at ``/openapi.json``, docs at ``/docs``, MCP at ``/mcp/``).

    Raises:
        ConfigError: bound beyond loopback without an API key, or an invalid setting.
    """
    from kgrag.serve.mcp_server import build_mcp

    config = config or ServeConfig()
    config.check()
    keys = config.keys()
    svc = service or KnowledgeService(
        config.store, torch_threads=config.torch_threads, timeout_s=config.request_timeout_s
    )
    mcp = build_mcp(svc, config)
    # With keys, the key check guards /mcp/; without (loopback only), the SDK's
    # DNS-rebinding guard accepts only loopback Host headers.
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=not keys, allowed_hosts=config.mcp_allowed_hosts
    )
    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/",
        stateless_http=True,
        json_response=True,
        host=config.host,
        transport_security=security,
        max_request_body_size=config.max_body_bytes,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.threads = anyio.CapacityLimiter(config.request_threads)  # this loop's
        loader = threading.Thread(target=svc.load, name="kgrag-load", daemon=True)
        loader.start()
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(mcp.session_manager.run())
            yield
        svc.stop_loading()  # a loader waiting to retry (build running, damaged artifact) ends now
        await anyio.to_thread.run_sync(loader.join, 5.0)
        svc.close()

    app = FastAPI(
        title="kgrag",
        version=__version__,
        description="Knowledge-graph retrieval for clinical text: concept linking, cited evidence, "
        "a ranked differential. Send an API key as 'Authorization: Bearer KEY' or 'X-API-Key'.",
        lifespan=lifespan,
    )
    app.state.service = svc
    app.state.config = config

    async def call(fn: Callable[[], T]) -> T:
        """Run a blocking library call in a worker thread (the case service owns the timeout)."""
        return await anyio.to_thread.run_sync(
            fn, abandon_on_cancel=True, limiter=getattr(app.state, "threads", None)
        )

    def rendered(model: M) -> tuple[M, Response]:
        """The answer and its JSON, rendered once in the worker thread.

        Returned as a ready response, FastAPI neither validates the model against the route's
        ``response_model`` again (which only documents it) nor renders it on the event loop.
        """
        return model, Response(model.model_dump_json(), media_type="application/json")

    def limit_text(value: str | None, field: str) -> None:
        if problem := config.text_problem(value, field):
            raise ApiError(422, *problem)

    def limit_case(req: CaseRequest) -> None:
        if problem := config.case_problem(req):
            raise ApiError(422, *problem)

    # -- errors ------------------------------------------------------------------------
    def body(
        status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(
            ErrorBody(error=error, message=message).model_dump(exclude_none=True), status, headers
        )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return body(e.status, e.error, e.message, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": err.get("type"),
            }
            for err in e.errors()
        ]
        return JSONResponse(
            ErrorBody(
                error="invalid_request", message="the request does not match the schema", details=details
            ).model_dump(),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        return body(e.status_code, "http_error", str(e.detail), getattr(e, "headers", None))

    @app.exception_handler(KgragError)
    async def _kgrag(request: Request, e: KgragError) -> JSONResponse:
        if isinstance(e, NoUsableFindings):
            metrics.ABSTENTIONS.labels("no_usable_findings").inc()
            return body(422, "no_usable_findings", str(e))
        if isinstance(e, (ConceptNotFound, DocumentNotFound)):
            return body(404, "not_found", str(e))
        if isinstance(e, NotReady):
            return body(503, "not_ready", str(e), {"Retry-After": "5"})
        if isinstance(e, GraphUnavailable):
            return body(
                503, "graph_unavailable", f"the graph store is unavailable: {e}", {"Retry-After": "5"}
            )
        if isinstance(e, ArtifactDamaged):
            return body(503, "damaged", str(e))
        if isinstance(e, RetrievalNotBuilt):
            return body(503, "not_built", str(e))
        if isinstance(e, KnowledgeBaseRebuilding):
            return body(503, "rebuilding", str(e), {"Retry-After": "10"})
        if isinstance(e, RequestTimeout):
            return body(504, "timeout", str(e))
        if isinstance(e, (ConfigError, ValueError)):
            return body(422, "invalid_request", str(e))
        return _internal(request, e)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> JSONResponse:
        return _internal(request, e)

    def _internal(request: Request, e: Exception) -> JSONResponse:
        """A fault that is not the caller's (any non-kgrag exception, a plain ValueError too).

        500 with a request id, logged with that id and the error's type and traceback,
        never the request's body (no patient text).
        """
        request_id = uuid.uuid4().hex[:16]
        logger.error(
            "unexpected error",
            exc_info=(type(e), e, e.__traceback__),
            extra={"error_type": type(e).__name__, "request_id": request_id, "path": request.url.path},
        )
        return body(
            500, "internal_error", f"the server failed (request id {request_id}); see its log",
            {"X-Request-Id": request_id},
        )  # fmt: skip

    # -- probes and metrics ------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["ops"])
    async def healthz() -> Health:
        """Alive (the process answers); says nothing about the knowledge base."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Readiness, tags=["ops"], responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        """Ready: knowledge base, model and index loaded, and the graph store answers."""
        try:
            with anyio.fail_after(config.readiness_probe_s):
                r = await anyio.to_thread.run_sync(svc.readiness, abandon_on_cancel=True)
        except TimeoutError:
            r = svc.status(
                "unavailable", f"the graph store did not answer within {config.readiness_probe_s:g} s"
            )
        return JSONResponse(r.model_dump(), 200 if r.status == "ready" else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response, responses=_errors(401, 429))
    async def prometheus() -> Response:
        """Prometheus metrics.

        Requests, latency per route, stage timings, citations, LLM parse failures, abstentions.
        """
        data, ctype = metrics.exposition()
        return Response(data, media_type=ctype)

    # -- the API -----------------------------------------------------------------------
    @app.post("/v1/link", response_model=LinkResponse, tags=["linking"], responses=_errors(*COMMON))
    async def link(req: LinkRequest) -> LinkResponse:
        """Mentions of diseases and findings with assertion and ranked candidates."""
        limit_text(req.text, "text")
        return LinkResponse(mentions=await call(lambda: svc.link(req.text)))

    @app.post(
        "/v1/normalize", response_model=NormalizeResponse, tags=["linking"], responses=_errors(*COMMON)
    )
    async def normalize(req: NormalizeRequest) -> NormalizeResponse:
        """The top-k concepts for one mention string."""
        limit_text(req.mention, "mention")
        limit_text(req.context, "context")
        return NormalizeResponse(
            candidates=await call(lambda: svc.normalize(req.mention, req.context, req.k))
        )

    @app.post(
        "/v1/retrieve", response_model=EvidenceBundle, tags=["retrieval"], responses=_errors(*COMMON)
    )
    async def retrieve(req: RetrieveRequest) -> Response:
        """The evidence bundle (graph candidates with paths, cited passages), no LLM."""
        limit_case(req)
        bundle, body = await call(lambda: rendered(svc.retrieve(req)))
        metrics.observe_report(bundle)
        return body

    @app.post(
        "/v1/diagnose",
        response_model=DiagnosisReport,
        tags=["retrieval"],
        responses=_errors(*COMMON, 501),
    )
    async def diagnose(req: DiagnoseRequest) -> Any:
        """The ranked differential with evidence and follow-up questions.

        With ``"llm": true`` the generation stage's grounded answer (501 when unavailable).
        """
        limit_case(req)
        if req.llm:
            return await _grounded(req)
        report, body = await call(lambda: rendered(svc.diagnose(req)))
        metrics.observe_report(report)
        if not report.candidates:
            metrics.ABSTENTIONS.labels("no_candidates").inc()
        return body

    @app.post(
        "/v1/ground",
        response_model=GroundedDifferential,
        tags=["retrieval"],
        responses=_errors(*COMMON),
    )
    async def ground(req: GroundRequest) -> Response:
        """Ground the caller's differential: evidence for and against each hypothesis.

        Each hypothesis (a name or a code) comes back resolved (or ``unresolved`` with its
        nearest concepts) with its supporting and opposing findings, each cited and
        verified, what it leaves unexplained, what to ask, its coverage and a grounding
        score; ``consider_also`` holds kgrag's own top candidates not among them.
        """
        limit_case(req)
        _, body = await call(lambda: rendered(svc.ground(req)))
        return body

    async def _grounded(req: DiagnoseRequest) -> Any:
        try:
            result = await call(lambda: svc.grounded(req))
        except (LLMNotConfigured, ImportError, ConfigError) as e:
            raise ApiError(501, "llm_unavailable", str(e)) from e
        metrics.observe_grounded(result)
        return JSONResponse(result.model_dump(mode="json"))

    @app.get(
        "/v1/concepts/{concept_id}",
        response_model=Concept,
        tags=["concepts"],
        responses=_errors(*COMMON, 404),
    )
    async def concept(
        concept_id: Annotated[
            str, PathParam(min_length=1, max_length=200, description="any id or code")
        ],
    ) -> Concept:
        """One unified concept by any of its codes (``HP:0001250``, ``MESH:D003924``, ...)."""
        return await call(lambda: svc.concept(concept_id))

    @app.get(
        "/v1/concepts",
        response_model=ConceptSearchResponse,
        tags=["concepts"],
        responses=_errors(*COMMON),
    )
    async def search(
        q: Annotated[str, Query(min_length=1, max_length=500, description="name or code")],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        kind: Annotated[SemanticKind | None, Query(description="only this kind")] = None,
    ) -> ConceptSearchResponse:
        """Concepts by name (exact, then fuzzy) or code."""
        return await call(lambda: svc.search(q, limit, kind.value if kind else None))

    @app.get(
        "/v1/documents/{document_id:path}/span",
        response_model=SpanResponse,
        tags=["evidence"],
        responses=_errors(*COMMON, 404),
    )
    async def span(
        document_id: Annotated[str, PathParam(min_length=1, description="a passage's 'document'")],
        start: Annotated[int | None, Query(ge=0)] = None,
        end: Annotated[int | None, Query(ge=0)] = None,
    ) -> SpanResponse:
        """The cited text: ``text[start:end]`` of a stored document."""
        return await call(lambda: svc.span(document_id, start, end))

    # -- MCP and the page --------------------------------------------------------------
    app.mount("/mcp", mcp_app, name="mcp")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.add_middleware(
        Guard,
        keys=keys,
        max_body_bytes=config.max_body_bytes,
        rate_limit=config.rate_limit,
        routes=lambda: app.router.routes,
    )
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    return app


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory kgrag.serve.app:app_from_env``.

    Each worker builds its own from ``KGRAG_SERVE_*`` and loads the knowledge base once.
    """
    from kgrag.serve.logs import configure

    config = ServeConfig()
    configure(config.log_level)
    return create_app(config)
