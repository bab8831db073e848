"""`kgrag link` (CLI) and the API give the same answer for the same input and options.

What benchmarks/linking.py and benchmarks/assertion.py measure is what a user gets, whichever
door they use: each input of a varied set (running text with negations, lists and sections,
misspellings, abbreviations a document defines, mentions with and without context, targets)
goes through `kgrag link --input` (Typer's CliRunner, the real command) and through
`kgrag.link` / `kgrag.normalize` / `kgrag.assert_spans`, under several options, and the JSON
of both must be equal. Real default concept table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import kgrag
from kgrag.cli import app

pytestmark = pytest.mark.slow

TEXTS = (
    "No fever but crushing chest pain.",
    "She no longer has chest pain. He does not drive because of epilepsy.",
    "Past history notable for asthma, gout, hypertension and type 2 diabetes.",
    "Call for any leg swelling, new rash, nausea, fever over 101, or chest pain.",
    "FAMILY HISTORY: Mother with breast cancer.\nPAST MEDICAL HISTORY: Crohn's disease.",
    "Acute myocardial infarction (AMI) was ruled out; AMI risk remains.",
    "The fever returns each evening. Hemoglobin 7.9 g/dL.",
)
MENTIONS = (
    ("Chron's disease", None),
    ("alzheimers", None),
    ("heart attack", None),
    ("AMI", "History of acute myocardial infarction (AMI)."),
    ("rhuematoid arthritis", None),
    ("type 2 diabetes", None),
)
TARGETS = (
    ("He no longer has seizures.", [(17, 25)]),
    ("Denies fever or chills; has cough.", [(7, 12), (16, 22), (28, 33)]),
)
OPTIONS: tuple[tuple[list[str], list[str]], ...] = (([], []), (["MESH", "OMIM"], []), ([], ["disease"]))


def _cli(runner: CliRunner, tmp_path: Path, records: list[dict[str, Any]], args: list[str]) -> list[Any]:
    batch, result = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = runner.invoke(app, ["link", "--input", str(batch), "--output", str(result), *args])
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in result.read_text().splitlines()]


def _options(vocab: list[str], kinds: list[str]) -> tuple[list[str], dict[str, Any]]:
    args = [a for v in vocab for a in ("--vocab", v)] + [a for k in kinds for a in ("--kinds", k)]
    return args, {"vocab": vocab or None, "kinds": kinds or None}


def _dump(items: list[Any]) -> list[Any]:
    return [m.model_dump(mode="json") for m in items]


@pytest.mark.parametrize(("vocab", "kinds"), OPTIONS, ids=["default", "mesh-omim", "disease"])
def test_batch_equals_api(runner: CliRunner, tmp_path: Path, vocab: list[str], kinds: list[str]) -> None:
    args, opts = _options(vocab, kinds)
    records: list[dict[str, Any]] = [{"id": f"t{i}", "text": t} for i, t in enumerate(TEXTS)]
    records += [{"id": f"m{i}", "mention": m, "context": c} for i, (m, c) in enumerate(MENTIONS)]
    records += [
        {"id": f"s{i}", "text": t, "targets": [{"start": s, "end": e} for s, e in spans]}
        for i, (t, spans) in enumerate(TARGETS)
    ]
    got = {r["id"]: r for r in _cli(runner, tmp_path, records, args)}
    for i, text in enumerate(TEXTS):
        assert got[f"t{i}"]["mentions"] == _dump(kgrag.link(text, **opts)), text
    for i, (mention, context) in enumerate(MENTIONS):
        want = _dump(kgrag.normalize(mention, context, 5, **opts))
        assert got[f"m{i}"]["candidates"] == want, mention
    for i, (text, spans) in enumerate(TARGETS):
        assert got[f"s{i}"]["mentions"] == _dump(kgrag.assert_spans(text, spans, **opts)), text


@pytest.mark.parametrize("k", [1, 3])
def test_top_k_equals_api(runner: CliRunner, tmp_path: Path, k: int) -> None:
    """`-k` gives the API's `normalize(k=...)`."""
    records = [{"id": i, "mention": m, "context": c} for i, (m, c) in enumerate(MENTIONS)]
    got = _cli(runner, tmp_path, records, ["-k", str(k)])
    for record, (mention, context) in zip(got, MENTIONS, strict=True):
        assert record["candidates"] == _dump(kgrag.normalize(mention, context, k)), mention


def test_cli_top_k_leaves_the_api_alone(runner: CliRunner) -> None:
    """A later API call in the same process still gets its own default top k."""
    text = "Alzheimer disease with psoriasis and leukemia, no diabetes."
    before = _dump(kgrag.link(text))
    assert any(len(m["candidates"]) > 1 for m in before)  # else -k 1 could not show
    out = runner.invoke(app, ["link", text, "--json", "-k", "1"])
    assert out.exit_code == 0, out.output
    assert all(len(m["candidates"]) <= 1 for m in json.loads(out.stdout))
    assert _dump(kgrag.link(text)) == before, "the CLI's -k changed what the API answers"
