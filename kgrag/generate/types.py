"""What the generate stage returns.

A grounded diagnosis whose every citation was checked against the stored evidence. The same pydantic
models in Python, CLI JSON and on the wire.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Likelihood = Literal["high", "medium", "low"]
RejectReason = Literal[
    "unknown_evidence",  # the id is not one of the bundle's evidence ids
    "quote_not_found",  # not in the cited text, not even within the re-anchoring bound
    "quote_too_short",  # fewer than MIN_QUOTE_CHARS characters after normalization
    "source_unavailable",  # the stored document is gone or no longer reads as the bundle did
    "duplicate",  # the same span cited twice for one claim
]
MARKER = re.compile(r"\[(\d+)\]")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_Model):
    """One chat message sent to an :class:`~kgrag.generate.llm.LLM`."""

    role: Literal["system", "user", "assistant"]
    content: str


class Completion(_Model):
    """What an LLM backend returned for one request.

    ``finish_reason``: ``stop`` (the model ended), ``length`` (cut at ``max_tokens``),
    ``timeout`` (cut by kgrag's time limit).
    """

    text: str
    finish_reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    latency_ms: float = 0.0


class VerifiedCitation(_Model):
    """A citation that passed the verifier.

    ``quote`` is the verbatim source text: for a passage ``document_text[start:end]`` of the stored
    document, for a graph fact ``statement[start:end]`` of the fact's rendered statement.
    """

    n: int = Field(description="the [n] marker that cites it")
    evidence: str = Field(description="evidence id in the bundle (F.. fact, P.. passage)")
    kind: Literal["fact", "passage"]
    quote: str
    document: str | None = None
    start: int
    end: int
    references: list[str] = Field(default_factory=list, description="curated references, spans")
    reanchored: bool = Field(False, description="the model's quote was a near miss, moved here")
    edit_distance: int = 0


class RejectedCitation(_Model):
    """A citation the verifier refused, with the diagnosis it was given for and the reason."""

    claim: str = Field(description="the diagnosis the model cited it for")
    evidence: str
    quote: str
    reason: RejectReason


class GroundedClaim(_Model):
    """One diagnosis of the differential, with its verified citations."""

    rank: int
    concept_id: str | None = Field(description="a candidate of the bundle; None for 'other'")
    name: str
    likelihood: Likelihood
    rationale: str = Field(description="the model's reasoning, without citation markers")
    citations: list[int] = Field(default_factory=list, description="numbers of its citations")
    supported: bool
    support: str = Field(description="why it is (not) supported")
    retrieval_rank: int | None = Field(None, description="its rank in the retrieval differential")


class GroundingCounts(_Model):
    """The verifier's counts for one answer: citations returned, verified, dropped, and claims."""

    citations_returned: int = 0
    citations_verified: int = 0
    citations_dropped: int = 0
    citations_reanchored: int = 0
    citations_on_topic: int = Field(default=0, description="verified and about the claimed disease")
    claims_returned: int = 0
    claims_supported: int = 0
    claims_unsupported: int = 0
    claims_removed: int = 0


class GroundedDiagnosis(_Model):
    """The last stage's answer: a differential whose citations were all verified.

    ``verified`` is true when every citation shown verifies against the stored text, every
    ``[n]`` marker resolves, every citation is used and every claim shown is supported.

    Examples:
        >>> import kgrag
        >>> g = kgrag.answer("Fever and a productive cough. No chest pain.", llm="none")
        >>> g.status, g.source, g.verified
        ('answered', 'extractive', True)
        >>> g.counts.citations_dropped
        0
    """

    status: Literal["answered", "insufficient_evidence"]
    source: Literal["llm", "extractive"]
    model: str | None = None
    verified: bool
    normalization: str = Field(description="the quote normalization the verifier applied")
    present: list[str] = Field(default_factory=list, description="the patient's present findings")
    absent: list[str] = Field(default_factory=list, description="the patient's absent findings")
    diagnoses: list[GroundedClaim] = Field(default_factory=list)
    citations: list[VerifiedCitation] = Field(default_factory=list)
    removed: list[GroundedClaim] = Field(default_factory=list, description="unsupported, removed")
    rejected: list[RejectedCitation] = Field(default_factory=list)
    counts: GroundingCounts = Field(default_factory=GroundingCounts)
    model_counts: GroundingCounts | None = Field(
        default=None, description="the model's own answer, when the report fell back to extractive"
    )
    reason: str | None = Field(None, description="why it abstained or fell back")
    attempts: int = Field(default=0, description="LLM requests made (1 + re-asks)")
    errors: list[str] = Field(default_factory=list, description="validation errors per attempt")
    latency_ms: float = 0.0

    @property
    def body(self) -> str:
        """The differential as Markdown, each diagnosis ending in its ``[n]`` markers."""
        if self.status == "insufficient_evidence":
            return f"**Insufficient evidence.** {self.reason or ''}".strip()
        lines = []
        for c in self.diagnoses:
            marks = "".join(f"[{n}]" for n in c.citations)
            flag = "" if c.supported else " _(unsupported)_"
            body = f" {c.rationale}" if c.rationale else ""
            lines.append(f"{c.rank}. **{c.name}** ({c.likelihood}){flag}:{body} {marks}".rstrip())
        return "\n".join(lines)

    @property
    def text(self) -> str:
        """:attr:`body`, then the numbered citations with their verbatim quotes."""
        lines = [self.body, ""]
        for cit in self.citations:
            where = f"{cit.document} [{cit.start}:{cit.end}]" if cit.kind == "passage" else "graph"
            refs = f" ({', '.join(cit.references[:3])})" if cit.references else ""
            lines.append(f'[{cit.n}] {cit.evidence}, {where}{refs}: "{cit.quote}"')
        return "\n".join(lines).strip()

    def _repr_markdown_(self) -> str:
        head = "verified" if self.verified else "NOT fully verified"
        counts = self.counts
        return (
            f"{self.text}\n\n_{self.source}"
            + (f" ({self.model})" if self.model else "")
            + f", {head}: {counts.citations_verified}/{counts.citations_returned} citations, "
            f"{counts.claims_supported}/{counts.claims_returned} claims supported_"
        )
