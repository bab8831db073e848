"""REST and MCP request and response bodies that are not library models.

Case bodies are the library's one :class:`~kgrag.retrieval.request.CaseRequest` (validated
once, one table of limits). The library models (:class:`~kgrag.types.Mention`,
:class:`~kgrag.types.Candidate`,
:class:`~kgrag.types.Concept`, :class:`~kgrag.retrieval.types.DiagnosisReport`,
:class:`~kgrag.retrieval.types.EvidenceBundle`) go on the wire as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kgrag.retrieval.request import LIMITS, CaseRequest
from kgrag.types import Candidate, ConceptMatch, Mention


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkRequest(_Request):
    """Body of ``POST /link``: the text to link."""

    text: str = Field(description="clinical text to link", examples=["No fever but chest pain."])


class LinkResponse(BaseModel):
    """Answer of ``POST /link``: the mentions found, in text order."""

    mentions: list[Mention]


class NormalizeRequest(_Request):
    """Body of ``POST /normalize``: a mention (with optional context) to rank concepts for."""

    mention: str = Field(min_length=1, description="a mention string", examples=["heart attack"])
    context: str | None = Field(default=None, description="the mention's document (optional)")
    k: int = Field(default=5, ge=1, le=50, description="candidates to return")


class NormalizeResponse(BaseModel):
    """Answer of ``POST /normalize``: the candidate concepts, best first."""

    candidates: list[Candidate]


class RetrieveRequest(CaseRequest):
    """Body of ``POST /v1/retrieve``: a case (the one :class:`~kgrag.retrieval.request.CaseRequest`)."""


class DiagnoseRequest(CaseRequest):
    """Body of ``POST /v1/diagnose``: a case, and whether to answer with the LLM."""

    llm: bool = Field(
        default=False, description="the generation stage's grounded answer (needs a configured LLM)"
    )


class GroundRequest(CaseRequest):
    """Body of ``POST /v1/ground``: a case and the differential to ground (1-50 hypotheses)."""

    hypotheses: list[str] = Field(
        min_length=1,
        max_length=LIMITS["hypotheses"],
        description="diagnoses to ground: names or codes of any shipped vocabulary",
        examples=[["community-acquired pneumonia", "ICD10CM:J20.9", "pulmonary embolism"]],
    )


class ConceptSearchResponse(BaseModel):
    """Answer of the concept search route: the query and the concepts it matched, best first."""

    query: str
    matches: list[ConceptMatch]


class SpanResponse(BaseModel):
    """``text[start:end]`` of a stored document: what a passage citation quotes."""

    document: str
    title: str
    start: int
    end: int
    text: str
    length: int = Field(description="characters in the whole document")


class Health(BaseModel):
    """Answer of ``/healthz``: the process is up."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Answer of ``/readyz``: whether the knowledge base, model, index and store are loaded."""

    status: Literal["ready", "loading", "unavailable"]
    knowledge_base: bool
    model: bool
    index: bool
    store: str
    detail: str | None = None


class ErrorBody(BaseModel):
    """Every error the API returns: a stable code and a message that says what to do."""

    error: str = Field(description="machine-readable code, e.g. unauthorized, invalid_request")
    message: str
    details: list[dict[str, Any]] | None = None
