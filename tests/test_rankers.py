"""The rankers of kgrag/retrieval/rankers/: each one's contract, the semantic similarity against a
plain re-computation, the ensemble's weights file, its fitting and calibration, and a real case.

The real case is a published phenopacket (Holt-Oram syndrome) ranked over an excerpt of the
HPO release (tests/fixtures/hpo/ensemble/, rebuilt by its make_fixture.py): the case's
disease and the 30 diseases annotated with most of its findings.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_retrieve import make_store

from kgrag.config import Settings, load_settings
from kgrag.errors import ConfigError, KgragError
from kgrag.retrieval.artifacts import artifacts_dir, build_artifacts
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.model import FILE_NAME, Annotation, DiagnosticModel
from kgrag.retrieval.rankers import RANKERS, RankRequest, make_ranker
from kgrag.retrieval.rankers.ensemble import (
    ENSEMBLE_FILE,
    FEATURES,
    VERSION,
    Calibration,
    EnsembleRanker,
    candidate_features,
    load_ensemble,
    platt,
)
from kgrag.retrieval.rankers.ensemble_fit import (
    CaseRows,
    cross_validate,
    expected_calibration_error,
    fit_logit,
    fit_platt,
    gold_rank,
    grouped_folds,
    reliability,
)
from kgrag.retrieval.rankers.semantic import SemanticIndex

FIXTURE = Path(__file__).resolve().parent / "fixtures/hpo/ensemble"


# --- every ranker's contract, on the toy knowledge base of test_retrieve ----------------------
@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> DiagnosticModel:
    store = make_store(tmp_path_factory.mktemp("toy") / "kb")
    build_artifacts(store, fingerprint="fp1", encoder="hashing")
    model = DiagnosticModel.load(artifacts_dir(store) / FILE_NAME)
    store.close()
    return model


def test_the_registry_names_every_ranker() -> None:
    assert set(RANKERS) == {"graph", "ppr", "fused", "semantic", "ensemble"}


@pytest.mark.parametrize("name", sorted(set(RANKERS) - {"fused"}))  # fused needs passages: test_retrieve
def test_ranker_contract(name: str, toy: DiagnosticModel) -> None:
    """Unique model diseases best first, a score for each in non-increasing order, the graph's ranks."""
    ranker = make_ranker(name, toy, load_settings())
    t = toy.term_index
    for present, absent in ((["F_RASH"], []), (["F_SEIZ", "F_HYPO"], ["F_RASH"]), (["F_FEVER"], [])):
        if not all(p in t for p in present + absent):
            continue
        p, a = [t[x] for x in present], [t[x] for x in absent]
        log_lr = toy.score(p, a)
        ranked = ranker.rank(RankRequest(log_lr, p, a))
        assert ranked.order and len(set(ranked.order)) == len(ranked.order)
        assert set(ranked.order) <= set(toy.diseases) and set(ranked.scores) == set(ranked.order)
        scores = [ranked.scores[d] for d in ranked.order]
        assert all(x >= y for x, y in itertools.pairwise(scores))
        best_graph = toy.diseases[int(np.argmax(log_lr))]
        assert ranked.ranks[best_graph]["graph"] == 1
        if name == "ensemble":
            assert all(0.0 <= s <= 1.0 for s in scores)  # calibrated probabilities


def test_the_rankers_find_the_obvious_disease(toy: DiagnosticModel) -> None:
    t = toy.term_index
    for name in ("graph", "semantic", "ensemble"):
        ranker = make_ranker(name, toy, load_settings())
        ranked = ranker.rank(RankRequest(toy.score([t["F_RASH"]]), [t["F_RASH"]], []))
        assert ranked.order[0] == "D_DERM", name


def test_the_ensemble_is_a_method_of_diagnose(tmp_path: Path) -> None:
    store = make_store(tmp_path / "kb")
    build_artifacts(store, fingerprint="fp1", encoder="hashing")
    with Diagnoser(store) as dx:
        report = dx.diagnose(findings=["F_RASH"], method="ensemble", evidence="summary")
    assert report.method == "ensemble" and report.candidates[0].concept_id == "D_DERM"
    assert 0.0 <= report.candidates[0].score <= 1.0
    assert report.candidates[0].findings  # the graph's evidence is still attached


# --- the semantic similarity against a plain, term-by-term Resnik computation -------------------
def random_model(seed: int) -> DiagnosticModel:
    """A random hierarchy (a DAG: parents have lower indices) and random annotations."""
    rng = np.random.default_rng(seed)
    n_terms, n_dis = int(rng.integers(20, 60)), int(rng.integers(5, 40))
    parents = [[]] + [
        sorted({int(x) for x in rng.integers(0, i, size=int(rng.integers(1, 3)))})
        for i in range(1, n_terms)
    ]
    annotations = []
    for d in range(n_dis):
        for term in rng.choice(np.arange(1, n_terms), size=int(rng.integers(1, 8)), replace=False):
            f = None if rng.random() < 0.3 else float(rng.choice([0.1, 0.5, 0.9, 1.0]))
            annotations.append(Annotation(d, int(term), f, bool(rng.random() < 0.05), ("r",)))
    return DiagnosticModel(
        [f"T{i}" for i in range(n_terms)],
        [f"t{i}" for i in range(n_terms)],
        parents,
        [f"D{i}" for i in range(n_dis)],
        [f"d{i}" for i in range(n_dis)],
        annotations,
    )


def plain_similarity(model: DiagnosticModel, present: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Resnik best matches by definition, term pair by term pair (slow, obviously right)."""
    present, _ = model.distinct(present)
    ic, anc = model.ic, [set(a) for a in model.ancestors]
    p_to_d, d_to_p = np.zeros(len(model.diseases)), np.zeros(len(model.diseases))
    for d in range(len(model.diseases)):
        ann: dict[int, float] = {}
        for a in model.by_disease[d]:
            if not a.not_shown:
                f = model.params.default_frequency if a.frequency is None else a.frequency
                ann[a.term] = max(ann.get(a.term, 0.0), f)
        if not ann:
            continue

        def mica(x: int, y: int) -> float:
            return max(ic[z] for z in anc[x] & anc[y]) if anc[x] & anc[y] else 0.0

        p_to_d[d] = np.mean([max(mica(p, a) for a in ann) for p in present])
        d_to_p[d] = sum(f * max(mica(a, p) for p in present) for a, f in ann.items()) / sum(ann.values())
    return p_to_d, d_to_p


@pytest.mark.parametrize("seed", range(12))
def test_semantic_similarity_is_resnik_best_match(seed: int) -> None:
    model = random_model(seed)
    index = SemanticIndex(model)
    rng = np.random.default_rng(100 + seed)
    present = [int(x) for x in rng.choice(len(model.terms), size=int(rng.integers(1, 6)), replace=False)]
    sim = index.similarity(present)
    p_to_d, d_to_p = plain_similarity(model, present)
    np.testing.assert_allclose(sim.patient_to_disease, p_to_d, atol=1e-9)
    np.testing.assert_allclose(sim.disease_to_patient, d_to_p, atol=1e-9)
    assert index.complement  # the root column is written by the fill-and-restore path


def test_semantic_similarity_without_findings_is_zero() -> None:
    sim = SemanticIndex(random_model(0)).similarity([])
    assert not sim.score.any() and not sim.exact.any()


# --- the weights file: the shipped one loads; a damaged or foreign one is a clear ConfigError ------
def test_the_shipped_weights_load_with_their_version_and_provenance() -> None:
    w = load_ensemble()
    assert w.version == VERSION and tuple(w.features) == FEATURES
    assert "train_ensemble.py" in str(w.trained["command"])
    assert w.calibration.a > 0 and w.candidates > 0


def _damaged(raw: dict[str, object]) -> list[tuple[str, str | bytes]]:
    text = json.dumps(raw)
    variants: list[tuple[str, str | bytes]] = [
        ("empty", ""),
        ("truncated", text[: len(text) // 2]),
        ("binary", bytes(range(256))),
        ("a list", json.dumps([raw])),
        ("another tool's JSON", json.dumps({"name": "weights", "coef": raw["coef"]})),
    ]
    for key in ("version", "features", "coef", "calibration", "mean"):
        variants.append((f"no {key}", json.dumps({k: v for k, v in raw.items() if k != key})))
    changes: list[tuple[str, str, object]] = [
        ("format", "another format", "sklearn-logistic"),
        ("version", "a newer version", VERSION + 1),
        ("version", "a string version", "one"),
        ("features", "other features", ["a", "b"]),
        ("coef", "a short coef", raw["coef"][:-1]),  # type: ignore[index]
        ("coef", "a NaN coef", [float("nan")] * len(FEATURES)),
        ("scale", "a zero scale", [0.0] * len(FEATURES)),
        ("calibration", "a negative slope", {"method": "platt", "a": -1.0, "b": 0.0}),
        ("candidates", "no candidates", 0),
    ]
    for key, name, value in changes:
        variants.append((name, json.dumps({**raw, key: value})))
    return variants


@pytest.mark.parametrize("case", range(19))
def test_a_damaged_weights_file_is_a_config_error(case: int, tmp_path: Path) -> None:
    raw = json.loads(ENSEMBLE_FILE.read_text(encoding="utf-8"))
    variants = _damaged(raw)
    assert len(variants) == 19
    name, content = variants[case]
    path = tmp_path / "ensemble.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="retrain it with") as e:
        load_ensemble(path)
    assert str(path) in str(e.value), name
    assert isinstance(e.value, KgragError)


def test_a_missing_weights_file_is_a_config_error(tmp_path: Path, toy: DiagnosticModel) -> None:
    with pytest.raises(ConfigError, match="no ensemble weights file"):
        load_ensemble(tmp_path / "nope.json")
    with pytest.raises(ConfigError):
        EnsembleRanker(toy, load_settings(), load_ensemble(tmp_path / "nope.json"))


# --- calibration and fitting --------------------------------------------------------------------
@pytest.mark.parametrize("a,b", [(0.5, -2.0), (1.0, 0.0), (3.0, 1.0), (1e-3, 40.0), (50.0, -40.0)])
def test_calibrated_probabilities_stay_in_0_1(a: float, b: float) -> None:
    raw = np.array([0.0, 1e-300, 1e-9, 0.2, 0.5, 0.999999, 1.0])
    p = platt(raw, Calibration(a=a, b=b))
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0)


@pytest.mark.parametrize("seed", range(4))
def test_platt_recovers_a_known_miscalibration(seed: int) -> None:
    """Outcomes drawn from sigmoid(2 logit(p) - 1): the fit finds a ~ 2, b ~ -1 and lowers the ECE."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, 20000)
    truth = platt(p, Calibration(a=2.0, b=-1.0))
    y = rng.random(len(p)) < truth
    cal = fit_platt(p, y)
    assert abs(cal.a - 2.0) < 0.15 and abs(cal.b + 1.0) < 0.15
    assert expected_calibration_error(platt(p, cal), y) < expected_calibration_error(p, y)
    assert 0.0 <= expected_calibration_error(p, y) <= 1.0
    assert sum(n for _, _, n in reliability(p, y)) == len(p)


def synthetic_cases(seed: int, n: int, w: np.ndarray) -> list[CaseRows]:
    """Cases whose gold candidate is drawn from a conditional logit with weights ``w``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(5, 30))
        x = rng.normal(size=(k, len(w)))
        z = x @ w
        p = np.exp(z - z.max())
        gold = np.zeros(k, bool)
        gold[rng.choice(k, p=p / p.sum())] = True
        out.append(CaseRows(x, np.zeros(k), gold))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_the_conditional_logit_recovers_its_weights(seed: int) -> None:
    w = np.array([1.5, -0.7, 0.0, 0.4, 2.0, -1.0, 0.3, 0.8])
    model = fit_logit(synthetic_cases(seed, 3000, w), l2=0.1)
    np.testing.assert_allclose(model.coef / model.scale, w, atol=0.15)


def test_cross_validation_holds_out_and_calibrates() -> None:
    w = np.array([1.5, -0.7, 0.0, 0.4, 2.0, -1.0, 0.3, 0.8])
    cases = synthetic_cases(7, 600, w)
    folds = np.arange(len(cases)) % 3
    cv = cross_validate(cases, cases, folds, l2=0.1)
    assert len(cv.ranks) == len(cases) and all(r >= 1 for r in cv.ranks)
    p, y = np.concatenate(cv.top_p), np.concatenate(cv.top_gold)
    assert np.all((p >= 0) & (p <= 1)) and expected_calibration_error(p, y) < 0.05
    # held out, the fitted order beats a random one by far
    assert np.mean(np.asarray(cv.ranks) <= 1) > 0.3


@pytest.mark.parametrize("seed", range(6))
def test_grouped_folds_never_split_a_cohort_or_a_disease(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    ids = [int(x) for x in rng.integers(0, 40, n)]
    cohorts = [f"c{i}" for i in ids]
    # mostly the cohort's own disease; now and then one shared with another cohort
    diseases = [
        [f"d{i}"] + ([f"d{int(rng.integers(0, 40))}"] if rng.random() < 0.01 else []) for i in ids
    ]
    folds = grouped_folds(cohorts, diseases, 4)
    assert np.array_equal(folds, grouped_folds(cohorts, diseases, 4))  # deterministic
    for key in set(cohorts):
        assert len({folds[i] for i in range(n) if cohorts[i] == key}) == 1
    for key in {d for ds in diseases for d in ds}:
        assert len({folds[i] for i in range(n) if key in diseases[i]}) == 1
    with pytest.raises(ValueError):
        grouped_folds(cohorts, diseases, 1)


def test_gold_rank_counts_ties_against_the_gold_disease() -> None:
    scores = np.array([3.0, 2.0, 2.0, 1.0])
    assert gold_rank(scores, np.array([False, True, False, False])) == 3.0
    assert gold_rank(scores, np.array([False, True, True, False])) == 2.0
    assert gold_rank(scores, np.array([True, False, False, False])) == 1.0
    assert math.isinf(gold_rank(scores, np.zeros(4, bool)))


# --- a real case over a real excerpt of the HPO ----------------------------------------------------
@pytest.fixture(scope="module")
def hpo_excerpt() -> DiagnosticModel:
    from kgrag.ontology.hpo import load_hpo, load_hpoa

    concepts = load_hpo(FIXTURE / "hp_excerpt.obo").concepts
    terms = [c.id for c in concepts]
    index = {t: i for i, t in enumerate(terms)}
    rows = load_hpoa(FIXTURE / "phenotype_excerpt.hpoa").annotations
    diseases = sorted({r.disease_id for r in rows})
    d_index = {d: i for i, d in enumerate(diseases)}
    annotations = [
        Annotation(
            d_index[r.disease_id],
            index[r.phenotype_id],
            r.frequency,
            r.negated or r.frequency == 0.0,
            (r.reference,),
        )
        for r in rows
        if r.phenotype_id in index and r.aspect == "P"
    ]
    return DiagnosticModel(
        terms,
        [c.name for c in concepts],
        [[index[p] for p in c.parents if p in index] for c in concepts],
        diseases,
        diseases,
        annotations,
    )


def test_the_ensemble_ranks_a_published_case_first(hpo_excerpt: DiagnosticModel) -> None:
    model = hpo_excerpt
    case = json.loads((FIXTURE / "case.json").read_text(encoding="utf-8"))
    gold = case["diseases"][0]["term"]["id"]
    feats = case["phenotypicFeatures"]
    present = [model.term_index[f["type"]["id"]] for f in feats if not f.get("excluded")]
    absent = [model.term_index[f["type"]["id"]] for f in feats if f.get("excluded")]
    request = RankRequest(model.score(present, absent), present, absent)
    settings: Settings = load_settings()
    ranked = EnsembleRanker(model, settings).rank(request)
    assert ranked.order.index(gold) < 3, ranked.order[:5]
    probs = np.array([ranked.scores[d] for d in ranked.order])
    assert np.all((probs >= 0) & (probs <= 1)) and probs[0] > probs[-1]
    c = candidate_features(model, SemanticIndex(model), request, 200)
    assert c.features.shape == (len(c.diseases), len(FEATURES)) and np.isfinite(c.features).all()
