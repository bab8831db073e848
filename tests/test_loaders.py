"""Each vocabulary loader on small excerpts of the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgrag.ontology.ddxplus import load_ddxplus
from kgrag.ontology.disease_ontology import DO_ROOT, DoFiles, load_disease_ontology
from kgrag.ontology.hpo import load_hpo, load_hpoa, parse_frequency
from kgrag.ontology.icd10cm import load_icd10cm
from kgrag.ontology.mesh import MeshFiles, load_mesh
from kgrag.ontology.sssom import load_sssom
from kgrag.ontology.umls_rrf import load_umls_rrf
from kgrag.types import SemanticKind, SynonymScope

ONTOLOGIES = Path(__file__).resolve().parent.parent / "ontologies"


def by_id(result):  # type: ignore[no-untyped-def]
    return {c.id: c for c in result.concepts}


def test_hpo_terms_kinds_aliases(fixtures: Path) -> None:
    r = load_hpo(fixtures / "hpo/hp_mini.obo")
    c = by_id(r)
    assert r.info.version == "2025-01-16"
    assert "Human Phenotype Ontology" in (r.info.attribution or "")
    seizure = c["HP:0001250"]
    assert seizure.name == "Seizure" and seizure.kind is SemanticKind.FINDING
    assert seizure.parents == ["HP:0012638"]
    assert any(s[0] == "Seizures" for s in seizure.synonyms)
    assert c["HP:0000118"].kind is SemanticKind.CATEGORY
    assert c["HP:0000006"].kind is SemanticKind.MODIFIER  # autosomal dominant inheritance
    assert "HP:0000057" not in c  # obsolete term is no concept ...
    assert r.aliases["HP:0000057"] in c  # ... but its replacement resolves
    assert all(a != t for a, t in r.aliases.items())


def test_hpoa_annotations_and_frequencies(fixtures: Path) -> None:
    h = load_hpoa(fixtures / "hpo/phenotype_mini.hpoa")
    assert h.version == "2025-01-16"
    first = h.annotations[0]
    assert first.disease_id == "OMIM:619340" and first.frequency == 0.5
    assert any(a.negated for a in h.annotations)
    assert any(a.disease_id.startswith("ORPHA:") for a in h.annotations)
    names = by_id(h.diseases)
    assert names["OMIM:619340"].name == "Developmental and epileptic encephalopathy 96"
    assert parse_frequency("HP:0040281") == pytest.approx(0.895)
    assert parse_frequency("45%") == pytest.approx(0.45)
    assert parse_frequency("") is None and parse_frequency("n/a") is None


def test_disease_ontology_reports(fixtures: Path) -> None:
    d = fixtures / "do"
    r = load_disease_ontology(
        DoFiles(d / "HumanDO.tsv", d / "allXREFinDO.tsv", disease_symptom=d / "disease-symptom.tsv"),
        "test",
    )
    c = by_id(r)
    t2d = c["DOID:9352"]
    assert t2d.name == "type 2 diabetes mellitus" and t2d.parents == ["DOID:9351"]
    assert "MESH:D003924" in t2d.xrefs and "UMLS:C0011860" in t2d.xrefs
    assert c[DO_ROOT].kind is SemanticKind.CATEGORY
    assert c["DOID:7"].parents == [DO_ROOT]
    # DO lists several OMIM loci on T2DM: none is taken as equality ...
    eqs = {(e.left, e.right) for e in r.equivalences}
    assert not any(left == "DOID:9352" and right.startswith("OMIM:") for left, right in eqs)
    # ... while its single MeSH xref is.
    assert ("DOID:9352", "MESH:D003924") in eqs
    # a parent label outside the excerpt is a counted warning, not a silent drop
    assert r.warnings is not None and r.warnings.counts["parent label missing or ambiguous"] >= 1
    assert any(x.symptom_id.startswith("SYMP:") for x in r.disease_symptom)


def test_sssom_exact_matches(fixtures: Path) -> None:
    r = load_sssom(sorted((fixtures / "mondo").glob("*.sssom.tsv")), version="t")
    eqs = {(e.left, e.right) for e in r.equivalences}
    assert ("MONDO:0005148", "DOID:9352") in eqs
    assert ("MONDO:0005148", "MESH:D003924") in eqs  # lower-case mesh: prefix canonicalised
    assert ("MONDO:0005148", "OMIM:125853") in eqs
    assert by_id(r)["MONDO:0005148"].name == "type 2 diabetes mellitus"


def test_mesh_descriptors_trees_and_terms(fixtures: Path) -> None:
    m = fixtures / "mesh"
    r = load_mesh(
        MeshFiles(m / "mesh_desc_C_F03.tsv", m / "mesh_scr_disease.tsv", m / "mesh2022_terms.tsv")
    )
    c = by_id(r)
    t2d = c["MESH:D003924"]
    assert t2d.name == "Diabetes Mellitus, Type 2" and "MESH:D003920" in t2d.parents
    texts = {s[0]: s for s in t2d.synonyms}
    assert "NIDDM" in texts or "Diabetes Mellitus, Noninsulin-Dependent" in texts
    bipolar = {s[0]: s for s in c["MESH:D001714"].synonyms}
    # a term of a narrower concept, which the 2024 file drops, comes from the 2022 terms
    assert bipolar["Manic Depression"][1] in (SynonymScope.NARROW, SynonymScope.EXACT)
    assert any(s[1] is SynonymScope.NARROW for s in bipolar.values())
    assert c["MESH:D012816"].kind in (SemanticKind.FINDING, SemanticKind.CATEGORY)
    scr = next(x for x in r.concepts if x.id.startswith("MESH:C"))
    assert "MESH:D003924" in scr.parents


def test_icd10cm_hierarchy() -> None:
    r = load_icd10cm()
    c = by_id(r)
    assert r.info.version == "April-2026"
    assert c["ICD10CM:E11"].name == "Type 2 diabetes mellitus"
    assert c["ICD10CM:E11"].parents == ["ICD10CM:E08-E13"]
    assert c["ICD10CM:E08-E13"].parents == ["ICD10CM:CH04"]
    assert c["ICD10CM:CH04"].kind is SemanticKind.CATEGORY
    assert c["ICD10CM:R50.9"].kind is SemanticKind.FINDING  # fever, unspecified
    assert c["ICD10CM:E11.9"].kind is SemanticKind.DISEASE


def test_ddxplus_with_sle_correction(tmp_path: Path) -> None:
    d = ONTOLOGIES / "ddxplus"
    r = load_ddxplus(
        d / "release_conditions.json.gz", d / "release_evidences.json.gz", d / "icd10_corrections.json"
    )
    c = by_id(r)
    assert c["DDX:sle"].xrefs == ["ICD10CM:M32"]  # corrected from M34
    assert c["DDX:pneumonia"].xrefs == ["ICD10CM:J17", "ICD10CM:J18"]
    assert c["DDX:cluster_headache"].xrefs == ["ICD10CM:G44.009"]  # case normalised
    assert c["DDXE:E_91"].kind is SemanticKind.FINDING and "fever" in c["DDXE:E_91"].name
    assert len(r.conditions) == 49
    assert r.warnings is not None and not r.warnings.counts
    # a stale correction is reported, not applied blindly
    stale = tmp_path / "c.json"
    stale.write_text('{"SLE": {"field": "icd10-id", "from": "X99", "to": "M32"}}')
    r2 = load_ddxplus(d / "release_conditions.json.gz", d / "release_evidences.json.gz", stale)
    assert by_id(r2)["DDX:sle"].xrefs == ["ICD10CM:M34"]
    assert r2.warnings is not None and r2.warnings.counts["correction no longer applies"] == 1


def test_umls_rrf_synthetic_fixture(fixtures: Path) -> None:
    r = load_umls_rrf(fixtures / "umls")
    c = by_id(r)
    t2 = c["UMLS:C9999001"]
    assert t2.name == "Synthetic diabetes type two" and t2.kind is SemanticKind.DISEASE
    assert "Diabete synthetique" not in {s[0] for s in t2.synonyms}  # English only
    assert t2.parents == ["UMLS:C9999002"]
    assert c["UMLS:C9999003"].kind is SemanticKind.FINDING
    eqs = {(e.left, e.right) for e in r.equivalences}
    assert {
        ("UMLS:C9999001", "MESH:D003924"),
        ("UMLS:C9999001", "HP:0005978"),
        ("UMLS:C9999001", "OMIM:125853"),
    } <= eqs
    assert "Suppressed synthetic name" not in {s[0] for s in c["UMLS:C9999002"].synonyms}
