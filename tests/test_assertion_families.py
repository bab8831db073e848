"""Assertion by families: each generated family of sentence kinds holds >= 0.95.

The sentences come from templates x findings x list positions (tests/_assertion_families.py):
a continuation that has ended, a negated act whose reason is the finding, a recurrence, a
past-history list, an instruction list, a mention dated before the encounter, and a control
family beside each that must keep its own reading. Pure text: no concept table needed.
"""

from __future__ import annotations

import pytest

from kgrag.linking.assertion import assign_assertions
from tests._assertion_families import FAMILIES, family_cases, heldout2_cases, heldout_cases, span_of

FLOOR = 0.95


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_holds(family: str) -> None:
    cases = family_cases(family)
    assert len(cases) >= 24, f"{family}: only {len(cases)} generated cases"
    wrong = []
    for case in cases:
        got = assign_assertions(case.text, [span_of(case)])[0].value
        if got != case.expected:
            wrong.append(f"{case.text!r} [{case.target}] -> {got}, expected {case.expected}")
    score = 1 - len(wrong) / len(cases)
    assert score >= FLOOR, f"{family}: {score:.3f} of {len(cases)}; first wrong:\n" + "\n".join(
        wrong[:15]
    )


def test_families_have_distinct_texts() -> None:
    """The generator makes varied sentences, not one sentence repeated."""
    for family in FAMILIES:
        cases = family_cases(family)
        assert len({c.text for c in cases}) >= 12, family


def test_heldout_wordings_hold() -> None:
    """Both rounds of other wordings of the families (written after the rules; see the module)."""
    cases = [*heldout_cases(), *heldout2_cases()]
    assert len(cases) >= 300
    wrong = [
        f"{c.text!r} [{c.target}] -> {got}"
        for c in cases
        if (got := assign_assertions(c.text, [span_of(c)])[0].value) != c.expected
    ]
    assert len(wrong) / len(cases) <= 1 - FLOOR, "\n".join(wrong[:15])
