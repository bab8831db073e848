"""The MCP server (the ``mcp`` SDK 2.x, ``MCPServer``).

Tools ``link``, ``retrieve_evidence``, ``diagnose``, ``ground``, ``lookup_concept`` and
``get_span`` whose output schemas are the REST response models. Served over stdio (``kgrag
mcp``) and, stateless, as streamable HTTP at ``/mcp/`` of the REST app, behind the same key
check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from kgrag._version import __version__
from kgrag.errors import InvalidRequest, KgragError
from kgrag.retrieval.grounded import GroundedDifferential
from kgrag.retrieval.request import CaseRequest
from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle, FindingInput, Method
from kgrag.serve.config import ServeConfig
from kgrag.serve.models import LinkResponse, SpanResponse
from kgrag.serve.service import KnowledgeService
from kgrag.types import Concept

T = TypeVar("T")

INSTRUCTIONS = (
    "kgrag retrieves cited clinical evidence from a local knowledge graph. Use link to find "
    "findings in text, retrieve_evidence for the evidence bundle an answer should cite, "
    "diagnose for a ranked differential, ground to check a differential against the evidence, "
    "lookup_concept for a code, get_span to read a cited span."
)


def build_mcp(service: KnowledgeService, config: ServeConfig | None = None) -> MCPServer:
    """The MCP server over ``service``.

    Args:
        service: the loaded (or loading) knowledge base.
        config: limits (text length, top_k, findings) and the timeout; ``None``: defaults.

    Returns:
        An ``MCPServer`` with the six tools.
    """
    cfg = config or ServeConfig()
    # log_level: the SDK calls logging.basicConfig with it (a no-op once kgrag's JSON
    # logging is configured)
    server = MCPServer(name="kgrag", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    async def run(fn: Callable[[], T]) -> T:
        """A blocking call in a worker thread (the case service owns the timeout)."""
        try:
            return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        except KgragError as e:
            raise ToolError(str(e)) from e

    def case(**fields: Any) -> CaseRequest:
        """The one case request, within this server's limits (else a ToolError saying which)."""
        try:
            req = CaseRequest.parse(**fields)
        except InvalidRequest as e:
            raise ToolError(str(e)) from e
        if problem := cfg.case_problem(req):
            raise ToolError(problem[1])
        return req

    def check(text: str) -> None:
        if problem := cfg.text_problem(text, "text"):
            raise ToolError(problem[1])

    @server.tool(
        description="Mentions of diseases and findings in clinical text, with assertion "
        "(present, absent, ...) and ranked concept candidates."
    )
    async def link(text: Annotated[str, Field(description="clinical text")]) -> LinkResponse:
        check(text)
        return LinkResponse(mentions=await run(lambda: service.link(text)))

    @server.tool(
        description="The evidence bundle for a case: graph candidates with finding paths "
        "and citations, and passages with verified spans. No LLM."
    )
    async def retrieve_evidence(
        text: Annotated[str | None, Field(description="a patient description")] = None,
        findings: Annotated[list[FindingInput] | None, Field(description="coded findings")] = None,
        top_k: Annotated[int, Field(ge=1)] = 10,
    ) -> EvidenceBundle:
        req = case(text=text, findings=findings, top_k=top_k)
        return await run(lambda: service.retrieve(req))

    @server.tool(
        description="A ranked differential diagnosis with category paths, probabilities, "
        "cited evidence and follow-up questions."
    )
    async def diagnose(
        text: Annotated[str | None, Field(description="a patient description")] = None,
        findings: Annotated[list[FindingInput] | None, Field(description="coded findings")] = None,
        top_k: Annotated[int, Field(ge=1)] = 10,
        method: Method | None = None,
    ) -> DiagnosisReport:
        req = case(text=text, findings=findings, top_k=top_k, method=method)
        return await run(lambda: service.diagnose(req))

    @server.tool(
        description="Ground a differential: for each hypothesis (a disease name or code), the "
        "patient's findings that support it and those against it, each with verified citations, "
        "what it leaves unexplained, what to ask next and how much the knowledge base knows "
        "about it; plus kgrag's own candidates not among them (consider_also)."
    )
    async def ground(
        hypotheses: Annotated[list[str], Field(min_length=1, description="diagnoses: names or codes")],
        text: Annotated[str | None, Field(description="a patient description")] = None,
        findings: Annotated[list[FindingInput] | None, Field(description="coded findings")] = None,
        setting: Annotated[str | None, Field(description="general | rare | uniform")] = None,
    ) -> GroundedDifferential:
        req = case(text=text, findings=findings, hypotheses=hypotheses, setting=setting)
        return await run(lambda: service.ground(req))

    @server.tool(
        description="A unified concept by any of its ids or codes (HP:, DOID:, MESH:, OMIM:, ...)."
    )
    async def lookup_concept(code: Annotated[str, Field(min_length=1, max_length=200)]) -> Concept:
        return await run(lambda: service.concept(code))

    @server.tool(
        description="The cited text: text[start:end] of a stored document (a passage "
        "citation's document, start and end)."
    )
    async def get_span(
        document: Annotated[str, Field(min_length=1)],
        start: Annotated[int | None, Field(ge=0)] = None,
        end: Annotated[int | None, Field(ge=0)] = None,
    ) -> SpanResponse:
        try:
            return await run(lambda: service.span(document, start, end))
        except (KeyError, ValueError) as e:
            raise ToolError(str(e)) from e

    return server
