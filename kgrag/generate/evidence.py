"""From a retrieval :class:`~kgrag.retrieval.types.EvidenceBundle` to the numbered evidence an LLM sees.

This is the one module that reads the bundle's fields: a rename there is a fix here alone.

Graph facts (``F1``, ``F2``, ...) are the candidates' disease -> finding paths that speak
for them, rendered as one statement each with their curated references; passages
(``P1``, ...) are spans of stored documents, cut at a word boundary to at most
``passage_chars`` characters (the span the model sees is the span it may quote).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kgrag.retrieval.types import DiagnosisCandidate, EvidenceBundle, FindingEvidence, Passage


class EvidenceItem(BaseModel):
    """One numbered piece of evidence.

    ``text`` is what the model sees and may quote: a fact's rendered statement, or
    ``document_text[start:end]`` of a passage (the verifier re-reads that span).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Literal["fact", "passage"]
    text: str
    about: tuple[str, ...] = Field(description="concept ids of the diseases it is about")
    findings: tuple[str, ...] = Field(default=(), description="finding ids on a fact's path")
    document: str | None = None
    start: int = 0
    end: int = 0
    title: str = ""
    references: tuple[str, ...] = ()
    score: float = 0.0


class CandidateRef(BaseModel):
    """A ranked candidate as the prompt names it: concept id, name, rank and log likelihood ratio."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    rank: int
    log_lr: float | None = None


class FindingRef(BaseModel):
    """A patient finding as the prompt names it: concept id and name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str


class EvidencePack(BaseModel):
    """Everything a prompt and the verifier need, detached from the bundle's shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: tuple[CandidateRef, ...]
    items: tuple[EvidenceItem, ...]
    present: tuple[FindingRef, ...]
    absent: tuple[FindingRef, ...]

    def item(self, evidence_id: str) -> EvidenceItem | None:
        """The evidence item numbered ``evidence_id`` (``F1``, ``P2``), or None."""
        return next((i for i in self.items if i.id == evidence_id), None)

    def candidate(self, concept_id: str) -> CandidateRef | None:
        """The candidate with concept id ``concept_id``, or None."""
        return next((c for c in self.candidates if c.id == concept_id), None)


def _absent(query: Any) -> list[Any]:
    """The patient's absent findings (``absent``, formerly ``excluded``)."""
    value = getattr(query, "absent", None)
    return list(value if value is not None else getattr(query, "excluded", []))


def _is_absent(finding: FindingEvidence) -> bool:
    return bool(getattr(finding, "absent", getattr(finding, "excluded", False)))


def _fact_statement(disease: DiagnosisCandidate, f: FindingEvidence) -> str:
    annotated = f.annotated.name if f.annotated is not None else f.finding.name
    freq = f" in {round(f.frequency * 100)}% of patients" if f.frequency is not None else ""
    via = (
        ""
        if f.annotated is None or f.annotated.id == f.finding.id
        else (f" (the patient's {f.finding.name} matches it)")
    )
    return f"{disease.name} shows {annotated}{freq}{via}."


def _references(f: FindingEvidence) -> tuple[str, ...]:
    out = []
    for c in f.citations:
        if c.kind == "passage" and c.document is not None:
            out.append(f"{c.document}[{c.start}:{c.end}]")
        else:
            out.append(f"{c.source}:{c.reference}" if c.reference else c.source)
    return tuple(dict.fromkeys(out))


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def _passage_item(n: int, p: Passage, passage_chars: int) -> EvidenceItem:
    shown = _cut(p.text, passage_chars).rstrip()
    return EvidenceItem(
        id=f"P{n}",
        kind="passage",
        text=shown,
        about=tuple(p.concepts),
        document=p.document,
        start=p.start,
        end=p.start + len(shown),
        title=p.title,
        references=(f"{p.document}[{p.start}:{p.start + len(shown)}]",),
        score=p.score,
    )


def evidence_pack(
    bundle: EvidenceBundle,
    *,
    max_candidates: int = 5,
    facts_per_candidate: int = 4,
    max_passages: int = 6,
    passage_chars: int = 500,
) -> EvidencePack:
    """Number the bundle's evidence for a prompt.

    Args:
        bundle: the retrieval bundle (graph candidates with their paths, passages).
        max_candidates: candidates offered to the model (in retrieval order).
        facts_per_candidate: supporting facts (positive log LR, strongest first) per candidate.
        max_passages: passages, in retrieval order (duplicates of one span dropped).
        passage_chars: the longest passage span shown.

    Returns:
        The numbered evidence (facts first, then passages), the candidates and the
        patient's present and absent findings.
    """
    diseases = bundle.diseases[:max_candidates]
    items: list[EvidenceItem] = []
    for d in diseases:
        facts = [f for f in d.findings if not _is_absent(f) and f.log_lr > 0]
        for f in sorted(facts, key=lambda f: -f.log_lr)[:facts_per_candidate]:
            ids = [f.finding.id] + [r.id for r in (f.matched, f.annotated) if r is not None]
            items.append(
                EvidenceItem(
                    id=f"F{len(items) + 1}",
                    kind="fact",
                    text=_fact_statement(d, f),
                    about=(d.concept_id,),
                    findings=tuple(dict.fromkeys(ids)),
                    references=_references(f),
                    score=f.log_lr,
                )
            )
    seen: set[tuple[str, int]] = set()
    passages: list[Passage] = []
    for p in bundle.passages:
        if (p.document, p.start) not in seen and len(passages) < max_passages:
            seen.add((p.document, p.start))
            passages.append(p)
    items += [_passage_item(n, p, passage_chars) for n, p in enumerate(passages, start=1)]
    return EvidencePack(
        candidates=tuple(
            CandidateRef(id=d.concept_id, name=d.name, rank=d.rank, log_lr=d.log_lr) for d in diseases
        ),
        items=tuple(items),
        present=tuple(FindingRef(id=f.id, name=f.name) for f in bundle.query.present),
        absent=tuple(FindingRef(id=f.id, name=f.name) for f in _absent(bundle.query)),
    )
