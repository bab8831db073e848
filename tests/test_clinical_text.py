"""Clinical-note examples on the real default concept table: detection across list
punctuation, all-capital notes, abbreviations, Greek letters, lab values and phrasing,
sections, targets mode (API and batch CLI), the target vocabulary, input sanitation and
the relevance floor of concept search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgrag.config import Settings, get_settings
from kgrag.index.encoders import HashingEncoder
from kgrag.linking.lay_terms import LayTerm, lay_terms
from kgrag.linking.linker import ConceptLinker, InvalidSpan
from kgrag.ontology.table import ConceptTable
from kgrag.types import Assertion, Mention

A = Assertion
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def linker(table: ConceptTable) -> ConceptLinker:
    return ConceptLinker(table)


def by_text(mentions: list[Mention]) -> dict[str, Mention]:
    return {m.text: m for m in mentions}


def test_long_denial_list_and_what_follows(linker: ConceptLinker) -> None:
    text = (
        "Productive cough. Denies fever, chills, night sweats, weight loss, headache, sore "
        "throat, chest pain, palpitations, orthopnea, nausea, vomiting, diarrhea, dysuria, "
        "hematuria or rash."
    )
    mentions = linker.link(text)
    assert mentions[0].text == "Productive cough" and mentions[0].assertion is A.PRESENT
    after = [m for m in mentions if m.start > text.index("Denies")]
    assert len(after) >= 12
    assert {m.assertion for m in after} == {A.ABSENT}, [(m.text, m.assertion) for m in after]
    for word in ("hematuria", "rash", "dysuria", "diarrhea"):
        assert by_text(mentions)[word].assertion is A.ABSENT


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("Chills: none.", "Chills", A.ABSENT),
        ("Cough: no.", "Cough", A.ABSENT),
        ("Chest pain: denies.", "Chest pain", A.ABSENT),
        ("Asthma: negative.", "Asthma", A.ABSENT),
        ("Chest pain was denied.", "Chest pain", A.ABSENT),
        ("The child is negative for asthma.", "asthma", A.ABSENT),
        ("He was ruled out for myocardial infarction.", "myocardial infarction", A.ABSENT),
        ("The siblings are negative for cystic fibrosis.", "cystic fibrosis", A.ABSENT),
        ("It is likely pneumonia.", "pneumonia", A.POSSIBLE),
    ],
)
def test_post_posed_and_copular_cues(
    linker: ConceptLinker, text: str, target: str, expected: Assertion
) -> None:
    assert by_text(linker.link(text))[target].assertion is expected


def test_matches_stop_at_list_commas(linker: ConceptLinker, table: ConceptTable) -> None:
    mentions = linker.link("Has hypertension, pulmonary embolism and asthma.")
    assert [m.text for m in mentions] == ["hypertension", "pulmonary embolism", "asthma"]
    assert "pulmonary hypertension" not in {m.best.name.lower() for m in mentions if m.best}
    mentions = linker.link("Denies fever, seizures, or rash.")
    assert [m.text for m in mentions] == ["fever", "seizures", "rash"]
    assert {m.assertion for m in mentions} == {A.ABSENT}
    assert all("febrile" not in (m.best.name.lower() if m.best else "") for m in mentions)


def test_all_capital_note(linker: ConceptLinker) -> None:
    text = "CHIEF COMPLAINT: PRODUCTIVE COUGH. THE PATIENT IS 80. ALL OTHER SYSTEMS REVIEWED."
    mentions = linker.link(text)
    assert [m.text for m in mentions] == ["PRODUCTIVE COUGH"]
    assert mentions[0].section == "chief_complaint"
    # in mixed-case text an all-caps acronym still links
    assert any(m.text == "ALL" for m in linker.link("Relapsed ALL in a child."))


def test_abbreviation_long_form_and_span(linker: ConceptLinker) -> None:
    mentions = linker.link("Systemic sclerosis (SS) was diagnosed. SS affects the skin.")
    ss = [m for m in mentions if m.text == "SS"]
    long_form = by_text(mentions)["Systemic sclerosis"].best
    assert len(ss) == 2 and long_form is not None
    assert {m.best.concept_id for m in ss if m.best} == {long_form.concept_id}
    text = "Chronic kidney disease (CKD) progressed."
    first = linker.link(text)[0]
    assert first.text == "Chronic kidney disease" and first.end == text.index(" (")


def test_greek_letters_are_words(linker: ConceptLinker) -> None:
    text = "Diagnosed with α-thalassemia; findings fit α-mannosidosis rather than β-mannosidosis."
    mentions = linker.link(text)
    ids = [m.best.concept_id for m in mentions if m.best]
    assert len(mentions) == 3 and len(set(ids)) == 3, [(m.text, m.best) for m in mentions]
    names = [m.best.name.lower() for m in mentions if m.best]
    assert "alpha" in names[0] and "alpha" in names[1] and "beta" in names[2]


@pytest.mark.parametrize(
    ("text", "hpo", "value"),
    [
        ("increased Phenylalanine in blood", "HP:0004923", None),
        ("increased Ammonia in serum/plasma", "HP:0001987", None),
        ("increased Orotic acid in urine", "HP:0003218", None),
        ("Na 122 mmol/L", "HP:0002902", 122.0),
        ("hemoglobin 7.9 g/dL", "HP:0001903", 7.9),
        ("WBC 18,000/mm3", "HP:0001974", 18000.0),
        ("decreased carnitine in plasma", "HP:0003234", None),
    ],
)
def test_labs_become_findings(
    linker: ConceptLinker, table: ConceptTable, text: str, hpo: str, value: float | None
) -> None:
    note = f"Labs showed {text} on admission."
    mentions = [m for m in linker.link(note) if m.best and m.best.method == "lab"]
    assert len(mentions) == 1, linker.link(note)
    m = mentions[0]
    assert m.text == text and note[m.start : m.end] == text and m.value == value
    assert m.best is not None and m.best.concept_id == table.resolve(hpo)


def test_lab_in_denial_is_absent(linker: ConceptLinker) -> None:
    (m,) = [
        m for m in linker.link("No increased ammonia in plasma.") if m.best and m.best.method == "lab"
    ]
    assert m.assertion is A.ABSENT


def test_sections_in_mentions(linker: ConceptLinker) -> None:
    text = (
        "History of Present Illness: fever and cough.\n"
        "Past Medical History: asthma.\n"
        "Family History: mother with breast cancer."
    )
    m = by_text(linker.link(text))
    assert (m["fever"].assertion, m["fever"].section) == (A.PRESENT, "history_of_present_illness")
    assert (m["asthma"].assertion, m["asthma"].section) == (A.HISTORICAL, "past_medical_history")
    assert (m["breast cancer"].assertion, m["breast cancer"].section) == (A.FAMILY, "family_history")


def test_targets_mode(linker: ConceptLinker) -> None:
    text = "Denies fever or chills. Mother had breast cancer. Zorblax syndrome."
    spans = [(7, 12), (16, 22), (35, 48), (50, 57)]
    mentions = linker.link_targets(text, spans)
    assert [(m.start, m.end) for m in mentions] == spans
    assert [m.assertion for m in mentions] == [A.ABSENT, A.ABSENT, A.FAMILY, A.PRESENT]
    assert mentions[0].best is not None and mentions[0].best.name.lower() == "fever"
    assert mentions[3].candidates == () or mentions[3].candidates[0].score < 0.5
    with pytest.raises(InvalidSpan, match="not inside the text"):
        linker.link_targets(text, [(60, 99)])


def test_input_sanitation(linker: ConceptLinker) -> None:
    bad = "fever \udcff and cough \ud800."
    mentions = linker.link(bad)
    assert [m.text for m in mentions] == ["fever", "cough"]
    json.dumps([m.model_dump(mode="json") for m in mentions])  # encodable
    assert linker.normalize("fever\udcff")[0].name.lower() == "fever"
    assert HashingEncoder(dim=32).encode_queries([bad]).shape == (1, 32)


@pytest.mark.model
def test_passage_encoder_sanitizes() -> None:
    from kgrag.index.encoders import SentenceTransformerEncoder

    assert SentenceTransformerEncoder().encode_queries(["fever \udcff"]).shape[0] == 1


def test_diagnose_text_with_surrogates(tmp_path: Path, small_table: ConceptTable) -> None:
    from test_retrieve import make_store  # the retrieval tests' small knowledge base

    from kgrag.retrieval.artifacts import build_artifacts
    from kgrag.retrieval.diagnose import Diagnoser

    store = make_store(tmp_path / "kb")
    build_artifacts(store, fingerprint="fp1", encoder="hashing")
    report = Diagnoser(store, table=small_table).diagnose(
        text="an itchy rash \udcff and fever", findings=["F_RASH"], method="fused"
    )
    json.dumps(report.model_dump(mode="json"))


@pytest.mark.parametrize("query", ["C++", "AND", "tb-", "the", "?"])
def test_content_free_search_returns_nothing(table: ConceptTable, query: str) -> None:
    assert table.search(query) == []


def test_search_still_finds(table: ConceptTable) -> None:
    assert table.search("asthma")[0].name.lower() == "asthma"
    assert table.search("asthmaa")  # fuzzy still works on content words


def test_vocabulary_filter(table: ConceptTable) -> None:
    mesh = ConceptLinker(table, kinds=None, prefixes=("MESH", "OMIM"))
    for m in mesh.link("Patients with breast cancer and seizures."):
        assert m.best is not None and any(c.startswith(("MESH:", "OMIM:")) for c in m.best.codes)


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch, default_settings: Settings) -> CliRunner:
    monkeypatch.setenv("KGRAG_CACHE_DIR", str(default_settings.cache_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_targets_vocab_and_kinds(runner: CliRunner, tmp_path: Path) -> None:
    from kgrag.cli import app

    batch = tmp_path / "in.jsonl"
    rows = [
        {
            "id": "a",
            "text": "Denies fever or chills.",
            "targets": [{"start": 7, "end": 12}, {"start": 16, "end": 22}],
        },
        {"id": "b", "text": "x", "targets": [{"start": 3, "end": 9}]},
        {"id": "c", "text": "x", "targets": "bad"},
    ]
    batch.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = runner.invoke(app, ["link", "--input", str(batch), "--vocab", "MESH,OMIM"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.splitlines() if x.startswith("{")]
    first = next(x for x in lines if x["id"] == "a")
    assert [m["assertion"] for m in first["mentions"]] == ["absent", "absent"]
    assert all(
        c["codes"] and any(k.startswith(("MESH:", "OMIM:")) for k in c["codes"])
        for m in first["mentions"]
        for c in m["candidates"]
    )
    assert "not inside" in next(x for x in lines if x["id"] == "b")["error"]
    assert "targets" in next(x for x in lines if x["id"] == "c")["error"]
    out = runner.invoke(app, ["link", "Seizures and type 2 diabetes.", "--kinds", "finding", "--json"])
    assert out.exit_code == 0, out.output
    assert {m["candidates"][0]["kind"] for m in json.loads(out.output)} == {"finding"}
    out = runner.invoke(app, ["link", "x", "--kinds", "bogus"])
    assert out.exit_code != 0 and "unknown kind" in out.output


@pytest.mark.parametrize("row", lay_terms(), ids=lambda r: r.phrase)
def test_every_lay_term_links_to_its_finding(linker: ConceptLinker, row: LayTerm) -> None:
    """A row of data/lay_terms.tsv: the phrase, in a sentence, links to the HPO code it names."""
    i = linker.table.index_of(row.code)
    assert i is not None, f"{row.code} is not in the shipped concepts"
    names = {linker.table.row(i).name.lower(), *(s[0].lower() for s in linker.table.synonyms(i))}
    assert row.label.lower() in names, f"{row.code} is not named {row.label!r}"
    found = [m for m in linker.link(f"She reports {row.phrase} since Monday.") if m.candidates]
    assert [m.text.lower() for m in found] == [row.phrase.lower()]
    assert row.code in found[0].candidates[0].codes


def test_lay_terms_can_be_left_out(table: ConceptTable) -> None:
    plain = ConceptLinker(table, lay_terms=False)
    found = [m for m in plain.link("She reports increased thirst.") if m.candidates]
    assert not any("HP:0001959" in m.candidates[0].codes for m in found)


@pytest.mark.parametrize(
    ("text", "surface", "code"),
    [
        ("She has pain in her right knee.", "pain in her right knee", "HP:0030839"),
        ("Swelling of both ankles for a week.", "Swelling of both ankles", "HP:0001785"),
        ("Pain in the epigastrium after meals.", "Pain in the epigastrium", "HP:0410019"),
        ("Mass in the left breast.", "Mass in the left breast", "HP:0032408"),
    ],
)
def test_a_finding_followed_by_its_site_links_site_first(
    linker: ConceptLinker, text: str, surface: str, code: str
) -> None:
    found = {m.text: m for m in linker.link(text) if m.candidates}
    assert surface in found, found
    assert code in found[surface].candidates[0].codes


def test_a_denied_site_finding_stays_absent_and_plain_findings_stay(linker: ConceptLinker) -> None:
    found = {m.text: m for m in linker.link("No pain in the abdomen. Weakness of the arm.")}
    assert found["pain in the abdomen"].assertion is Assertion.ABSENT
    assert "HP:0002027" in found["pain in the abdomen"].candidates[0].codes
    assert "Weakness" in found  # no "arm weakness" concept: the finding alone, unchanged


def test_two_site_phrases_in_a_row_both_link(linker: ConceptLinker) -> None:
    found = {m.text: m for m in linker.link("Pain in my right knee and swelling of both ankles.")}
    assert "HP:0030839" in found["Pain in my right knee"].candidates[0].codes  # knee pain
    assert "HP:0001785" in found["swelling of both ankles"].candidates[0].codes  # ankle swelling
