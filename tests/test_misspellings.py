"""Misspelled disease names resolve to the specific concept, on the real default table.

A near miss of a specific name ("Chron's disease", "rhuematoid arthritis", "diabeties") must
beat an exact match of a generic head ("chronic disease", "arthritis"): generated misspellings
(tests/_misspellings.py: swapped, dropped, doubled and replaced letters; eponyms in the
possessive or plural) of two dozen names, each expected to give the concept its correct
spelling gives.
"""

from __future__ import annotations

import pytest

from kgrag.linking.linker import ConceptLinker
from kgrag.linking.spelling import SpellingIndex
from kgrag.ontology.table import ConceptTable
from tests._misspellings import NAMES, misspellings

FLOOR = 0.95


@pytest.fixture(scope="module")
def linker(table: ConceptTable) -> ConceptLinker:
    return ConceptLinker(table)


@pytest.fixture(scope="module")
def correct(linker: ConceptLinker) -> dict[str, str]:
    out = {}
    for name in NAMES:
        found = linker.normalize(name, k=1)
        assert found, f"the default table has no concept for {name!r}"
        out[name] = found[0].concept_id
    return out


def test_generated_misspellings_link_to_the_specific_concept(
    linker: ConceptLinker, correct: dict[str, str]
) -> None:
    pairs = list(misspellings())
    assert len(pairs) >= 150
    wrong = []
    for mention, name in pairs:
        found = linker.normalize(mention, k=1)
        if not found or found[0].concept_id != correct[name]:
            wrong.append(f"{mention!r} -> {found[0].name if found else None} (want {name})")
    score = 1 - len(wrong) / len(pairs)
    assert score >= FLOOR, f"{score:.3f} of {len(pairs)}:\n" + "\n".join(wrong[:20])


@pytest.mark.parametrize(
    ("mention", "name"),
    [
        ("Chron's disease", "Crohn disease"),
        ("alzheimers", "Alzheimer disease"),
        ("diabeties", "diabetes mellitus"),
    ],
)
def test_issue_instances_are_among_the_kind(
    linker: ConceptLinker, correct: dict[str, str], mention: str, name: str
) -> None:
    found = linker.normalize(mention, k=3)
    assert found and found[0].concept_id == correct[name], [c.name for c in found]
    assert found[0].method == "spelling"


def test_correct_names_never_go_through_spelling(linker: ConceptLinker) -> None:
    """Respelling is for words the dictionary lacks: a correctly spelled name keeps its match."""
    for name in NAMES:
        assert linker.normalize(name, k=1)[0].method != "spelling", name


def test_spelling_index_ranks_closest_then_same_length() -> None:
    index = SpellingIndex(["crohn disease", "chronic disease", "chrom disorder", "asthma"])
    assert index.choices("chron")[:1] == ["chrom"]  # one edit beats two
    assert index.choices("chron").index("crohn") < index.choices("chron").index("chronic")
    assert list(index.respellings("asthma")) == []  # known words are left alone
    assert "crohn disease" in list(index.respellings("chron disease"))
    assert list(index.respellings("crohn", possessive=True))[:1] == ["crohn disease"]


@pytest.mark.parametrize("acronym", ["PTLD", "RPGN", "RIHA", "REMD", "COPD", "GERD"])
def test_acronyms_are_not_respelled(linker: ConceptLinker, acronym: str) -> None:
    """A word in capitals is a short form, not a typo: no candidate comes from respelling it."""
    assert all(c.method != "spelling" for c in linker.normalize(acronym, k=5))
    index = SpellingIndex(["rida disease", "ptsd"])
    key = acronym.lower()
    assert list(index.respellings(key, keep=frozenset({key}))) == []
