"""What retrieval and diagnosis return: pydantic models, the same in Python, CLI JSON and
on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["graph", "ppr", "fused"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FindingInput(_Model):
    """A coded finding: any code or unified id kgrag knows (``HP:0001250``, ``MESH:D012640``)."""

    id: str = Field(min_length=1)
    excluded: bool = False


class ConceptRef(_Model):
    id: str
    name: str
    tier: str | None = None


class Citation(_Model):
    """Where a piece of evidence comes from.

    ``annotation``: a curated record (``source`` = the graph source, ``reference`` = the
    record's citation, e.g. ``PMID:123`` or ``OMIM:154700``). ``passage``: a span of a
    document: ``text[start:end]`` of document ``document`` equals ``quote``, which
    :meth:`~kgrag.retrieval.diagnose.Diagnoser.verify` checked against the stored text
    before the citation was returned (``verified``)."""

    kind: Literal["annotation", "passage"]
    source: str
    reference: str | None = None
    document: str | None = None
    chunk: str | None = None
    start: int | None = None
    end: int | None = None
    quote: str | None = None
    verified: bool = False


class FindingEvidence(_Model):
    """How one of the patient's findings bears on a candidate (a graph path with citations).

    The path reads ``finding -IS_A*-> matched <-IS_A*- annotated <-HAS_FINDING- disease``."""

    finding: ConceptRef
    excluded: bool
    matched: ConceptRef | None = Field(None, description="the term the disease shows")
    annotated: ConceptRef | None = Field(None, description="the disease's annotated term")
    frequency: float | None = None
    log_lr: float = Field(description="log likelihood ratio this finding adds to the disease")
    path: list[str] = Field(default_factory=list, description="concept ids along the graph path")
    citations: list[Citation] = Field(default_factory=list)


class Passage(_Model):
    chunk: str
    document: str
    title: str
    section: str | None = None
    start: int
    end: int
    text: str
    score: float
    concepts: list[str] = Field(default_factory=list, description="diseases the passage is about")
    citation: Citation


class CategoryScore(_Model):
    id: str
    name: str
    tier: str
    probability: float


class DiagnosisCandidate(_Model):
    rank: int
    concept_id: str
    name: str
    codes: list[str]
    score: float = Field(description="the ranking score of the chosen method")
    probability: float = Field(description="posterior over the ranked diseases (graph model)")
    log_lr: float | None = None
    log_prior: float | None = Field(
        default=None, description="log pretest probability of the disease's class (priors.py)"
    )
    prior_class: str | None = Field(default=None, description="common | mixed | unclassified | rare")
    category_path: list[ConceptRef] = Field(
        default_factory=list, description="from the disease up to its category"
    )
    ranks: dict[str, int] = Field(default_factory=dict, description="rank in each fused list")
    findings: list[FindingEvidence] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)


class FollowUp(_Model):
    """A finding that separates the top candidates: ask the patient about it."""

    finding: ConceptRef
    question: str
    supports: list[str] = Field(description="candidates that usually show it")
    against: list[str] = Field(description="candidates that rarely or never show it")
    gain: float


class QueryFindings(_Model):
    present: list[ConceptRef] = Field(default_factory=list)
    excluded: list[ConceptRef] = Field(default_factory=list)
    ignored: list[str] = Field(default_factory=list, description="inputs not used, each with the reason")


class DiagnosisReport(_Model):
    method: Method
    setting: str = Field(default="uniform", description="pretest probability: general | rare | uniform")
    query: QueryFindings
    candidates: list[DiagnosisCandidate]
    categories: list[CategoryScore] = Field(default_factory=list)
    follow_ups: list[FollowUp] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


class EvidenceBundle(_Model):
    """``kgrag retrieve``: the evidence alone, for an LLM to reason over."""

    query: QueryFindings
    diseases: list[DiagnosisCandidate] = Field(description="graph candidates with their paths")
    passages: list[Passage]
    warnings: list[str] = Field(default_factory=list)
