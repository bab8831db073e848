"""A relative who brings, accompanies or speaks for the patient does not make the patient's
findings family history (the opening of most case vignettes: "brought to the physician by her
parents for ..."), while a relative's own condition still reads as family. Generated
variants: relatives, possessives, places, verbs and findings."""

from __future__ import annotations

import itertools

import pytest

from kgrag.linking.linker import ConceptLinker
from kgrag.ontology.table import ConceptTable

RELATIVES = ["mother", "father", "parents", "grandmother", "sister", "daughter", "son", "aunt"]
FINDINGS = ["fever", "vomiting", "seizures", "chest pain", "a cough", "headaches"]
BROUGHT = [
    "A 6-year-old boy is brought to the emergency department by {poss} {rel} because of {f}.",
    "A 16-year-old girl is brought to the physician by {poss} {rel} for {f}.",
    "An infant is brought in by {poss} {rel} with {f}.",
    "Accompanied by {poss} {rel}, the patient reports {f}.",
    "According to {poss} {rel}, the child has had {f} for two days.",
    "{Poss} {rel} reports that she has had {f} since yesterday.",
    "{Poss} {rel} noticed {f} this morning.",
]
OWN = [
    "{Poss} {rel} has {f}.",
    "{Poss} {rel} had {f} as a child.",
    "Family history: {rel} with {f}.",
]


@pytest.fixture(scope="module")
def linker(table: ConceptTable) -> ConceptLinker:
    return ConceptLinker(table)


def cases(templates: list[str]) -> list[tuple[str, str]]:
    out = []
    for t, rel, f, poss in itertools.product(templates, RELATIVES, FINDINGS, ["his", "her"]):
        word = f.removeprefix("a ")
        out.append((t.format(poss=poss, Poss=poss.capitalize(), rel=rel, f=f), word))
    return out


def assertion_of(linker: ConceptLinker, text: str, word: str) -> str | None:
    for m in linker.link(text):
        if word.rstrip("s") in m.text.lower():
            return m.assertion.value
    return None


@pytest.mark.slow
def test_a_relative_who_brings_the_patient_is_not_family_history(linker: ConceptLinker) -> None:
    got = [(t, assertion_of(linker, t, w)) for t, w in cases(BROUGHT)]
    read = [(t, a) for t, a in got if a is not None]
    wrong = [(t, a) for t, a in read if a != "present"]
    assert len(read) > 0.9 * len(got)
    assert len(wrong) <= 0.02 * len(read), wrong[:10]


@pytest.mark.slow
def test_a_relatives_own_condition_stays_family(linker: ConceptLinker) -> None:
    got = [(t, assertion_of(linker, t, w)) for t, w in cases(OWN)]
    read = [(t, a) for t, a in got if a is not None]
    wrong = [(t, a) for t, a in read if a != "family"]
    assert len(read) > 0.9 * len(got)
    assert len(wrong) <= 0.05 * len(read), wrong[:10]
