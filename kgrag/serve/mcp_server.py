"""The MCP server (the ``mcp`` SDK 2.x, ``MCPServer``).

Tools ``link``, ``retrieve_evidence``, ``diagnose``, ``lookup_concept`` and ``get_span`` whose
output schemas are the REST response models. Served over stdio (``kgrag mcp``) and, stateless, as
streamable HTTP at ``/mcp/`` of the REST app, behind the same key check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from kgrag._version import __version__
from kgrag.errors import KgragError
from kgrag.retrieval.types import DiagnosisReport, EvidenceBundle, FindingInput, Method
from kgrag.serve.config import ServeConfig
from kgrag.serve.models import DiagnoseRequest, LinkResponse, RetrieveRequest, SpanResponse
from kgrag.serve.service import KnowledgeService
from kgrag.types import Concept

T = TypeVar("T")

INSTRUCTIONS = (
    "kgrag retrieves cited clinical evidence from a local knowledge graph. Use link to find "
    "findings in text, retrieve_evidence for the evidence bundle an answer should cite, "
    "diagnose for a ranked differential, lookup_concept for a code, get_span to read a cited span."
)


def build_mcp(service: KnowledgeService, config: ServeConfig | None = None) -> MCPServer:
    """The MCP server over ``service``.

    Args:
        service: the loaded (or loading) knowledge base.
        config: limits (text length, top_k, findings) and the timeout; ``None``: defaults.

    Returns:
        An ``MCPServer`` with the five tools.
    """
    cfg = config or ServeConfig()
    # log_level: the SDK calls logging.basicConfig with it (a no-op once kgrag's JSON
    # logging is configured)
    server = MCPServer(name="kgrag", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    async def run(fn: Callable[[], T]) -> T:
        try:
            with anyio.fail_after(cfg.request_timeout_s):
                return await anyio.to_thread.run_sync(fn, abandon_on_cancel=True)
        except TimeoutError as e:
            raise ToolError(f"timed out after {cfg.request_timeout_s:g} s") from e
        except KgragError as e:
            raise ToolError(str(e)) from e

    def check(text: str | None, top_k: int = 1, findings: int = 0) -> None:
        if text is not None and len(text) > cfg.max_text_chars:
            raise ToolError(f"text of {len(text):,} characters; at most {cfg.max_text_chars:,}")
        if top_k > cfg.max_top_k:
            raise ToolError(f"top_k at most {cfg.max_top_k}")
        if findings > cfg.max_findings:
            raise ToolError(f"at most {cfg.max_findings} findings")

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
        check(text, top_k, len(findings or []))
        try:
            req = RetrieveRequest(text=text, findings=findings or [], top_k=top_k)
        except ValueError as e:
            raise ToolError(str(e)) from e
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
        check(text, top_k, len(findings or []))
        try:
            req = DiagnoseRequest(text=text, findings=findings or [], top_k=top_k, method=method)
        except ValueError as e:
            raise ToolError(str(e)) from e
        return await run(lambda: service.diagnose(req))

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
