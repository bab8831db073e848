"""Disease -> finding facts from the Disease Ontology's textual definitions.

Disease Ontology (CC0) defines most of its ~12,000 diseases in one sentence whose relation
words say what the disease shows: "A venous insufficiency that is characterized by lower
extremity swelling, hyperpigmentation, pruritus and venous ulceration", "... has_symptom
fever, has_symptom rash". Many everyday diseases that no phenotype annotation covers are
defined this way (about 5,500 definitions hold such a clause). :func:`symptom_clauses`
cuts a definition into clauses at its relation words and keeps those that state
manifestations; :func:`definition_findings` keeps the finding mentions (the linker's, in
definition offsets) that lie in them and are asserted present. The fact cites the
definition by its DOID; the finding's span in the definition is kept on the claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kgrag.types import Assertion, Mention, SemanticKind

MIN_SCORE = 0.3  # a finding mention less likely right than this is not used

# relation words of DO definitions (logical-definition style and plain English); the
# symptom ones open a clause of manifestations, the others (site, cause, basis) close it
_SYMPTOM_RELATIONS = (
    r"has_symptom|characteri[sz]ed\s+by|resulting\s+in|results_in|results\s+in"
    r"|presents?\s+with|presenting\s+with|manifest(?:s|ed|ing)?\s+(?:as|by|with)"
    r"|causing|which\s+causes?|symptoms?\s+(?:include|of\s+which\s+include)"
)
_OTHER_RELATIONS = (
    r"located_in|located\s+in|has_material_basis_in|has_material_basis|derives_from"
    r"|transmitted_by|caused\s+by|due\s+to|occurs_in|occurs\s+in|has_infectious_agent"
    r"|in\s+which|that\s+is\s+a|is_a|affecting|involving|which\s+is|that\s+has_material"
)
_RELATION = re.compile(rf"\b(?P<symptom>{_SYMPTOM_RELATIONS})\b|\b(?P<other>{_OTHER_RELATIONS})\b", re.I)


def symptom_clauses(definition: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` character ranges of ``definition`` that state manifestations.

    A clause runs from a symptom relation ("characterized by", "has_symptom", "resulting
    in", "presents with", "causing") to the next relation word of any kind or the end.
    """
    out: list[tuple[int, int]] = []
    opened: int | None = None
    for m in _RELATION.finditer(definition):
        if opened is not None:
            out.append((opened, m.start()))
            opened = None
        if m.group("symptom"):
            opened = m.end()
    if opened is not None:
        out.append((opened, len(definition)))
    return [(s, e) for s, e in out if definition[s:e].strip()]


def definition_findings(
    disease: str, definition: str, mentions: Sequence[Mention]
) -> list[Mention]:
    """The finding mentions that a definition states as manifestations of its disease.

    Args:
        disease: the defined disease's concept id (a mention of itself is not a finding of it).
        definition: the definition text.
        mentions: the linker's mentions of ``definition``.

    Returns:
        Present finding mentions inside :func:`symptom_clauses`, one per concept, in text order.
    """
    clauses = symptom_clauses(definition)
    seen: set[str] = set()
    out: list[Mention] = []
    for m in sorted(mentions, key=lambda m: m.start):
        b = m.best
        if (
            b is None
            or b.kind is not SemanticKind.FINDING
            or b.score < MIN_SCORE
            or m.assertion is not Assertion.PRESENT
            or b.concept_id in (disease, *seen)
            or not any(s <= m.start and m.end <= e for s, e in clauses)
        ):
            continue
        seen.add(b.concept_id)
        out.append(m)
    return out
