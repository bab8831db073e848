"""The CLI through Typer's CliRunner, on the real default concept table."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kgrag.cli import app
from kgrag.config import Settings, get_settings

pytestmark = pytest.mark.slow


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch, default_settings: Settings) -> CliRunner:
    monkeypatch.setenv("KGRAG_CACHE_DIR", str(default_settings.cache_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_info_json(runner: CliRunner) -> None:
    out = runner.invoke(app, ["info", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["concepts"]["concepts"] > 100_000
    assert {s["name"] for s in data["sources"]} >= {"HP", "MONDO", "ICD10CM"}


def test_info_table(runner: CliRunner) -> None:
    out = runner.invoke(app, ["info"])
    assert out.exit_code == 0 and "Human Phenotype Ontology (version 2025-01-16)" in out.stdout


def test_concepts_search_and_get(runner: CliRunner) -> None:
    out = runner.invoke(app, ["concepts", "search", "heart attack", "--json", "-n", "3"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.stdout)
    assert hits[0]["name"].lower() == "myocardial infarction"
    out = runner.invoke(app, ["concepts", "get", "MIM:125853", "--json"])
    assert json.loads(out.stdout)["id"] == "UMLS:C0011860"
    out = runner.invoke(app, ["concepts", "search", "heart attack"])
    assert "myocardial" in out.stdout.lower()


def test_bad_input_exit_codes(runner: CliRunner) -> None:
    out = runner.invoke(app, ["concepts", "get", "MESH:D999999999"])
    assert out.exit_code == 2 and "no concept with id or code" in out.output
    out = runner.invoke(app, ["concepts", "search", "   "])
    assert out.exit_code == 2
    out = runner.invoke(app, ["concepts", "search", "zzqxqzzqxq", "--kind", "finding"])
    assert out.exit_code == 1 and "no concept matches" in out.output
