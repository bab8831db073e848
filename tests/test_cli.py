"""The CLI through Typer's CliRunner, on the real default concept table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from kgrag.cli import app

pytestmark = pytest.mark.slow


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


def test_link_text_and_batch(runner: CliRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = runner.invoke(app, ["link", "No fever but crushing chest pain.", "--json"])
    assert out.exit_code == 0, out.output
    mentions = json.loads(out.stdout)
    by_text = {m["text"]: m for m in mentions}
    assert by_text["fever"]["assertion"] == "absent"
    assert by_text["chest pain"]["assertion"] == "present"
    assert "HP:0100749" in by_text["chest pain"]["candidates"][0]["codes"]
    batch = tmp_path / "in.jsonl"
    batch.write_bytes(
        b'{"id": "a", "text": "History of type 2 diabetes."}\n'
        b'{"id": "b", "mention": "NIDDM"}\n'
        b"not json\n"
        b'{"id": "d"}\n'
        b"\xff\xfe\n"
        b'{"id": "f", "text": ""}\n'
    )
    result = tmp_path / "out.jsonl"
    out = runner.invoke(app, ["link", "--input", str(batch), "--output", str(result), "-k", "2"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in result.read_text().splitlines()]
    assert len(rows) == 6
    assert rows[0]["mentions"][0]["assertion"] == "historical"
    assert "MESH:D003924" in rows[1]["candidates"][0]["codes"]
    assert len(rows[1]["candidates"]) <= 2
    assert "error" in rows[2] and "error" in rows[3] and "UTF-8" in rows[4]["error"]
    assert rows[5] == {"id": "f", "mentions": []}
    assert "3 with errors" in out.output
    out = runner.invoke(app, ["link"])
    assert out.exit_code == 2


def test_link_adapts_to_a_training_corpus(runner: CliRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "No fever but crushing chest pain."
    start = text.index("fever")
    doc = f"1|t|{text}\n1|a|\n1\t{start}\t{start + 5}\tfever\tDisease\tD005334\n"
    corpus = tmp_path / "train.pubtator"
    corpus.write_text(doc + "\n" + doc.replace("1|", "2|").replace("1\t", "2\t"))
    out = runner.invoke(app, ["link", text, "--training", str(corpus), "--json"])
    assert out.exit_code == 0, out.output
    assert [m["text"] for m in json.loads(out.stdout)] == ["fever"]  # chest pain: never marked
    out = runner.invoke(app, ["link", text, "--json"])  # the shared linker is unchanged
    assert "chest pain" in {m["text"] for m in json.loads(out.stdout)}
    out = runner.invoke(app, ["link", text, "--training", str(tmp_path / "missing.txt")])
    assert out.exit_code == 2


def test_build_and_graph_commands(runner: CliRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'name = "small"\nencoder = "hashing"\n[[sources]]\nkind = "vocabularies"\n'
        '[[sources]]\nkind = "ddxplus"\n[[sources]]\nkind = "hpoa"\n'
    )
    kb = str(tmp_path / "kb")
    out = runner.invoke(app, ["build", str(recipe), "--store", kb, "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["status"] == "complete" and report["counts"]["nodes"]["Concept"] > 100_000
    again = json.loads(runner.invoke(app, ["build", str(recipe), "--store", kb, "--json"]).stdout)
    assert {s["status"] for s in again["sources"]} == {"skipped"}
    out = runner.invoke(app, ["graph", "findings", "DDX:pneumonia", "--store", kb, "--json"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert found["findings"] and any(
        c["source"] == "ddxplus" for f in found["findings"] for c in f["edge"]["claims"]
    )
    out = runner.invoke(app, ["graph", "ancestors", "ICD10CM:E11.9", "--store", kb, "--json"])
    tiers = {a["id"]: a["tier"] for a in json.loads(out.stdout)["ancestors"]}
    assert tiers.get("ICD10CM:CH04") == "category"
    out = runner.invoke(app, ["graph", "findings", "pneumonia", "--store", str(tmp_path / "none")])
    assert out.exit_code == 1 and "kgrag build" in out.output
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 1\n")
    assert runner.invoke(app, ["build", str(bad), "--store", kb]).exit_code == 2
    # retrieval over the same knowledge base: built with it, answered from it
    assert report["retrieval"]["diseases"] > 10
    out = runner.invoke(
        app,
        ["diagnose", "Fever and a productive cough. No chest pain.", "--store", kb, "--json", "-k", "3"],
    )
    assert out.exit_code == 0, out.output
    dx = json.loads(out.stdout)
    assert {f["name"].lower() for f in dx["query"]["present"]} >= {"fever"}
    assert len(dx["candidates"]) == 3 and dx["candidates"][0]["codes"]
    assert all(c["findings"] for c in dx["candidates"])
    out = runner.invoke(app, ["diagnose", "Fever and cough.", "--store", kb])
    assert out.exit_code == 0 and "differential" in out.stdout and "evidence" in out.stdout
    out = runner.invoke(app, ["diagnose", "Fever and cough.", "--store", kb, "--evidence", "none"])
    assert out.exit_code == 0 and "differential" in out.stdout and "evidence" not in out.stdout
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"id": "a", "text": "fever and cough"}\nnot json\n{"id": "c", "findings": [{"id": "NOPE:1"}]}\n'
        '{"id": "d", "findings": "HP:0001945"}\n'
    )
    result = tmp_path / "out.jsonl"
    out = runner.invoke(app, ["diagnose", "--input", str(cases), "--output", str(result), "--store", kb])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in result.read_text().splitlines()]
    assert lines[0]["id"] == "a" and lines[0]["candidates"]
    assert "error" in lines[1] and "NOPE:1" in lines[2]["error"] and "list" in lines[3]["error"]
    cases.write_text('not json\n{"id": "c", "findings": [{"id": "NOPE:1"}]}\n')
    out = runner.invoke(app, ["diagnose", "--input", str(cases), "--output", str(result), "--store", kb])
    assert out.exit_code == 1 and "2 with errors" in out.output  # nothing came out of the batch
    assert len(result.read_text().splitlines()) == 2  # every line still has its error record
    out = runner.invoke(app, ["retrieve", "fever and cough", "--store", kb, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["diseases"]
    assert runner.invoke(app, ["diagnose", "--store", kb]).exit_code == 2
    out = runner.invoke(app, ["diagnose", "nothing clinical here", "--store", kb])
    assert out.exit_code == 2 and "present finding" in out.output


def test_evidence_tree_marks_direction_in_words_and_absence_apart() -> None:
    """The text evidence tree: ``for``/``against`` (the sign of the log LR) never ``+``/``-``,
    so an absent finding that speaks for a disease does not read as present; the legend says so."""
    from rich.console import Console

    from kgrag.cli.diagnose import _evidence_tree
    from kgrag.retrieval.types import (
        EVIDENCE_LEGEND,
        ConceptRef,
        DiagnosisCandidate,
        EvidenceBundle,
        FindingEvidence,
        QueryFindings,
    )

    def finding(name: str, absent: bool, log_lr: float, not_shown: bool = False) -> FindingEvidence:
        ref = ConceptRef(id=f"HP:{name}", name=name)
        return FindingEvidence(
            finding=ref, absent=absent, log_lr=log_lr, not_shown=not_shown, matched=None, annotated=None
        )

    candidate = DiagnosisCandidate(
        rank=1,
        concept_id="UMLS:C0000001",
        name="Some disease",
        codes=[],
        score=0.9,
        probability=0.5,
        findings=[
            finding("Cough", False, 1.2),
            finding("Fever", True, 0.4),  # absent, and its absence speaks for the disease
            finding("Headache", True, -0.5),
            finding("Rash", False, -1.1, not_shown=True),
        ],
    )
    bundle = EvidenceBundle(query=QueryFindings(), diseases=[candidate], passages=[])
    out = Console(record=True, width=200)
    out.print(_evidence_tree(bundle))
    lines = [line.split("── ", 1)[-1] for line in out.export_text().splitlines()]
    assert lines[0] == f"evidence  ({EVIDENCE_LEGEND})"
    assert lines[2:] == [
        "for     Cough  log LR +1.20",
        "for     absent Fever  log LR +0.40",
        "against absent Headache  log LR -0.50",
        "against Rash (the disease does not show it)  log LR -1.10",
    ]
    # the notebook renderers mark findings the same way
    from kgrag._render import markdown_tree
    from kgrag.retrieval.types import _evidence_tree as notebook_tree

    markdown = markdown_tree(notebook_tree([candidate]))
    assert "- for: absent Fever (log LR +0.40)" in markdown and "+ absent" not in markdown


def test_no_help_shows_restructuredtext() -> None:
    """``--help`` of kgrag and of every (sub)command is plain text: the docstrings' ````x````
    literals and ``:func:`x``` roles are not shown as typed."""
    import typer

    def paths(command: Any, path: list[str]) -> list[list[str]]:  # typer's own click Command
        found = [path]
        for name, sub in (getattr(command, "commands", None) or {}).items():  # a group's
            found += paths(sub, [*path, name])
        return found

    every = paths(typer.main.get_command(app), [])
    assert ["serve"] in every and ["concepts", "search"] in every and len(every) > 12
    runner = CliRunner()
    for path in every:
        out = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert out.exit_code == 0, (path, out.output)
        assert "``" not in out.output and ":func:`" not in out.output, (path, out.output)
