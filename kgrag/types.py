"""Pydantic models that cross stage, process and wire boundaries.

Inside a stage kgrag uses plain tuples, dataclasses and arrays; these models are what a
caller, the CLI's ``--json`` output and the sidecar see.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class BoundaryModel(BaseModel):
    """The one base of every model that crosses a boundary (caller, CLI JSON, wire).

    Frozen and strict about unknown fields.

    Subclasses render in notebooks: this default ``_repr_markdown_`` lists the fields;
    the reports (``DiagnosisReport``, ``EvidenceBundle``, ``BuildReport``) draw tables.

    Examples:
        >>> class Point(BoundaryModel):
        ...     x: int
        >>> Point(x=1).x
        1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def _repr_markdown_(self) -> str:  # notebooks render this
        lines = [f"**{type(self).__name__}**", ""]
        for key, value in self.model_dump(exclude_none=True).items():
            text = str(value)
            lines.append(f"- **{key}**: {text if len(text) < 200 else text[:197] + '...'}")
        return "\n".join(lines)


_Model = BoundaryModel


class SemanticKind(StrEnum):
    """What a concept is, coarse enough to filter on.

    Examples:
        >>> SemanticKind("finding") is SemanticKind.FINDING
        True
    """

    CATEGORY = "category"  # a grouping class (ICD-10-CM chapter/block, ontology roots)
    DISEASE = "disease"
    FINDING = "finding"  # sign, symptom, phenotype, lab finding
    RISK_FACTOR = "risk_factor"  # antecedent / exposure / history item
    MODIFIER = "modifier"  # onset, frequency, inheritance, severity qualifiers
    OTHER = "other"


class SynonymScope(StrEnum):
    """How a synonym relates to its concept (OBO scopes; ``preferred`` for the concept's name)."""

    PREFERRED = "preferred"
    EXACT = "exact"
    RELATED = "related"
    BROAD = "broad"
    NARROW = "narrow"


class Synonym(_Model):
    """A name of a concept, with its scope, type and the vocabulary that gives it."""

    text: str
    scope: SynonymScope = SynonymScope.EXACT
    type: str | None = Field(
        default=None, description="e.g. abbreviation, layperson, entry_term, inclusion_term"
    )
    source: str = Field(description="the vocabulary that gives this synonym, e.g. HP")


class SourceInfo(_Model):
    """Where a vocabulary came from: recorded on every compiled table and artifact."""

    name: str
    version: str
    license: str
    files: tuple[str, ...] = ()
    sha256: tuple[str, ...] = ()
    attribution: str | None = None


class Concept(_Model):
    """A unified, UMLS-style concept.

    ``id`` is stable: the UMLS CUI (``UMLS:C0011860``) where a source gives exactly one,
    otherwise the highest-priority member code (MONDO > DOID > HP > MESH > ...).
    ``codes`` holds every source id that was unified into this concept; ``xrefs`` holds
    related codes that a source lists but that do not declare equality.

    Examples:
        >>> c = Concept(id="HP:0001945", name="Fever", kind=SemanticKind.FINDING, codes=("HP:0001945",))
        >>> c.kind.value
        'finding'
    """

    id: str
    name: str
    kind: SemanticKind
    definition: str | None = None
    synonyms: tuple[Synonym, ...] = ()
    codes: tuple[str, ...] = ()
    xrefs: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


class ConceptMatch(_Model):
    """A concept found by a name search (:meth:`ConceptTable.search`), with how it matched.

    ``score`` is in [0, 1].

    Examples:
        >>> ConceptMatch(concept_id="HP:0001945", name="Fever", kind="finding", codes=(),
        ...              matched="fever", match="exact", score=1.0).match
        'exact'
    """

    concept_id: str
    name: str
    kind: SemanticKind
    codes: tuple[str, ...]
    matched: str = Field(description="the synonym or name that matched")
    match: str = Field(description="exact | fuzzy | code")
    score: float = Field(ge=0.0, le=1.0)


class MergeConflict(_Model):
    """Two sources declared a code equal to two different unified concepts.

    kgrag keeps them apart and reports the refused merge here.
    """

    left: str
    right: str
    evidence: str = Field(description="the source whose equivalence was refused")
    reason: str


class VocabularyCount(_Model):
    """What one vocabulary contributes to a concept table."""

    source: str
    concepts: int
    synonyms: int
    is_a_edges: int
    xrefs: int


class ConceptTableStats(_Model):
    """Size of a concept table: concepts, synonyms, codes, IS_A edges, conflicts, per vocabulary."""

    concepts: int
    synonyms: int
    codes: int
    is_a_edges: int
    conflicts: int
    per_source: tuple[VocabularyCount, ...]
    warnings: dict[str, int] = Field(default_factory=dict)


class Assertion(StrEnum):
    """How a mention is asserted in its context (ConText categories).

    Examples:
        >>> Assertion("absent") is Assertion.ABSENT
        True
    """

    PRESENT = "present"
    ABSENT = "absent"  # negated: "no fever", "denies chest pain"
    POSSIBLE = "possible"  # "possible pneumonia", "cannot rule out PE"
    HYPOTHETICAL = "hypothetical"  # "return if fever develops"
    HISTORICAL = "historical"  # "history of MI"
    FAMILY = "family"  # experienced by someone else: "mother had breast cancer"


class Candidate(_Model):
    """A concept proposed for a mention, with a calibrated score in [0, 1].

    The score is the estimated probability that it is the right concept.

    Examples:
        >>> Candidate(concept_id="HP:0001945", name="Fever", kind="finding", codes=(),
        ...           score=0.9, method="exact").score
        0.9
    """

    concept_id: str
    name: str
    kind: SemanticKind
    codes: tuple[str, ...]
    score: float = Field(ge=0.0, le=1.0)
    method: str = Field(description="exact | abbreviation | fuzzy | dense | training | scispacy")
    matched: str | None = Field(default=None, description="the dictionary entry that matched")


class Mention(_Model):
    """A span of the input text linked to concepts.

    ``text == source[start:end]`` (character offsets); ``candidates`` best first, ``best`` the first
    or ``None``.

    Examples:
        >>> m = Mention(start=3, end=8, text="fever", assertion="absent")
        >>> m.assertion.value, m.best
        ('absent', None)
    """

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    assertion: Assertion = Assertion.PRESENT
    candidates: tuple[Candidate, ...] = ()
    section: str | None = Field(
        default=None, description="the note section it is in, e.g. past_medical_history"
    )
    value: float | None = Field(default=None, description="a lab value read with it (Na 122)")
    unit: str | None = Field(default=None, description="the unit of ``value`` as written")

    @property
    def best(self) -> Candidate | None:
        """The first (best) candidate, or None when there is none."""
        return self.candidates[0] if self.candidates else None


class Mentions(list[Mention]):
    """What :func:`kgrag.link` returns.

    A plain ``list`` of :class:`Mention` that renders as a table in a notebook (span, text,
    assertion, best concept, score).

    Examples:
        >>> Mentions([Mention(start=0, end=5, text="fever")])[0].text
        'fever'
    """

    _HEADER = ("span", "text", "assertion", "concept", "id", "score")

    def _rows(self) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for m in self:
            b = m.best
            rows.append(
                (
                    f"{m.start}-{m.end}",
                    m.text,
                    m.assertion.value,
                    b.name if b else "",
                    b.concept_id if b else "",
                    f"{b.score:.2f}" if b else "",
                )
            )
        return rows

    def _repr_html_(self) -> str:
        from kgrag._render import html_table

        return html_table(f"{len(self)} mentions", self._HEADER, self._rows())

    def _repr_markdown_(self) -> str:
        from kgrag._render import markdown_table

        return markdown_table(f"{len(self)} mentions", self._HEADER, self._rows())
