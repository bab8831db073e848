"""Disease -> finding facts from Disease Ontology definitions (real definitions, shipped concepts)."""

from __future__ import annotations

import pytest

from kgrag.config import Settings
from kgrag.facts.definition_facts import definition_findings, symptom_clauses
from kgrag.linking.linker import ConceptLinker
from kgrag.ontology.table import ConceptTable

# verbatim Disease Ontology definitions (facets_id_name_definition.tsv, CC0)
VENOUS = (
    "A venous insufficiency that is characterized by lower extremity swelling, "
    "hyperpigmentation, pruritus and venous ulceration caused by blood pooling in the veins."
)
BERIBERI = (
    "A beriberi that is located_in the cardiovascular system and has_symptom increased heart "
    "rate, swelling of lower legs, and shortness of breath."
)
GALLSTONES = "A cholecystitis characterized by the absence of gallstones."
TICK = (
    "A viral infectious disease that results_in infection, has_material_basis_in Colorado "
    "tick fever virus, which is transmitted_by ticks."
)


@pytest.fixture(scope="module")
def linker(table: ConceptTable) -> ConceptLinker:
    return ConceptLinker(table, kinds=["finding"], fuzzy=False)


def test_clauses_run_from_a_symptom_relation_to_the_next_relation() -> None:
    [(s, e)] = symptom_clauses(VENOUS)
    assert VENOUS[s:e].strip() == (
        "lower extremity swelling, hyperpigmentation, pruritus and venous ulceration"
    )
    [(s, e)] = symptom_clauses(BERIBERI)
    assert BERIBERI[s:e].startswith(" increased heart rate")
    [(s, e)] = symptom_clauses(TICK)
    assert TICK[s:e].strip() == "infection,"  # closed by has_material_basis_in
    assert symptom_clauses("A disease that is located_in the liver.") == []


def names(linker: ConceptLinker, text: str) -> list[str]:
    found = definition_findings("DOID:0", text, linker.link(text))
    return [m.best.name.lower() for m in found if m.best is not None]


def test_findings_stated_by_a_definition(linker: ConceptLinker) -> None:
    venous = names(linker, VENOUS)
    assert "pruritus" in venous and "vein" not in " ".join(venous)  # not the cause clause
    beriberi = names(linker, BERIBERI)
    assert "tachycardia" in beriberi and "shortness of breath" in beriberi
    assert names(linker, GALLSTONES) == []  # "absence of gallstones": not a finding shown
    assert "fever" not in names(linker, TICK)  # "Colorado tick fever virus" is no clause


def test_the_default_build_writes_definition_facts_citing_their_words(default_kb: Settings) -> None:
    """Built from the shipped DO definitions: each claim's span holds the finding's words."""
    from kgrag.config import kb_dir
    from kgrag.graph.schema import EdgeType
    from kgrag.graph.stores import open_store
    from kgrag.ontology.disease_ontology import load_definitions

    definitions = {c.id: c.definition for c in load_definitions(default_kb.ontologies_dir)}
    with open_store(kb_dir(default_kb), settings=default_kb, read_only=True) as store:
        claims = [
            c
            for e in store.iter_edges([EdgeType.HAS_FINDING])
            for c in e.claims
            if c.source == "do_definitions"
        ]
    assert len(claims) > 5000
    for c in claims[:: max(1, len(claims) // 200)]:
        text = definitions[str(c.reference)]
        assert c.start is not None and c.end is not None
        assert text[c.start : c.end] == c.props["quote"]
