"""Shared fixtures. Nothing here downloads: the vocabularies are the shipped files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgrag.config import Settings, load_settings
from kgrag.ontology.table import ConceptTable

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
