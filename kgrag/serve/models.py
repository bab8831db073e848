"""REST and MCP request and response bodies that are not library models.

The library models (:class:`~kgrag.types.Mention`, :class:`~kgrag.types.Candidate`,
:class:`~kgrag.types.Concept`, :class:`~kgrag.retrieval.types.DiagnosisReport`,
:class:`~kgrag.retrieval.types.EvidenceBundle`) go on the wire as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kgrag.retrieval.priors import Setting
from kgrag.retrieval.types import EvidenceLevel, FindingInput, Method
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


class CaseRequest(_Request):
    """A case: free text and/or coded findings (at least one of them)."""

    text: str | None = Field(default=None, description="a patient description")
    findings: list[FindingInput] = Field(
        default_factory=list, description="coded findings: {id, absent} ('excluded' is an alias)"
    )
    top_k: int = Field(default=10, ge=1, description="candidates to return")
    setting: Setting | None = Field(
        default=None,
        description="pretest probability: general (common diseases favoured) | rare | uniform "
        "(default: the server's diagnose_setting)",
    )

    @model_validator(mode="after")
    def _something(self) -> CaseRequest:
        if not (self.text and self.text.strip()) and not self.findings:
            raise ValueError("give a 'text' and/or a non-empty 'findings' list")
        return self


class RetrieveRequest(CaseRequest):
    """Body of ``POST /retrieve``: a case, and how many passages to search."""

    passages_k: int | None = Field(default=None, ge=1, le=100, description="passages to search")


class DiagnoseRequest(CaseRequest):
    """Body of ``POST /diagnose``: a case, ranking method, evidence level, whether to ask the LLM."""

    method: Method | None = Field(default=None, description="ranking: graph | ppr | fused")
    evidence: EvidenceLevel = Field(
        default="full", description="none (ranking only) | summary | full (citations, passages)"
    )
    llm: bool = Field(
        default=False, description="the generation stage's grounded answer (needs a configured LLM)"
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
