"""Assertion rules (one test per row of the versioned trigger table), the scope kinds of
clinical notes (lists, post-posed and copular cues, clauses), sections, and lab reading. Pure
text: no concept table needed."""

from __future__ import annotations

import re

import pytest

from kgrag.linking.assertion import assess, assign_assertions, trigger_rules
from kgrag.linking.labs import lab_table, phrasings, read_labs
from kgrag.linking.sections import find_sections, section_rules
from kgrag.types import Assertion

A = Assertion


def spans_of(text: str, *targets: str) -> list[tuple[int, int]]:
    out = []
    for t in targets:
        m = re.search(re.escape(t), text)
        assert m, t
        out.append(m.span())
    return out


def judged(text: str, *targets: str) -> dict[str, Assertion]:
    return dict(zip(targets, assign_assertions(text, spans_of(text, *targets)), strict=True))


def _filled(phrase: str) -> str:
    for slot, word in (
        ("<n>", "2"),
        ("<unit>", "day"),
        ("<subj>", "he"),
        ("<date>", "2019"),
        ("<rel>", "mother"),
        ("<place>", "your doctor"),
        ("<act>", "workup"),
        ("<often>", "frequently"),
        ("<poss>", "her"),
        ("<instr>", "call your doctor"),
    ):
        phrase = phrase.replace(slot, word)
    return phrase


RULES = trigger_rules()


@pytest.mark.parametrize("rule", RULES, ids=[f"{r.direction}:{r.scope}:{r.phrase}" for r in RULES])
def test_each_trigger_rule(rule) -> None:  # type: ignore[no-untyped-def]
    """Every row does what its direction, scope and category say, in a sentence built for it."""
    phrase = _filled(rule.phrase)
    if rule.direction in ("forward", "both"):
        text = f"{phrase} pneumonia."
        assert judged(text, "pneumonia")["pneumonia"] is rule.category
    if rule.direction in ("backward", "both"):
        text = f"Pneumonia: {phrase}." if rule.scope == "final" else f"pneumonia {phrase}."
        target = "Pneumonia" if rule.scope == "final" else "pneumonia"
        assert judged(text, target)[target] is rule.category
    if rule.direction == "pseudo":
        assert judged(f"{phrase} pneumonia.", "pneumonia")["pneumonia"] is A.PRESENT
    if rule.direction == "terminate":
        assert judged(f"No fever {phrase} pneumonia.", "pneumonia")["pneumonia"] is A.PRESENT
    if rule.direction == "affirm":
        assert judged(f"No fever; {phrase} pneumonia.", "pneumonia")["pneumonia"] is A.PRESENT
        assert judged(f"Denies fever, {phrase} pneumonia.", "pneumonia")["pneumonia"] is A.PRESENT


def test_long_denial_list_is_all_absent() -> None:
    items = (
        "fever, chills, night sweats, weight loss, headache, sore throat, chest pain, "
        "palpitations, orthopnea, nausea, vomiting, diarrhea, dysuria, hematuria or rash"
    )
    text = f"Productive cough. Denies {items}."
    names = [w.strip() for w in re.split(r",| or ", items)]
    out = judged(text, "Productive cough", *names)
    assert out.pop("Productive cough") is A.PRESENT
    assert set(out.values()) == {A.ABSENT}, out


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Chills: none.", "Chills"),
        ("Cough: no.", "Cough"),
        ("Chest pain: denies.", "Chest pain"),
        ("Asthma: negative.", "Asthma"),
        ("Chest pain was denied.", "Chest pain"),
        ("CHILLS: NONE. COUGH: YES.", "CHILLS"),
    ],
)
def test_post_posed_cues(text: str, target: str) -> None:
    assert judged(text, target)[target] is A.ABSENT


def test_post_posed_cue_needs_the_clause_end() -> None:
    # "no" that opens a clause is forward only; a cue two clauses away does not reach back
    out = judged("Cough: yes. Fever: no.", "Cough", "Fever")
    assert out == {"Cough": A.PRESENT, "Fever": A.ABSENT}


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("The child is negative for asthma.", "asthma", A.ABSENT),
        ("He was ruled out for myocardial infarction.", "myocardial infarction", A.ABSENT),
        ("The siblings are negative for cystic fibrosis.", "cystic fibrosis", A.ABSENT),
        ("It is likely pneumonia.", "pneumonia", A.POSSIBLE),
        ("Pneumonia is likely.", "Pneumonia", A.POSSIBLE),
        ("Negative for asthma.", "asthma", A.ABSENT),
    ],
)
def test_copular_cues(text: str, target: str, expected: Assertion) -> None:
    assert judged(text, target)[target] is expected


def test_list_items_with_commas_all_absent() -> None:
    assert set(judged("Denies fever, seizures, or rash.", "fever", "seizures", "rash").values()) == {
        A.ABSENT
    }


def test_scope_ends_at_clause_and_affirming_verb() -> None:
    out = judged("No fever, but she has a cough and he reports rash.", "fever", "cough", "rash")
    assert out == {"fever": A.ABSENT, "cough": A.PRESENT, "rash": A.PRESENT}
    out = judged("He is not cooperative and he is confused.", "confused")
    assert out["confused"] is A.PRESENT
    out = judged("He did not have any abdominal pain.", "abdominal pain")
    assert out["abdominal pain"] is A.ABSENT
    assert judged("Does not give a history of deafness.", "deafness")["deafness"] is A.ABSENT


def test_duration_history_is_recent() -> None:
    text = "She has a two-day history of fever, body aches and nausea."
    assert set(judged(text, "fever", "body aches", "nausea").values()) == {A.PRESENT}
    assert (
        judged("History of myocardial infarction.", "myocardial infarction")["myocardial infarction"]
        is A.HISTORICAL
    )


def test_enumerated_items_are_separate_sentences() -> None:
    text = "DIAGNOSIS:  1) Severe esophagitis s/p biopsy  2) large hiatal hernia  3) gastritis"
    assert set(judged(text, "large hiatal hernia", "gastritis").values()) == {A.PRESENT}


def test_sections_set_and_block_assertions() -> None:
    text = (
        "HISTORY OF PRESENT ILLNESS: fever and cough for two days.\n"
        "Past Medical History: asthma, no diabetes.\n"
        "Family History: breast cancer.\n"
        "Medications: metformin for diabetes.\n"
        "Allergies: penicillin causes rash.\n"
        "Discharge Instructions: return for chest pain."
    )
    targets = (
        "fever",
        "cough",
        "asthma",
        "diabetes",
        "breast cancer",
        "metformin for diabetes",
        "rash",
        "chest pain",
    )
    got = assess(text, spans_of(text, *targets))
    out = dict(zip(targets, got, strict=True))
    assert out["fever"] == (A.PRESENT, "history_of_present_illness")
    assert out["cough"] == (A.PRESENT, "history_of_present_illness")
    assert out["asthma"] == (A.HISTORICAL, "past_medical_history")
    assert out["diabetes"] == (A.ABSENT, "past_medical_history")  # negation beats the section
    assert out["breast cancer"] == (A.FAMILY, "family_history")
    assert out["metformin for diabetes"][1] == "medications"
    assert out["rash"][1] == "allergies"
    assert out["chest pain"][0] is A.HYPOTHETICAL


def test_section_headings_have_spans() -> None:
    text = "CHIEF COMPLAINT: cough.  PAST MEDICAL HISTORY: asthma.\nSocial history: smoker."
    sections = find_sections(text)
    assert [s.name for s in sections] == ["chief_complaint", "past_medical_history", "social_history"]
    for s in sections:
        assert text[s.heading_start : s.heading_end].rstrip().endswith(":")
    assert sections[0].end == sections[1].heading_start
    assert all(r.effect for r in section_rules())


def test_heading_is_not_a_trigger() -> None:
    text = "FAMILY HISTORY: none. HISTORY OF PRESENT ILLNESS: cough."
    assert judged(text, "cough")["cough"] is A.PRESENT


@pytest.mark.parametrize(
    ("text", "hpo", "value"),
    [
        ("Na 122 mmol/L", "HP:0002902", 122.0),
        ("hemoglobin 7.9 g/dL", "HP:0001903", 7.9),
        ("WBC 18,000/mm3", "HP:0001974", 18000.0),
        ("K 6.1 mEq/L", "HP:0002153", 6.1),
        ("platelets 45 K/uL", "HP:0001873", 45.0),
        ("glucose 4.2 mmol/L", None, None),  # 75.7 mg/dL: normal
        ("increased Phenylalanine in blood", "HP:0004923", None),
        ("increased Ammonia in serum/plasma", "HP:0001987", None),
        ("increased Orotic acid in urine", "HP:0003218", None),
        ("low albumin in serum", "HP:0003073", None),
    ],
)
def test_lab_values_and_phrasing(text: str, hpo: str | None, value: float | None) -> None:
    findings, _ = read_labs(f"Labs: {text}.")
    if hpo is None:
        assert findings == []
        return
    (f,) = findings
    assert f.hpo == hpo and f.value == value
    assert f"Labs: {text}."[f.start : f.end] == text


def test_lab_phrase_outside_the_table_becomes_hpo_style_names() -> None:
    _, phrases = read_labs("decreased carnitine in plasma")
    (p,) = phrases
    assert p.direction == "low" and p.specimen == "blood"
    assert "decreased circulating carnitine concentration" in phrasings(p)


def test_lab_table_is_complete() -> None:
    rows = lab_table()
    assert len(rows) >= 25
    for a in rows:
        assert a.low_hpo or a.high_hpo
        if a.units:
            assert a.low is not None or a.high is not None
    assert any(a.depends and "sex" in a.depends for a in rows)
