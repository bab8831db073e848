"""Tokens, abbreviations, assertions and the PubTator reader: the parts of linking."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgrag.corpus.pubtator import gold_ids, read_pubtator
from kgrag.errors import CorpusFormatError
from kgrag.linking.abbreviations import find_abbreviations
from kgrag.linking.assertion import assign_assertions
from kgrag.linking.variants import backoffs, bag_key, composite_parts, head_swaps
from kgrag.tokens import key_of, stem, tokenize
from kgrag.types import Assertion


@given(st.text(max_size=300))
def test_tokens_index_the_original_text(text: str) -> None:
    previous = 0
    for t in tokenize(text):
        assert 0 <= t.start < t.end <= len(text)
        assert t.start >= previous  # in text order
        assert t.key and " " not in t.key
        previous = t.start


def test_keys_are_symmetric_and_light() -> None:
    assert key_of("Alzheimer's Disease") == key_of("alzheimer disease")
    assert key_of("Haemorrhagic tumours") == key_of("hemorrhagic tumor")
    assert key_of("type II diabetes") == key_of("Type 2 Diabetes")
    assert key_of("TNF-α") == "tnf alpha" == key_of("TNF alpha")  # Greek letters are words
    assert stem("lupus") == "lupus" and stem("allergies") == "allergy"


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("Patients with congestive heart failure (CHF) had CHF.", [("CHF", "congestive heart failure")]),
        (
            "glucose-6-phosphate dehydrogenase (G6PD) deficiency",
            [("G6PD", "glucose-6-phosphate dehydrogenase")],
        ),
        (
            "The Schwartz-Jampel syndrome (SJS; chondrodystrophic myotonia) is rare.",
            [("SJS", "Schwartz-Jampel syndrome")],
        ),
        ("we saw (n=5) patients (see figure 2)", []),
    ],
)
def test_abbreviations(text: str, pairs: list[tuple[str, str]]) -> None:
    found = find_abbreviations(text)
    assert [(a.short, a.long) for a in found] == pairs
    for a in found:
        assert text[a.long_start : a.long_end] == a.long
        assert text[a.short_start : a.short_start + len(a.short)] == a.short


A = Assertion
CASES = [
    (
        "Patient denies fever, chills, or night sweats but reports cough.",
        {"fever": A.ABSENT, "chills": A.ABSENT, "night sweats": A.ABSENT, "cough": A.PRESENT},
    ),
    ("No evidence of pneumonia.", {"pneumonia": A.ABSENT}),
    ("Negative for malignancy.", {"malignancy": A.ABSENT}),
    ("Pulmonary embolism was ruled out.", {"Pulmonary embolism": A.ABSENT}),
    ("He presented without dyspnea.", {"dyspnea": A.ABSENT}),
    ("History of myocardial infarction.", {"myocardial infarction": A.HISTORICAL}),
    ("Mother had breast cancer.", {"breast cancer": A.FAMILY}),
    (
        "Family history of diabetes mellitus. He has hypertension.",
        {"diabetes mellitus": A.FAMILY, "hypertension": A.PRESENT},
    ),
    ("Return if fever develops.", {"fever": A.HYPOTHETICAL}),
    ("Possible pneumonia versus atelectasis.", {"pneumonia": A.POSSIBLE, "atelectasis": A.POSSIBLE}),
    ("Appendicitis cannot be excluded.", {"Appendicitis": A.POSSIBLE}),
    ("Gram negative rods; sepsis.", {"sepsis": A.PRESENT}),
    (
        "He has no diabetes and presents with chest pain.",
        {"diabetes": A.ABSENT, "chest pain": A.PRESENT},
    ),
    ("No fever. Seizures since yesterday.", {"fever": A.ABSENT, "Seizures": A.PRESENT}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_assertions(text: str, expected: dict[str, Assertion]) -> None:
    spans = [(text.index(m), text.index(m) + len(m)) for m in expected]
    assert dict(zip(expected, assign_assertions(text, spans), strict=True)) == expected


def test_variants() -> None:
    assert composite_parts("breast and ovarian cancer") == ["breast cancer", "ovarian cancer"]
    assert composite_parts("anemia and neutropenia") == ["anemia", "neutropenia"]
    assert composite_parts("renal cell carcinoma") == []
    assert bag_key("deficiency of c9") == bag_key("c9 deficiency")
    assert backoffs("familial or sporadic retinoblastoma") == [
        "sporadic retinoblastoma",
        "retinoblastoma",
    ]
    assert head_swaps("von hippel lindau tumor")[0] == "von hippel lindau disease"


def test_pubtator_reader(fixtures: Path, tmp_path: Path) -> None:
    docs = list(read_pubtator(fixtures / "corpus/ncbi_excerpt.txt"))
    assert len(docs) == 4
    for doc in docs:
        for m in doc.mentions:
            assert doc.text[m.start : m.end] == m.text
    composite = [m for d in docs for m in d.mentions if len(m.ids) > 1]
    assert composite  # "D004829+D003294"
    bc = list(read_pubtator(fixtures / "corpus/bc5cdr_excerpt.txt"))
    assert {m.type for d in bc for m in d.mentions} == {"Chemical", "Disease"}
    assert gold_ids("D002318|D012131") == ("MESH:D002318", "MESH:D012131")
    assert gold_ids("OMIM:300048") == ("OMIM:300048",) and gold_ids("-1") == ()
    bad = tmp_path / "bad.txt"
    bad.write_text("1|t|Heart attack.\n1\t0\t5\tHeart\tDisease\tD1\n1\t0\t5\tWrong\tDisease\tD1\n")
    with pytest.raises(CorpusFormatError, match=r"bad\.txt:3: span 0-5"):
        list(read_pubtator(bad))


@settings(max_examples=50)
@given(
    st.lists(
        st.sampled_from(
            [
                "no",
                "fever",
                ",",
                "but",
                "cough",
                "history of",
                "mother",
                "denies",
                "MI",
                ".",
                "if",
                "seizures",
                "ruled out",
            ]
        ),
        max_size=30,
    )
)
def test_assertions_never_crash(words: list[str]) -> None:
    text = " ".join(words)
    spans = [(i, i + 5) for i in range(0, max(0, len(text) - 5), 7)]
    assert len(assign_assertions(text, spans)) == len(spans)


def test_list_punctuation_breaks_matches() -> None:
    from kgrag.linking.dictionary import _breaks, _shouted_word

    def breaks(text: str) -> list[bool]:
        return _breaks(text, tokenize(text))

    assert breaks("hypertension, pulmonary embolism") == [False, True, False]
    assert breaks("kidney disease (CKD)") == [False, False, True]
    assert breaks("disease. Seizures") == [False, True]
    assert breaks("St. Louis encephalitis") == [False, False, False]
    text = "THE PATIENT HAS ALL OF IT"
    assert _shouted_word(text, 0, 3) and _shouted_word(text, 16, 19)
    assert not _shouted_word("Relapsed ALL in a child", 9, 12)
