"""Pretest probability (settings general / rare / uniform) and the DDXPlus evidence ->
finding mapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kgrag.config import Settings
from kgrag.errors import InvalidRequest, OntologyFormatError
from kgrag.graph.builders import ddxplus_finding_edges
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.ddxplus import (
    EVIDENCE_FINDINGS_FILE,
    MAPPING_RELATIONS,
    DdxCondition,
    load_evidence_findings,
)
from kgrag.ontology.table import ConceptTable
from kgrag.retrieval.artifacts import build_artifacts
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.priors import PRIOR_WEIGHTS, PriorClass, classify, log_prior, read_rare_slim

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "ontologies" / "ddxplus" / EVIDENCE_FINDINGS_FILE
EVIDENCES = ROOT / "ontologies" / "ddxplus" / "release_evidences.json.gz"


# -- prior classes ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("ORPHA:589", "OMIM:254200"), PriorClass.RARE),
        (("DDX:pneumonia", "ICD10CM:J18.9"), PriorClass.COMMON),
        (("ICD10CM:E11",), PriorClass.COMMON),  # an ICD-10-CM code, no rare mapping
        (("ICD10CM:G70.0", "ORPHA:589", "DDX:myasthenia_gravis"), PriorClass.MIXED),
        (("ICD10CM:Q43.1", "ORPHA:388"), PriorClass.MIXED),  # a dedicated ICD code and Orphanet
        (("MESH:D000001",), PriorClass.UNCLASSIFIED),
        (("DOID:9999999",), PriorClass.RARE),  # in the rare slim below
    ],
)
def test_prior_classes_from_codes(codes: tuple[str, ...], expected: PriorClass) -> None:
    got = classify("X", codes, rare_slim=frozenset({"DOID:9999999"}))
    assert got.prior_class is expected
    assert got.evidence or expected is PriorClass.UNCLASSIFIED


def test_consumer_focus_counts_as_common() -> None:
    assert classify("X", (), consumer_focus=frozenset({"X"})).prior_class is PriorClass.COMMON
    assert classify("X", ("ORPHA:1",), consumer_focus=frozenset({"X"})).prior_class is PriorClass.MIXED


def test_rare_slim_is_read_from_the_shipped_file() -> None:
    slim = read_rare_slim(ROOT / "ontologies" / "disease_ontology" / "DO_rare_slim.obo.gz")
    assert len(slim) > 3000 and "DOID:437" in slim  # myasthenia gravis
    assert read_rare_slim(ROOT / "nope.obo") == frozenset()


def test_settings_order_the_classes() -> None:
    classes = list(PriorClass)
    assert not log_prior(classes, "uniform").any()
    general = dict(zip(classes, log_prior(classes, "general"), strict=True))
    assert general[PriorClass.COMMON] > general[PriorClass.MIXED] > general[PriorClass.UNCLASSIFIED]
    assert general[PriorClass.UNCLASSIFIED] > general[PriorClass.RARE]
    rare = dict(zip(classes, log_prior(classes, "rare"), strict=True))
    assert rare[PriorClass.RARE] == 0.0 and rare[PriorClass.COMMON] < 0
    assert all(0 < w <= 1 for table in PRIOR_WEIGHTS.values() for w in table.values())


def _store(path: Path) -> SqliteGraphStore:
    """Two diseases with the same single finding: one rare (Orphanet), one common (DDXPlus)."""
    store = SqliteGraphStore(path)
    store.upsert_nodes(
        [
            Node(id="F", label=Label.CONCEPT, name="cough", tier=Tier.FINDING, sources=("t",)),
            Node(
                id="D_RARE",
                label=Label.CONCEPT,
                name="rare cough disease",
                tier=Tier.DISEASE,
                codes=("ORPHA:1",),
                sources=("t",),
            ),
            Node(
                id="D_COMMON",
                label=Label.CONCEPT,
                name="common cough disease",
                tier=Tier.DISEASE,
                codes=("DDX:bronchitis", "ICD10CM:J20"),
                sources=("t",),
            ),
        ]
    )
    store.upsert_edges(
        [
            Edge(
                src=d,
                type=EdgeType.HAS_FINDING,
                dst="F",
                props={"polarity": "present"},
                # the rare disease's annotation is more frequent: it wins without a prior
                claims=(Claim(source="t", reference=d, props={"frequency": f}),),
            )
            for d, f in (("D_RARE", 0.9), ("D_COMMON", 0.6))
        ]
    )
    return store


def test_setting_changes_the_ranking_and_is_reported(tmp_path: Path) -> None:
    store = _store(tmp_path / "kb")
    build_artifacts(store, fingerprint="fp", encoder="hashing")
    dx = Diagnoser(store)
    uniform = dx.diagnose(findings=["F"], setting="uniform", evidence="none")
    general = dx.diagnose(findings=["F"], setting="general", evidence="none")
    rare = dx.diagnose(findings=["F"], setting="rare", evidence="none")
    assert [c.concept_id for c in uniform.candidates] == ["D_RARE", "D_COMMON"]
    assert [c.concept_id for c in general.candidates] == ["D_COMMON", "D_RARE"]
    assert [c.concept_id for c in rare.candidates] == ["D_RARE", "D_COMMON"]
    assert (uniform.setting, general.setting, rare.setting) == ("uniform", "general", "rare")
    top = general.candidates[0]
    assert top.prior_class == "common" and top.log_prior == 0.0
    assert general.candidates[1].prior_class == "rare"
    assert general.candidates[1].log_prior == pytest.approx(np.log(0.01), abs=1e-3)
    assert sum(c.probability for c in general.candidates) == pytest.approx(1.0, abs=1e-3)
    assert dx.diagnose(findings=["F"], evidence="none").setting == "general"  # the default
    with pytest.raises(InvalidRequest, match="setting must be one of"):
        dx.diagnose(findings=["F"], setting="icu")  # type: ignore[arg-type]


# -- DDXPlus evidence -> finding mapping ---------------------------------------------------
def test_mapping_covers_every_evidence_once() -> None:
    import gzip

    with gzip.open(EVIDENCES, "rt", encoding="utf-8") as fh:
        evidences = json.loads(fh.read())
    rows = load_evidence_findings(MAPPING)
    base = [r for r in rows if not r.value]
    assert sorted(r.evidence for r in base) == sorted(evidences)  # 223, each once
    for r in rows:
        ev = evidences[r.evidence]
        assert r.relation in MAPPING_RELATIONS
        assert r.role == ("antecedent" if ev["is_antecedent"] else "symptom")
        assert r.question.startswith(ev["question_en"])
        if r.value:
            assert r.relation == "value-specific" and r.value in ev["value_meaning"]
    mapped = [r for r in base if r.codes]
    assert len(mapped) >= 170  # the unmapped rest are scales, exposures and medications


def test_mapping_codes_exist_in_the_concept_table(table: ConceptTable) -> None:
    missing = [
        (r.evidence, c)
        for r in load_evidence_findings(MAPPING)
        for c in r.codes
        if table.resolve(c) is None
    ]
    assert not missing


def test_mapping_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "m.tsv"
    header = MAPPING.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(
        header + "\nE_1\t\tB\tsymptom\tpatient\tq?\tHP:1\tx\tsideways\tnote\n", encoding="utf-8"
    )
    with pytest.raises(OntologyFormatError, match="unknown relation"):
        load_evidence_findings(bad)
    bad.write_text(header + "\nE_1\t\tB\tsymptom\tpatient\tq?\t\t\texact\tnote\n", encoding="utf-8")
    with pytest.raises(OntologyFormatError, match="codes are required"):
        load_evidence_findings(bad)


def test_ddxplus_conditions_reach_shared_findings(table: ConceptTable) -> None:
    rows = load_evidence_findings(MAPPING)
    cond = DdxCondition(
        id="DDX:pneumonia",
        name="Pneumonia",
        icd10=("J18",),
        severity=3,
        symptoms=("DDXE:E_91", "DDXE:E_201", "DDXE:E_59"),  # fever, cough, an unmapped scale
        antecedents=("DDXE:E_79", "DDXE:E_87"),  # smoking; family history of asthma (skipped)
    )
    edges = list(ddxplus_finding_edges([cond], rows, table, "ddxplus"))
    findings = {e.dst for e in edges if e.type is EdgeType.HAS_FINDING}
    risks = {e.dst for e in edges if e.type is EdgeType.HAS_RISK_FACTOR}
    assert findings == {table.resolve("HP:0001945"), table.resolve("HP:0012735")}
    assert risks == {table.resolve("ICD10CM:Z72.0")}
    assert all(e.claims[0].reference.startswith("DDX:pneumonia E_") for e in edges)


def test_finding_coverage_per_source_and_tier(tmp_path: Path) -> None:
    from kgrag.graph.coverage import finding_coverage

    store = _store(tmp_path / "kb")
    store.upsert_edges(
        [
            Edge(
                src="D_COMMON",
                type=EdgeType.HAS_FINDING,
                dst="F",
                props={"polarity": "present"},
                claims=(Claim(source="medquad", reference="chunk:x", start=0, end=1),),
            )
        ]
    )
    cov = finding_coverage(store)
    assert cov.diseases == 2
    assert cov.per_source == {"t": 2, "medquad": 1}
    assert cov.only_source == {"t": 1}
    assert cov.per_tier == {"disease": 2}


def test_cli_setting_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgrag.cli import app

    store = _store(tmp_path / "kb")
    build_artifacts(store, fingerprint="fp", encoder="hashing")
    store.close()
    run = CliRunner()
    args = ["diagnose", "-f", "F", "--store", str(tmp_path / "kb"), "--json"]
    out = json.loads(run.invoke(app, [*args, "--setting", "general"]).stdout)
    assert out["setting"] == "general" and out["candidates"][0]["concept_id"] == "D_COMMON"
    out = json.loads(run.invoke(app, [*args, "--setting", "uniform"]).stdout)
    assert out["setting"] == "uniform" and out["candidates"][0]["concept_id"] == "D_RARE"
    bad = run.invoke(app, [*args, "--setting", "icu"])
    assert bad.exit_code != 0 and "setting" in bad.output and "'rare' or 'uniform'" in bad.output


def test_full_recipe_adds_the_shipped_medquad_collections() -> None:
    from kgrag.corpus.documents import read_medquad
    from kgrag.pipeline.runner import load_recipe

    recipe = load_recipe(ROOT / "ingest" / "full.toml")
    corpora = {s.name: s for s in recipe.sources if s.kind == "corpus"}
    assert set(corpora) == {"medquad", "medquad_more"}
    folder = (recipe.base_dir / str(corpora["medquad_more"].path)).resolve()
    collections = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert collections == [
        "1_CancerGov_QA",
        "2_GARD_QA",
        "3_GHR_QA",
        "6_NINDS_QA",
        "7_SeniorHealth_QA",
        "9_CDC_QA",
    ]
    assert (folder / "LICENSE.txt").is_file()
    page = next((folder / "9_CDC_QA").glob("*.xml.gz"))
    doc = read_medquad(page, folder, "medquad_more")
    assert doc.sections and doc.source == "medquad_more/CDC"


def test_a_shipped_recipe_is_found_by_name_and_may_read_the_shipped_corpora(tmp_path: Path) -> None:
    """`kgrag build full` reads ../corpora like the default; a copied recipe does not."""
    from kgrag.errors import ConfigError
    from kgrag.pipeline.runner import load_recipe

    recipe = load_recipe("full")
    assert recipe.name == "full"
    assert recipe.confined("../corpora/medquad_more").is_dir()
    copy = tmp_path / "ingest" / "full.toml"
    copy.parent.mkdir()
    copy.write_text((ROOT / "ingest" / "full.toml").read_text())
    with pytest.raises(ConfigError, match="refused to read"):
        load_recipe(copy).confined("../../etc")


# three everyday presentations (cough, chest pain, polyuria), on the real default knowledge
# base (its graph and diagnostic model; the `default_kb` fixture only swaps the passage
# encoder, which the graph ranking does not use): a clinically expected diagnosis in the
# top 3 with `general`
EVERYDAY_PRESENTATIONS = [
    (
        "Fever and a productive cough for 3 days, shortness of breath. No chest pain.",
        {"pneumonia", "acute bronchitis", "bronchitis", "influenza"},
    ),
    (
        "55 year old man with crushing chest pain radiating to the left arm, sweating and nausea.",
        {
            "myocardial infarction",
            "acute myocardial infarction",
            "acute coronary syndrome",
            "unstable angina",
            "intermediate coronary syndrome",
        },
    ),
    (
        "Polyuria, polydipsia, weight loss and fatigue.",
        {"diabetes mellitus", "type 1 diabetes mellitus", "type 2 diabetes mellitus"},
    ),
]


@pytest.fixture(scope="module")
def default_dx(default_kb: Settings) -> Diagnoser:
    return Diagnoser(settings=default_kb)


@pytest.mark.parametrize(
    ("text", "expected"), EVERYDAY_PRESENTATIONS, ids=["cough", "chest-pain", "polyuria"]
)
def test_an_everyday_presentation_has_an_expected_diagnosis_in_the_top_3(
    default_dx: Diagnoser, text: str, expected: set[str]
) -> None:
    ranking = default_dx.rank(text, method="graph", setting="general")
    m = default_dx.model
    top3 = [m.disease_names[m.disease_index[d]].lower() for d in ranking.order[:3]]
    assert expected & set(top3), top3
