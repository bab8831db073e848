"""What retrieval and diagnosis return: pydantic models, the same in Python, CLI JSON and on the wire.

Vocabulary: on the patient's side a finding is ``present`` or ``absent`` (``excluded`` is
accepted as an input alias of ``absent``); on the disease's side a source can annotate a
disease as *not showing* a finding (``not_shown``), which argues against the disease
when the patient has it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from kgrag._render import TreeItem
from kgrag.types import BoundaryModel

Method = str
"""A ranker's name: a key of :data:`kgrag.retrieval.rankers.RANKERS` (``graph``, ``ppr``,
``fused``, ``semantic``, ``ensemble``)."""

EvidenceLevel = Literal["none", "summary", "full"]
"""How much evidence a report carries. ``none``: the ranking alone (rank, ids, names,
codes, scores; no passage search unless the ranker needs passages). ``summary``: plus
what the compiled model knows: each candidate's category path and finding-by-finding
log likelihood ratios with their graph paths and frequencies, the roll-up to groups and
categories, follow-up questions. ``full``: plus citations for every finding (read from
the store, passage spans verified) and the passages from vector search."""

_Model = BoundaryModel  # the one frozen base (kgrag.types)


class FindingInput(_Model):
    """A coded finding.

    Any code or unified id kgrag knows (``HP:0001250``, ``MESH:D012640``); ``absent``: the patient
    does not have it (``excluded`` is accepted as an input alias).

    Examples:
        >>> FindingInput(id="HP:0001945", excluded=True).absent
        True
    """

    id: str = Field(min_length=1)
    absent: bool = Field(
        default=False,
        validation_alias=AliasChoices("absent", "excluded"),
        description="the patient does not have it (input alias: 'excluded')",
    )


class ConceptRef(_Model):
    """A concept named in a result: its id, its name and (for hierarchy concepts) its tier."""

    id: str
    name: str
    tier: str | None = None


class Citation(_Model):
    """Where a piece of evidence comes from.

    ``annotation``: a curated record (``source`` = the graph source, ``reference`` = the
    record's citation, e.g. ``PMID:123`` or ``OMIM:154700``). ``passage``: a span of a
    document: ``text[start:end]`` of document ``document`` equals ``quote``, which
    :meth:`~kgrag.retrieval.diagnose.Diagnoser.verify` checked against the stored text
    before the citation was returned (``verified``).
    """

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

    The path reads ``finding -IS_A*-> matched <-IS_A*- annotated <-HAS_FINDING- disease``.
    """

    finding: ConceptRef
    absent: bool = Field(description="the patient's finding is absent (else present)")
    not_shown: bool = Field(
        default=False,
        description="the disease is annotated as not showing the finding (a source's NOT or "
        "0/n frequency), so the patient having it argues against the disease",
    )
    matched: ConceptRef | None = Field(None, description="the term the disease shows")
    annotated: ConceptRef | None = Field(None, description="the disease's annotated term")
    frequency: float | None = None
    log_lr: float = Field(description="log likelihood ratio this finding adds to the disease")
    path: list[str] = Field(default_factory=list, description="concept ids along the graph path")
    citations: list[Citation] = Field(default_factory=list)

    @property
    def bearing(self) -> Literal["for", "against", "neutral"]:
        """``for`` the disease (``log_lr`` > 0), ``against`` it (< 0) or ``neutral`` (0).

        Separate from the patient's side: an absent finding can speak for a disease (one that
        rarely shows it) and a present one against it.

        Examples:
            >>> ref = ConceptRef(id="HP:0001945", name="Fever")
            >>> FindingEvidence(finding=ref, absent=True, log_lr=0.4).bearing
            'for'
        """
        return "for" if self.log_lr > 0 else "against" if self.log_lr < 0 else "neutral"


EVIDENCE_LEGEND = (
    "for / against: raises / lowers the disease's odds (log LR > 0 / < 0); "
    "absent: the patient does not have the finding"
)
"""How the evidence trees (CLI text, notebook HTML and Markdown) mark a finding."""


class Passage(_Model):
    """A corpus chunk found by passage search: ``text`` is ``[start:end]`` of its document."""

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
    """A group or category above the candidates, with the summed posterior of the diseases under it."""

    id: str
    name: str
    tier: str
    probability: float


class DiagnosisCandidate(_Model):
    """One ranked disease: its scores, prior, place in the hierarchy and the evidence for it."""

    rank: int
    concept_id: str
    name: str
    codes: list[str]
    score: float = Field(
        description="the ranking score of the chosen method: graph, the summed log likelihood "
        "ratio (nats); ppr, the walk's probability mass; fused, the fusion score; semantic, the "
        "Resnik similarity; ensemble, its calibrated probability"
    )
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
    """The request's findings as the model read them: present, absent, and the inputs not used."""

    present: list[ConceptRef] = Field(default_factory=list)
    absent: list[ConceptRef] = Field(default_factory=list)
    ignored: list[str] = Field(default_factory=list, description="inputs not used, each with the reason")


class DiagnosisReport(_Model):
    """What :func:`kgrag.diagnose` returns.

    Ranked candidates (``score`` is the chosen method's ranking score; ``probability`` the graph
    model's posterior over the ranked diseases, in [0, 1]), each with its category path, finding
    evidence with citations and passages; category scores; follow-up questions; ``timings_ms`` in
    milliseconds. Renders as a table with an evidence tree in a notebook.

    Examples:
        >>> import kgrag
        >>> report = kgrag.diagnose(findings=["HP:0001250", "HP:0001252"])
        >>> [c.rank for c in report.candidates[:3]]
        [1, 2, 3]
    """

    method: Method
    setting: str = Field(default="uniform", description="pretest probability: general | rare | uniform")
    query: QueryFindings
    candidates: list[DiagnosisCandidate]
    categories: list[CategoryScore] = Field(default_factory=list)
    follow_ups: list[FollowUp] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    # --- rendering in a notebook (_repr_html_) ---
    def _table(self) -> tuple[str, tuple[str, ...], list[tuple[object, ...]]]:
        rows: list[tuple[object, ...]] = [
            (
                c.rank,
                c.name,
                c.concept_id,
                f"{c.probability:.3f}",
                " > ".join(r.name for r in reversed(c.category_path)),
            )
            for c in self.candidates
        ]
        title = f"Differential diagnosis ({self.method}): {len(self.query.present)} present, "
        title += f"{len(self.query.absent)} absent findings"
        return title, ("rank", "disease", "id", "probability", "category path"), rows

    def _repr_html_(self) -> str:
        import html

        from kgrag._render import html_table, html_tree

        title, header, rows = self._table()
        out = html_table(title, header, rows)
        if self.candidates:
            out += f"<p><b>Evidence</b> <small>({html.escape(EVIDENCE_LEGEND)})</small></p>"
            out += html_tree(_evidence_tree(self.candidates[:3]))
        if self.follow_ups:
            out += "<p><b>Ask next</b></p>" + html_tree([(f.question, []) for f in self.follow_ups[:5]])
        return out

    def _repr_markdown_(self) -> str:
        from kgrag._render import markdown_table, markdown_tree

        title, header, rows = self._table()
        out = markdown_table(title, header, rows)
        if self.candidates:
            out += f"\n\n**Evidence** ({EVIDENCE_LEGEND})\n\n"
            out += markdown_tree(_evidence_tree(self.candidates[:3]))
        if self.follow_ups:
            out += "\n\n**Ask next**\n\n" + markdown_tree(
                [(f.question, []) for f in self.follow_ups[:5]]
            )
        return out


class EvidenceBundle(_Model):
    """What :func:`kgrag.retrieve` (``kgrag retrieve``) returns.

    The evidence alone, for an LLM to reason over: graph candidates with their paths, and cited
    passages.

    Examples:
        >>> import kgrag
        >>> bundle = kgrag.retrieve(findings=["HP:0001250"])
        >>> all(p.citation.kind == "passage" for p in bundle.passages)
        True
    """

    query: QueryFindings
    diseases: list[DiagnosisCandidate] = Field(description="graph candidates with their paths")
    passages: list[Passage]
    warnings: list[str] = Field(default_factory=list)

    # --- rendering in a notebook (_repr_html_) ---
    def _tree(self) -> list[TreeItem]:
        passages: list[TreeItem] = [
            (f"{p.title}: {p.text[:160]}", [(citation_line(p.citation), [])]) for p in self.passages[:5]
        ]
        return [
            (f"Diseases ({len(self.diseases)}; {EVIDENCE_LEGEND})", _evidence_tree(self.diseases[:5])),
            (f"Passages ({len(self.passages)})", passages),
        ]

    def _repr_html_(self) -> str:
        from kgrag._render import html_tree

        return "<p><b>EvidenceBundle</b></p>" + html_tree(self._tree())

    def _repr_markdown_(self) -> str:
        from kgrag._render import markdown_tree

        return "**EvidenceBundle**\n\n" + markdown_tree(self._tree())


def citation_line(c: Citation) -> str:
    """One line for a citation: the reference, or the document span and its quote."""
    if c.kind == "annotation":
        return f"{c.source}: {c.reference or 'curated'}"
    mark = "verified" if c.verified else "unverified"
    quote = (c.quote or "")[:120]
    return f"{c.document} [{c.start}:{c.end}] ({mark}) \u201c{quote}\u201d"


def _evidence_tree(candidates: list[DiagnosisCandidate]) -> list[TreeItem]:
    """Candidate > finding (with its log-LR) > citations, as ``(label, children)`` pairs."""
    out: list[TreeItem] = []
    for c in candidates:
        findings: list[TreeItem] = [
            (
                f"{f.bearing}: {'absent ' if f.absent else ''}{f.finding.name}"
                + (f" via {f.matched.name}" if f.matched and f.matched.id != f.finding.id else "")
                + f" (log LR {f.log_lr:+.2f})",
                [(citation_line(x), []) for x in f.citations[:3]],
            )
            for f in c.findings
        ]
        findings += [(f"passage: {p.title}", [(citation_line(p.citation), [])]) for p in c.passages[:2]]
        out.append((f"{c.rank}. {c.name} ({c.concept_id}), p={c.probability:.3f}", findings))
    return out
