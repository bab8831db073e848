"""Reading a request's findings.

Coded findings and linked text become the model's present and absent finding terms, with everything
left out listed with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kgrag.errors import InvalidRequest, NoUsableFindings
from kgrag.retrieval.model import DiagnosticModel
from kgrag.retrieval.types import ConceptRef, FindingInput, QueryFindings
from kgrag.types import Assertion, Mention

MAX_FINDINGS = 2000
MAX_TEXT_CHARS = 200_000

FindingsArg = Sequence[FindingInput | dict[str, Any] | str] | None


@dataclass(frozen=True)
class ParsedFindings:
    """A request's findings as model term indices (each once, in input order)."""

    present: list[int]
    absent: list[int]
    query: QueryFindings


def term_ref(model: DiagnosticModel, term: int) -> ConceptRef:
    """A finding term of the model as a :class:`ConceptRef`."""
    return ConceptRef(id=model.terms[term], name=model.term_names[term], tier="finding")


def as_inputs(findings: FindingsArg) -> list[FindingInput]:
    """Validate coded findings.

    A code string, a ``FindingInput`` or its dict form (``{"id": ..., "absent": true}``;
    ``"excluded"`` is accepted for ``"absent"``).

    Raises:
        InvalidRequest: more than ``MAX_FINDINGS`` findings.
        pydantic.ValidationError: a malformed finding.
    """
    items = [
        f
        if isinstance(f, FindingInput)
        else FindingInput(id=f)
        if isinstance(f, str)
        else FindingInput.model_validate(f)
        for f in findings or ()
    ]
    if len(items) > MAX_FINDINGS:
        raise InvalidRequest(f"{len(items)} findings; at most {MAX_FINDINGS} per request")
    return items


def read_findings(
    model: DiagnosticModel,
    text: str | None,
    findings: FindingsArg,
    *,
    resolve: Callable[[str], str | None],
    link: Callable[[str], list[Mention]],
) -> ParsedFindings:
    """The present and absent finding terms of a request.

    Args:
        model: the diagnostic model (its finding terms are what can be scored).
        text: free text, linked and assertion-tagged (present counts for, absent against;
            family, historical, hypothetical and possible mentions are ignored).
        findings: coded findings (see :func:`as_inputs`).
        resolve: any code -> unified concept id (``ConceptTable.resolve``), called only
            for codes that are not model terms already.
        link: text -> mentions (``ConceptLinker.link``), called only when there is text.

    Returns:
        The findings; a finding reported both present and absent is dropped from both.

    Raises:
        NoUsableFindings: no present finding is left.
        InvalidRequest: too many findings or too long a text.
    """
    present: dict[int, None] = {}
    absent: dict[int, None] = {}
    ignored: list[str] = []
    for f in as_inputs(findings):
        concept = f.id if f.id in model.term_index else resolve(f.id)
        if concept is None:
            ignored.append(f"{f.id}: unknown code")
        elif concept not in model.term_index:
            ignored.append(f"{f.id}: no disease in the knowledge base is annotated with it")
        else:
            (absent if f.absent else present)[model.term_index[concept]] = None
    if text:
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidRequest(
                f"text of {len(text):,} characters; diagnose at most {MAX_TEXT_CHARS:,} at once"
            )
        _read_mentions(model, link(text), present, absent, ignored)
    for t in set(present) & set(absent):  # said both ways: trust neither
        del present[t], absent[t]
        ignored.append(f"{model.terms[t]}: reported both present and absent")
    query = QueryFindings(
        present=[term_ref(model, t) for t in present],
        absent=[term_ref(model, t) for t in absent],
        ignored=ignored,
    )
    if not present:
        if absent:
            what = "only absent findings in the input"
            named = [model.term_names[t] for t in list(absent)[:5]]
            detail = "; ".join([*(f"absent: {n}" for n in named), *ignored[:5]])
        else:
            what, detail = "no finding kgrag knows in the input", "; ".join(ignored[:5])
        raise NoUsableFindings(
            f"{what} ({detail or 'nothing recognised'}); "
            "give at least one present finding (text or HPO/MeSH codes)"
        )
    return ParsedFindings(list(present), list(absent), query)


def _read_mentions(
    model: DiagnosticModel,
    mentions: list[Mention],
    present: dict[int, None],
    absent: dict[int, None],
    ignored: list[str],
) -> None:
    """Sort linked mentions into ``present``/``absent`` or ``ignored`` with the reason.

    A mention counts by the first of its top three candidates that is a model term.
    """
    for m in mentions:
        term = next(
            (
                model.term_index[c.concept_id]
                for c in m.candidates[:3]
                if c.concept_id in model.term_index
            ),
            None,
        )
        where = f"{m.text!r} [{m.start}:{m.end}]"
        if term is None:
            ignored.append(f"{where}: not a finding of any disease in the knowledge base")
        elif m.assertion is Assertion.PRESENT:
            present[term] = None
        elif m.assertion is Assertion.ABSENT:
            absent[term] = None
        else:
            ignored.append(f"{where}: {m.assertion.value}, not a current finding")
