"""What :func:`kgrag.ground` returns: the caller's differential, each hypothesis with its evidence.

Vocabulary as in :mod:`kgrag.retrieval.types`: on the patient's side a finding is ``present``
or ``absent``; ``support`` is evidence for a hypothesis, ``against`` evidence against it,
``unexplained`` the patient's present findings it does not account for, ``to_ask`` the
findings not mentioned that would most change its odds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kgrag._render import TreeItem
from kgrag.retrieval.types import Citation, ConceptRef, Passage, QueryFindings, citation_line
from kgrag.types import BoundaryModel

ResolutionStatus = Literal["resolved", "ambiguous", "unresolved"]
CoverageLevel = Literal["facts", "passages", "nothing"]


class Resolution(BoundaryModel):
    """How a hypothesis as written was read as a concept.

    ``resolved``: one concept. ``ambiguous``: a concept was chosen but others match as well
    (listed in ``alternatives``). ``unresolved``: no disease concept matches well enough;
    ``alternatives`` holds the nearest concepts, and the hypothesis is still returned.
    """

    status: ResolutionStatus
    method: str = Field(description="code | exact | abbreviation | fuzzy | dense | ... | none")
    score: float = Field(ge=0.0, le=1.0, description="the linker's calibrated score (1 for a code)")
    alternatives: list[ConceptRef] = Field(default_factory=list)


class Coverage(BoundaryModel):
    """How much the knowledge base knows about a hypothesis.

    Tells "no evidence" (``nothing``: no facts, no passages) from "evidence against".
    """

    level: CoverageLevel
    facts: int = Field(description="disease -> finding facts of the concept in the model")
    sources: list[str] = Field(default_factory=list, description="where the facts come from")
    passages: int = Field(description="corpus chunks about the concept")


class GroundedFinding(BoundaryModel):
    """One piece of evidence for or against a hypothesis: a patient finding and its citations.

    ``basis`` says where the evidence comes from: ``fact`` (a disease -> finding fact of the
    graph: ``frequency`` and ``log_lr`` from the diagnostic model, citations from the fact's
    claims), ``passage`` (a corpus passage about the disease mentions the finding: the
    citation is the exact, verified span of that mention) or ``not_shown`` (a source says
    the disease does not show the finding).
    """

    finding: ConceptRef
    absent: bool = Field(description="the patient does not have the finding (else present)")
    basis: Literal["fact", "passage", "not_shown"]
    matched: ConceptRef | None = Field(
        default=None, description="the term the disease shows (is_a match)"
    )
    frequency: float | None = Field(
        default=None, description="how often the disease shows it, in [0, 1]"
    )
    log_lr: float | None = Field(default=None, description="log likelihood ratio from the model (nats)")
    citations: list[Citation] = Field(default_factory=list)


class ToAsk(BoundaryModel):
    """A finding the case does not mention that would change a hypothesis's odds the most."""

    finding: ConceptRef
    frequency: float | None = Field(default=None, description="how often the disease shows it")
    log_lr_if_present: float | None = Field(default=None, description="nats, if the patient has it")
    log_lr_if_absent: float | None = Field(default=None, description="nats, if the patient does not")
    basis: Literal["fact", "passage"] = "fact"


class GroundedHypothesis(BoundaryModel):
    """One hypothesis of the caller's differential with the evidence for and against it.

    ``score`` is the grounding score (the documented weighted sum of the evidence features
    in ``features``, see :mod:`kgrag.retrieval.grounding`), ``probability`` its softmax among
    the hypotheses of the request (calibrated on the development sets), ``rank`` its place.
    ``log_lr`` and ``log_prior`` are the diagnostic model's, beside it.
    """

    hypothesis: str = Field(description="as the caller wrote it")
    concept: ConceptRef | None = None
    codes: list[str] = Field(default_factory=list)
    resolution: Resolution
    rank: int
    score: float | None = Field(description="the grounding score; None for an unresolved hypothesis")
    probability: float = Field(ge=0.0, le=1.0)
    log_lr: float | None = None
    log_prior: float | None = None
    prior_class: str | None = None
    coverage: Coverage
    support: list[GroundedFinding] = Field(default_factory=list)
    against: list[GroundedFinding] = Field(default_factory=list)
    unexplained: list[ConceptRef] = Field(default_factory=list)
    to_ask: list[ToAsk] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    features: dict[str, float] = Field(default_factory=dict)


class ConsiderAlso(BoundaryModel):
    """One of kgrag's own candidates that is not among the hypotheses (a second opinion).

    ``margin``: its ranking score minus the best-ranked hypothesis's (nats, log likelihood
    ratio plus log prior); positive means the model ranks it above every hypothesis.
    """

    rank: int = Field(description="its rank in kgrag's own differential")
    concept_id: str
    name: str
    codes: list[str] = Field(default_factory=list)
    probability: float
    margin: float


class GroundedDifferential(BoundaryModel):
    """What :func:`kgrag.ground` returns: each hypothesis grounded, best-grounded first.

    Examples:
        >>> import kgrag
        >>> g = kgrag.ground(text="Fever and a productive cough.", hypotheses=["pneumonia"])
        >>> g.hypotheses[0].concept.name
        'pneumonia'
    """

    setting: str
    query: QueryFindings
    hypotheses: list[GroundedHypothesis]
    consider_also: list[ConsiderAlso] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def _tree(self) -> list[TreeItem]:
        out: list[TreeItem] = []
        for h in self.hypotheses:
            name = h.concept.name if h.concept else "unresolved"
            kids: list[TreeItem] = [
                (f"for: {f.finding.name} ({f.basis})", [(citation_line(c), []) for c in f.citations[:2]])
                for f in h.support
            ]
            kids += [
                (
                    f"against: {'absent ' if f.absent else ''}{f.finding.name} ({f.basis})",
                    [(citation_line(c), []) for c in f.citations[:2]],
                )
                for f in h.against
            ]
            kids += [(f"unexplained: {u.name}", []) for u in h.unexplained]
            kids += [(f"ask: {a.finding.name}", []) for a in h.to_ask[:3]]
            label = (
                f"{h.rank}. {h.hypothesis} -> {name} "
                f"(score {'-' if h.score is None else f'{h.score:+.2f}'}, coverage {h.coverage.level})"
            )
            out.append((label, kids))
        if self.consider_also:
            out.append(
                (
                    "consider also",
                    [
                        (f"{c.name} ({c.concept_id}), margin {c.margin:+.2f}", [])
                        for c in self.consider_also
                    ],
                )
            )
        return out

    def _repr_html_(self) -> str:
        from kgrag._render import html_tree

        return "<p><b>Grounded differential</b></p>" + html_tree(self._tree())

    def _repr_markdown_(self) -> str:
        from kgrag._render import markdown_tree

        return "**Grounded differential**\n\n" + markdown_tree(self._tree())
