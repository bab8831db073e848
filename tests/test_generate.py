"""The generate stage on a small real knowledge base (embedded store, hashing encoder):
the output schema, the quote matcher, the verifier against an adversarial scripted LLM,
re-asks and fallbacks, the OpenAI-compatible backend against a real local HTTP server,
and a property test that whatever the LLM returns, every citation in the final report
reads verbatim from the stored text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _generate_kb import (
    DOCS,
    PATIENT,
    HttpScript,
    ScriptedLLM,
    answer_json,
    assert_grounded,
    chat_body,
    serve,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrag.errors import ConfigError, LLMTimeout, LLMUnavailable
from kgrag.generate.answer import GenerateOptions, answer_with, ground
from kgrag.generate.backends import llm_from_spec
from kgrag.generate.evidence import EvidencePack, evidence_pack
from kgrag.generate.openai_http import OpenAICompatibleLLM
from kgrag.generate.prompt import MAX_ENUM, lint_schema, output_schema
from kgrag.generate.quotes import find_quote
from kgrag.generate.types import MARKER, Completion, GroundedDiagnosis
from kgrag.generate.verify import MappingDocuments, StoreDocuments, check_report
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.types import EvidenceBundle

EPI_FACT = "epileptic encephalopathy shows seizures in 90% of patients"
EPI_QUOTE = "infants have frequent seizures and marked hypotonia"
MYO_QUOTE = "babies are floppy with hypotonia"


def ids(pack: EvidencePack) -> dict[str, str]:
    """Evidence id by what it is: the epilepsy fact and the three passages' documents."""
    out = {}
    for item in pack.items:
        if item.kind == "fact" and item.text.startswith(EPI_FACT):
            out["epi_fact"] = item.id
        elif item.kind == "passage":
            out[str(item.document)] = item.id
    return out


def run(dx: Diagnoser, bundle: EvidenceBundle, llm: Any, **options: Any) -> GroundedDiagnosis:
    report = ground(bundle, StoreDocuments(dx.store), llm, GenerateOptions(**options))
    assert_grounded(report, dx)
    return report


# -- schema and prompt -------------------------------------------------------------------
def test_output_schema_passes_the_lint(pack: EvidencePack) -> None:
    schema = output_schema(pack)
    assert lint_schema(schema) == []
    cite = schema["properties"]["diagnoses"]["items"]["properties"]["citations"]["items"]
    assert cite["properties"]["evidence"]["enum"] == [i.id for i in pack.items]
    dx_ids = schema["properties"]["diagnoses"]["items"]["properties"]["id"]["enum"]
    assert dx_ids == [c.id for c in pack.candidates] + ["other"]
    assert lint_schema(output_schema(pack, ids_as_enums=False)) == []


def test_the_lint_refuses_what_llama_cpp_skips() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "pattern": "x+"},
            "b": {"type": "array", "uniqueItems": True},
            "c": {"enum": list(range(300))},
        },
        "required": ["a"],
    }
    problems = " | ".join(lint_schema(bad))
    for word in ("'pattern'", "'uniqueItems'", "enum of 300", "additionalProperties", "required"):
        assert word in problems
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(4):
        deep = {
            "type": "object",
            "properties": {"x": deep},
            "required": ["x"],
            "additionalProperties": False,
        }
    assert any("nested 4 deep" in p for p in lint_schema(deep))


def test_enums_are_capped(bundle: EvidenceBundle) -> None:
    many = bundle.model_copy(
        update={
            "passages": [
                p.model_copy(update={"start": p.start + i % 3, "document": f"{p.document}{i}"})
                for i in range(300)
                for p in bundle.passages[:1]
            ]
        }
    )
    schema = output_schema(evidence_pack(many, max_passages=300))
    cite = schema["properties"]["diagnoses"]["items"]["properties"]["citations"]["items"]
    assert len(cite["properties"]["evidence"]["enum"]) == MAX_ENUM
    assert lint_schema(schema) == []


# -- quotes ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("quote", "found", "distance"),
    [
        ("frequent seizures and marked", "frequent seizures and marked", 0),
        ("FREQUENT   Seizures\nand marked.", "frequent seizures and marked", 0),
        ("“frequent seizures”", "frequent seizures", 0),
        ("frequent siezures and marked", "frequent seizures and marked", 2),
        ("frequent seizures and markedly severe", None, None),
        ("an itchy rash and fever", None, None),  # from another document
    ],
)
def test_find_quote(quote: str, found: str | None, distance: int | None) -> None:
    text = DOCS["doc:epi"][2]
    m = find_quote(quote, text)
    if found is None:
        assert m is None
    else:
        assert m is not None and text[m.start : m.end] == found and m.distance == distance


# -- the verifier against an adversarial LLM ------------------------------------------
def test_a_good_answer_is_verified(dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack) -> None:
    e = ids(pack)
    llm = ScriptedLLM(
        [
            answer_json(
                (
                    "D_EPI",
                    "epileptic encephalopathy",
                    [(e["epi_fact"], EPI_FACT), (e["doc:epi"], EPI_QUOTE)],
                ),
                ("D_MYO", "congenital myopathy", [(e["doc:myo"], "babies are flopy with hypotonia")]),
                rationale="seizures with hypotonia [1]",
            )
        ]
    )
    r = run(dx, bundle, llm)
    assert r.source == "llm" and r.verified and r.status == "answered"
    assert [c.concept_id for c in r.diagnoses] == ["D_EPI", "D_MYO"]
    assert r.counts.citations_returned == 3 and r.counts.citations_verified == 3
    assert r.counts.citations_reanchored == 1  # "flopy" -> the source's "floppy"
    assert any(c.quote == MYO_QUOTE and c.reanchored for c in r.citations)
    assert all(c.rationale == "seizures with hypotonia" for c in r.diagnoses)
    assert "[1]" in r.text and r._repr_markdown_().startswith("1. **epileptic")


def test_invented_and_misquoted_citations_are_rejected(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    e = ids(pack)
    llm = ScriptedLLM(
        [
            answer_json(
                (
                    "D_EPI",
                    "epileptic encephalopathy",
                    [
                        ("F99", EPI_FACT),  # invented id
                        (e["doc:epi"], "infants recover completely within weeks"),  # not in the source
                        (e["epi_fact"], EPI_FACT),
                    ],
                ),
                (
                    "D_MYO",
                    "congenital myopathy",
                    [
                        (e["doc:epi"], MYO_QUOTE),  # from another passage
                        (e["doc:myo"], "floppy"),  # too short to prove anything
                    ],
                ),
            )
        ]
    )
    r = run(dx, bundle, llm)
    reasons = sorted(x.reason for x in r.rejected)
    assert reasons == ["quote_not_found", "quote_not_found", "quote_too_short", "unknown_evidence"]
    assert r.counts.citations_dropped == 4 and r.counts.citations_verified == 1
    assert [c.concept_id for c in r.diagnoses] == ["D_EPI"] and r.removed[0].concept_id == "D_MYO"
    assert [c.quote for c in r.citations] == [EPI_FACT]


def test_a_right_quote_for_the_wrong_disease_supports_nothing(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    e = ids(pack)
    llm = ScriptedLLM(
        [
            answer_json(
                ("D_MYO", "congenital myopathy", [(e["epi_fact"], EPI_FACT), (e["doc:epi"], EPI_QUOTE)]),
                ("D_EPI", "epileptic encephalopathy", [(e["epi_fact"], EPI_FACT)]),
            )
        ]
    )
    r = run(dx, bundle, llm)
    assert [c.concept_id for c in r.diagnoses] == ["D_EPI"]
    (removed,) = r.removed
    assert removed.concept_id == "D_MYO" and not removed.supported
    assert "about congenital myopathy" in removed.support
    assert r.counts.claims_unsupported == 1 and r.counts.claims_removed == 1
    flagged = run(dx, bundle, llm, unsupported="flag")
    assert [c.supported for c in flagged.diagnoses] == [False, True] and not flagged.verified


def test_named_findings_must_be_covered(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    e = ids(pack)
    claim = ("D_EPI", "epileptic encephalopathy", [(e["epi_fact"], EPI_FACT)])
    named_covered = run(dx, bundle, ScriptedLLM([answer_json(claim, rationale="explains the seizures")]))
    assert named_covered.diagnoses[0].supported
    myo = ("D_MYO", "congenital myopathy", [(e["doc:myo"], MYO_QUOTE)])
    uncovered = run(
        dx,
        bundle,
        ScriptedLLM([answer_json(claim, myo, rationale="explains the hypotonia")]),
        unsupported="flag",
    )
    assert not uncovered.diagnoses[0].supported and "hypotonia" in uncovered.diagnoses[0].support
    assert uncovered.diagnoses[1].supported and uncovered.source == "llm"


def test_other_diagnoses_are_checked_by_name(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    e = ids(pack)
    llm = ScriptedLLM(
        [
            answer_json(
                ("other", "Epileptic Encephalopathy", [(e["doc:epi"], EPI_QUOTE)]),  # a candidate's name
                ("other", "Dravet syndrome", [(e["doc:epi"], EPI_QUOTE)]),  # the passage never names it
            )
        ]
    )
    r = run(dx, bundle, llm, unsupported="flag")
    assert r.diagnoses[0].concept_id == "D_EPI" and r.diagnoses[0].supported
    assert r.diagnoses[1].concept_id is None and not r.diagnoses[1].supported


def test_markers_the_model_writes_are_not_trusted(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    e = ids(pack)
    llm = ScriptedLLM(
        [
            answer_json(
                ("D_EPI", "epileptic encephalopathy [9]", [(e["epi_fact"], EPI_FACT)]),
                rationale="see [3] and [F1, P2] and [7[8]]",
            )
        ]
    )
    r = run(dx, bundle, llm)
    assert r.diagnoses[0].name == "epileptic encephalopathy"
    assert MARKER.findall(r.body) == ["1"]


def test_malformed_then_valid_json_is_reasked(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    good = answer_json(("D_EPI", "epileptic encephalopathy", [(ids(pack)["epi_fact"], EPI_FACT)]))
    llm = ScriptedLLM(['{"diagnoses": [', "", good])
    r = run(dx, bundle, llm)
    assert r.source == "llm" and r.attempts == 3 and r.verified
    assert "malformed JSON" in r.errors[0] and "empty" in r.errors[1]
    assert "malformed JSON" in llm.calls[1][-1].content  # the error went back to the model
    assert llm.calls[1][-2].role == "assistant"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            Completion(
                text='{"insufficient_evidence": false, "diagnoses": [{"id"',
                finish_reason="length",
                completion_tokens=16,
            ),
            "cut off",
        ),
        ('{"insufficient_evidence": false, "diagnoses": [{"id": "D_EPI"}]}', "schema violation"),
        ('{"insufficient_evidence": false, "diagnoses": [], "extra": 1}', "schema violation"),
        ("[1, 2", "malformed JSON"),
        ("Sure! The diagnosis is epilepsy.", "malformed JSON"),
    ],
)
def test_never_valid_falls_back_after_two_reasks(
    dx: Diagnoser, bundle: EvidenceBundle, reply: Any, error: str
) -> None:
    llm = ScriptedLLM([reply])
    r = run(dx, bundle, llm)
    assert len(llm.calls) == 3 and r.attempts == 3
    assert r.source == "extractive" and r.verified and error in (r.reason or "")
    assert all(error in e for e in r.errors)


@pytest.mark.parametrize("failure", [LLMTimeout("slow"), LLMUnavailable("down")])
def test_backend_failures_fall_back(dx: Diagnoser, bundle: EvidenceBundle, failure: Exception) -> None:
    r = run(dx, bundle, ScriptedLLM([failure]))
    assert r.source == "extractive" and r.verified and "the LLM failed" in (r.reason or "")


def test_no_supported_claim_falls_back_with_the_models_counts(
    dx: Diagnoser, bundle: EvidenceBundle
) -> None:
    r = run(
        dx,
        bundle,
        ScriptedLLM(
            [answer_json(("D_EPI", "epileptic encephalopathy", [("F42", "made up text entirely")]))]
        ),
    )
    assert r.source == "extractive" and r.model_counts is not None
    assert r.model_counts.citations_dropped == 1 and r.model_counts.claims_unsupported == 1


def test_abstains_without_present_findings_or_on_weak_evidence(
    dx: Diagnoser, bundle: EvidenceBundle
) -> None:
    llm = ScriptedLLM([RuntimeError("must not be called")])
    none = answer_with(dx, None, [{"id": "F_FEVER", "excluded": True}], llm=llm)
    assert none.status == "insufficient_evidence" and "no present finding" in (none.reason or "")
    weak = run(dx, bundle, llm, abstain_log_lr=50, abstain_passage_score=0.99)
    assert weak.status == "insufficient_evidence" and "too weak" in (weak.reason or "")
    assert not llm.calls
    said = run(dx, bundle, ScriptedLLM([answer_json(insufficient=True)]))
    assert said.status == "insufficient_evidence" and said.source == "llm"


def test_a_changed_document_invalidates_its_passages(pack: EvidencePack, bundle: EvidenceBundle) -> None:
    e = ids(pack)
    changed = {d: text.replace("frequent", "rare") for d, (_, _, text) in DOCS.items()}
    llm = ScriptedLLM([answer_json(("D_EPI", "epileptic encephalopathy", [(e["doc:epi"], EPI_QUOTE)]))])
    r = ground(bundle, MappingDocuments(changed), llm, GenerateOptions())
    assert [x.reason for x in r.rejected] == ["source_unavailable"]


def test_check_report_catches_tampering(
    dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    r = run(dx, bundle, None)
    docs = StoreDocuments(dx.store)
    assert check_report(r.body, r.citations, pack, docs) == []
    forged = [c.model_copy(update={"quote": c.quote + "!"}) for c in r.citations]
    assert check_report(r.body, forged, pack, docs)
    assert check_report(r.body + " [99]", r.citations, pack, docs)


# -- the property: whatever the LLM returns ------------------------------------------
def _quotes(pack: EvidencePack) -> st.SearchStrategy[str]:
    texts = [i.text for i in pack.items]
    spans = st.sampled_from(texts).flatmap(
        lambda t: st.tuples(st.integers(0, len(t)), st.integers(0, 80)).map(
            lambda ab: t[ab[0] : ab[0] + ab[1]]
        )
    )
    mutated = st.tuples(spans, st.integers(0, 200), st.characters()).map(
        lambda x: x[0][: x[1] % (len(x[0]) + 1)] + x[2] + x[0][x[1] % (len(x[0]) + 1) + 1 :]
    )
    return st.one_of(spans, mutated, st.text(max_size=60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_returned_citation_verifies(
    data: st.DataObject, dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    evidence = st.one_of(st.sampled_from([i.id for i in pack.items]), st.text(max_size=4))
    citation = st.fixed_dictionaries({"evidence": evidence, "quote": _quotes(pack)})
    diagnosis = st.fixed_dictionaries(
        {
            "id": st.one_of(
                st.sampled_from([c.id for c in pack.candidates] + ["other"]), st.text(max_size=6)
            ),
            "name": st.one_of(st.sampled_from([c.name for c in pack.candidates]), st.text(max_size=20)),
            "likelihood": st.sampled_from(["high", "medium", "low"]),
            "rationale": st.text(max_size=60),
            "citations": st.lists(citation, max_size=4),
        }
    )
    answer = st.fixed_dictionaries(
        {"insufficient_evidence": st.booleans(), "diagnoses": st.lists(diagnosis, max_size=4)}
    )
    replies = data.draw(
        st.lists(st.one_of(answer.map(json.dumps), st.text(max_size=30)), min_size=1, max_size=3)
    )
    r = run(dx, bundle, ScriptedLLM(replies), unsupported=data.draw(st.sampled_from(["remove", "flag"])))
    assert check_report(r.body, r.citations, pack, StoreDocuments(dx.store)) == []
    for c in r.citations:
        item = pack.item(c.evidence)
        assert item is not None
        if c.kind == "fact":
            assert item.text[c.start : c.end] == c.quote
    if r.verified:
        assert all(c.supported for c in r.diagnoses)


# -- the OpenAI-compatible backend against a real local HTTP server ---------------------
@pytest.fixture()
def http() -> Iterator[tuple[HttpScript, str]]:
    script = HttpScript([])
    gen = serve(script)
    url = next(gen)
    yield script, url
    gen.close()


def _client(url: str, **kw: Any) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(url, "m", backoff=0.01, **kw)


def test_http_retries_429_and_500_then_answers(
    http: tuple[HttpScript, str], dx: Diagnoser, bundle: EvidenceBundle, pack: EvidencePack
) -> None:
    script, url = http
    good = answer_json(("D_EPI", "epileptic encephalopathy", [(ids(pack)["epi_fact"], EPI_FACT)]))
    script.script[:] = [
        (429, {"error": "slow down"}, {"Retry-After": "0"}, 0.0),
        (500, "boom", {}, 0.0),
        (200, chat_body(good), {}, 0.0),
    ]
    r = run(dx, bundle, _client(url, max_retries=2))
    assert r.source == "llm" and r.verified and len(script.requests) == 3
    body = script.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == output_schema(pack)


def test_http_errors_after_the_retries_fall_back(
    http: tuple[HttpScript, str], dx: Diagnoser, bundle: EvidenceBundle
) -> None:
    script, url = http
    script.script[:] = [(503, "unavailable", {}, 0.0)]
    r = run(dx, bundle, _client(url, max_retries=1))
    assert len(script.requests) == 2 and r.source == "extractive" and "503" in (r.reason or "")


def test_http_timeouts_are_bounded(http: tuple[HttpScript, str]) -> None:
    script, url = http
    script.script[:] = [(200, chat_body("{}"), {}, 1.0)]
    with pytest.raises(LLMTimeout):
        _client(url, max_retries=1).complete([], None, timeout=0.2)
    assert len(script.requests) == 2


def test_http_unreachable_server() -> None:
    with pytest.raises(LLMUnavailable, match="is the server running"):
        _client("http://127.0.0.1:9/v1", max_retries=0).complete([], None, timeout=2)


@pytest.mark.parametrize("status", [400, 422, 500])
def test_http_falls_back_to_json_object(
    http: tuple[HttpScript, str], pack: EvidencePack, status: int
) -> None:
    script, url = http
    script.script[:] = [
        (status, {"error": "response_format json_schema not supported"}, {}, 0.0),
        (200, chat_body("{}"), {}, 0.0),
    ]
    llm = _client(url)
    assert llm.complete([], output_schema(pack)).text == "{}"
    assert script.requests[1]["response_format"] == {
        "type": "json_object",
        "schema": output_schema(pack),
    }
    assert llm.response_format == "json_object"


def test_http_never_shows_the_key(
    http: tuple[HttpScript, str], caplog: pytest.LogCaptureFixture
) -> None:
    script, url = http
    script.script[:] = [(500, "x", {}, 0.0), (200, chat_body("hi"), {}, 0.0)]
    caplog.set_level(logging.DEBUG)
    llm = _client(url, api_key="sk-secret-123", max_retries=1)
    assert llm.complete([], None).text == "hi"
    assert script.headers[-1]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in caplog.text and "sk-secret" not in repr(llm)


def test_llm_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = llm_from_spec("openai://127.0.0.1:8080/qwen?format=json_object")
    assert isinstance(llm, OpenAICompatibleLLM)
    assert llm.base_url == "http://127.0.0.1:8080/v1" and llm.model == "qwen"
    assert llm.response_format == "json_object"
    assert llm_from_spec("none") is None and llm_from_spec(None) is None
    for bad in ("openai://host", "gpt-4", "openai://h:1/m?format=xml"):
        with pytest.raises(ConfigError):
            llm_from_spec(bad)
    with pytest.raises(LLMUnavailable):
        llm_from_spec(str(Path("/nonexistent/model.gguf")))


# -- the command line --------------------------------------------------------------------
def test_cli_diagnose_with_llm_and_eval(
    http: tuple[HttpScript, str], dx: Diagnoser, pack: EvidencePack, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from kgrag.cli import app

    store = str(dx.store.directory)  # type: ignore[attr-defined]
    script, url = http
    good = answer_json(("D_EPI", "epileptic encephalopathy", [(ids(pack)["epi_fact"], EPI_FACT)]))
    script.script[:] = [(200, chat_body(good), {}, 0.0)]
    spec = url.replace("http://", "openai://").replace("/v1", "/m")
    runner = CliRunner()
    args = ["diagnose", "-f", "F_SEIZ", "-f", "F_HYPO", "-a", "F_FEVER", "--store", store]
    out = runner.invoke(app, [*args, "--llm", spec])
    assert out.exit_code == 0, out.output
    assert "epileptic encephalopathy" in out.output and "verified" in out.output
    assert f'"{EPI_FACT}"' in " ".join(out.output.split())
    out = runner.invoke(app, [*args, "--llm", "none", "--json"])
    report = GroundedDiagnosis.model_validate_json(out.stdout)
    assert report.source == "extractive" and report.verified
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps({"id": "a", "findings": PATIENT, "gold": ["D_EPI"]})
        + "\n"
        + json.dumps({"id": "b", "findings": [{"id": "F_FEVER", "excluded": True}]})
        + "\n"
    )
    batch = tmp_path / "out.jsonl"
    out = runner.invoke(
        app, ["diagnose", "--input", str(cases), "--output", str(batch), "--store", store, "--llm", spec]
    )
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in batch.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["answered", "insufficient_evidence"]
    metrics_file = tmp_path / "m.json"
    out = runner.invoke(
        app,
        [
            "eval",
            "generation",
            "--cases",
            str(cases),
            "--llm",
            spec,
            "--store",
            store,
            "-o",
            str(metrics_file),
        ],
    )
    assert out.exit_code == 0, out.output
    m = json.loads(metrics_file.read_text())
    assert m["cases"] == 2 and m["citation_validity"] == 100.0 and m["abstention_rate"] == 50.0
    assert m["top1"] == 100.0 and m["retrieval_top1"] == 100.0 and m["json_valid_first"] == 100.0
