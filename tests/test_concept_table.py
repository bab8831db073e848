"""The compiled default concept table: real vocabularies, unified, saved and reloaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kgrag.config import Settings, load_settings
from kgrag.errors import ChecksumMismatch, ConceptNotFound
from kgrag.ontology.compiled import compiled_path, load_concepts
from kgrag.ontology.manifest import file_checksums, read_manifest
from kgrag.ontology.table import ConceptTable
from kgrag.types import SemanticKind

pytestmark = pytest.mark.slow


def test_counts_and_sources(table: ConceptTable) -> None:
    stats = table.stats()
    assert stats.concepts > 100_000 and stats.synonyms > 200_000 and stats.is_a_edges > 100_000
    names = {s.name for s in table.sources}
    assert names == {"HP", "DOID", "MONDO", "MESH", "ICD10CM", "HPOA", "DDX"}
    assert all(s.version and s.license for s in table.sources)
    assert 0 < stats.conflicts < stats.concepts * 0.05


def test_type_2_diabetes_is_one_concept(table: ConceptTable) -> None:
    ids = {
        table.resolve(c)
        for c in (
            "MESH:D003924",
            "DOID:9352",
            "MONDO:0005148",
            "MIM:125853",
            "ICD10CM:E11",
            "UMLS_CUI:C0011860",
        )
    }
    assert ids == {"UMLS:C0011860"}
    t2d = table.get("DOID:9352")
    assert t2d.kind is SemanticKind.DISEASE
    assert {"NIDDM", "Type 2 diabetes"} <= {s.text for s in t2d.synonyms}
    assert "OMIM:601283" in t2d.xrefs or table.resolve("OMIM:601283") != t2d.id


def test_lookup_by_name_and_search(table: ConceptTable) -> None:
    mi = table.search("heart attack", limit=3)
    assert mi[0].name.lower() == "myocardial infarction" and mi[0].match == "exact"
    assert "MESH:D009203" in mi[0].codes
    fuzzy = table.search("diabetis mellitus type 2", limit=5)
    assert table.resolve("MESH:D003924") in {m.concept_id for m in fuzzy}
    only_findings = table.search("fever", kinds=["finding"], limit=5)
    assert only_findings and all(m.kind is SemanticKind.FINDING for m in only_findings)
    assert table.lookup_name("Seizures")
    assert table.search("MIM:125853")[0].match == "code"


def test_hierarchy_and_errors(table: ConceptTable) -> None:
    ancestors = {c.id for c in table.ancestors("ICD10CM:E11.9")}
    assert {"ICD10CM:E08-E13", "ICD10CM:CH04"} <= {
        code for a in ancestors for code in table.get(a).codes
    }
    assert table.resolve("HP:0000057") is not None  # obsolete HPO id, replaced
    assert table.get("DDX:sle").parents == (table.resolve("ICD10CM:M32"),)
    with pytest.raises(ConceptNotFound):
        table.get("MESH:D999999999")
    with pytest.raises(KeyError):
        table.get("not a code")


def test_warm_load_roundtrip(default_settings: Settings, table: ConceptTable) -> None:
    again = load_concepts(default_settings)
    assert again.stats() == table.stats()
    assert again.get("HP:0001250") == table.get("HP:0001250")


def test_shipped_files_match_manifest() -> None:
    d = Path(__file__).resolve().parent.parent / "ontologies"
    sums = file_checksums(d, read_manifest(d), strict=True)
    assert any(p.endswith("hp.obo.gz") for p in sums)


def test_changed_source_rebuilds_and_corrupt_cache_recovers(
    tmp_path: Path, default_settings: Settings
) -> None:
    copy = tmp_path / "ontologies"
    shutil.copytree(default_settings.ontologies_dir, copy)
    settings = load_settings(cache_dir=tmp_path / "cache", ontologies_dir=copy, verify_checksums=False)
    before = compiled_path(settings)
    corrections = copy / "ddxplus/icd10_corrections.json"
    corrections.write_text("{}")  # drop the SLE correction
    after = compiled_path(settings)
    assert before != after  # a new fingerprint means a rebuild
    table = load_concepts(settings)
    assert table.get("DDX:sle").parents == (table.resolve("ICD10CM:M34"),)
    after.write_bytes(b"garbage")
    assert len(load_concepts(settings)) == len(table)  # corrupt cache: rebuilt, not fatal
    strict = load_settings(cache_dir=tmp_path / "cache2", ontologies_dir=copy)
    with pytest.raises(ChecksumMismatch, match=r"icd10_corrections\.json"):
        load_concepts(strict)
