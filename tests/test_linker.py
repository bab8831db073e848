"""ConceptLinker on a real (small) unified table: detection, abbreviations, assertions,
normalization passes, training dictionary, NIL threshold and bad input. Plus one
Normalizer contract that every implementation passes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgrag.errors import InputTooLarge
from kgrag.index.encoders import HashingEncoder
from kgrag.linking.base import Linker, Normalizer
from kgrag.linking.dense import DenseMatcher
from kgrag.linking.linker import ConceptLinker
from kgrag.linking.training import add_training_dictionary, learn_detection, train_linker
from kgrag.ontology.table import ConceptTable
from kgrag.types import Assertion, SemanticKind


@pytest.fixture(scope="module")
def linker(small_table: ConceptTable) -> ConceptLinker:
    return ConceptLinker(small_table)


T2D = "UMLS:C0011860"
MI = "UMLS:C0027051"


def test_protocols(linker: ConceptLinker) -> None:
    assert isinstance(linker, Linker) and isinstance(linker, Normalizer)


def test_link_text(linker: ConceptLinker) -> None:
    text = (
        "A 60-year-old with Type 2 Diabetes and congestive heart disease (CHD). "
        "He denies seizures but had a myocardial infarction. CHD is stable."
    )
    mentions = linker.link(text)
    by_text = {m.text: m for m in mentions}
    assert by_text["Type 2 Diabetes"].best.concept_id == T2D
    assert by_text["Type 2 Diabetes"].assertion is Assertion.PRESENT
    assert by_text["seizures"].assertion is Assertion.ABSENT
    assert by_text["myocardial infarction"].best.concept_id == MI
    for m in mentions:
        assert text[m.start : m.end] == m.text
        assert all(0.0 <= c.score <= 1.0 for c in m.candidates)
        assert [c.score for c in m.candidates] == sorted((c.score for c in m.candidates), reverse=True)
    # "CHD" is defined in the text: each use links like (the head of) its long form
    chd = [m for m in mentions if m.text == "CHD"]
    assert len(chd) == 2 and all(m.best.method == "abbreviation" for m in chd)
    assert {m.best.concept_id for m in chd} == {by_text["heart disease"].best.concept_id}


def test_kind_filter(small_table: ConceptTable) -> None:
    only_findings = ConceptLinker(small_table, kinds=[SemanticKind.FINDING])
    kinds = {m.best.kind for m in only_findings.link("Seizures and type 2 diabetes.")}
    assert kinds == {SemanticKind.FINDING}


def test_normalize_passes(linker: ConceptLinker) -> None:
    assert linker.normalize("NIDDM")[0].concept_id == T2D  # exact (case-sensitive short form)
    assert linker.normalize("niddm") == [] or linker.normalize("niddm")[0].method != "exact"
    assert all(c.method != "exact" for c in linker.normalize("Niddm"))  # all-caps: not "Niddm"
    assert linker.normalize("diabetes mellitus, type 2")[0].concept_id == T2D  # exact entry term
    assert linker.normalize("infarction of myocardium")[0].concept_id in (MI, "MESH:D007238")
    fuzzy = linker.normalize("diabetis mellitus type two")
    assert T2D in [c.concept_id for c in fuzzy] and fuzzy[0].method in ("fuzzy", "backoff")
    context = "Diabetes Mellitus, Type 2 (DMT2) is common."
    expanded = linker.normalize("DMT2", context)[0]
    assert expanded.concept_id == T2D and expanded.method == "abbreviation"
    assert linker.normalize("DMT2 complications", context)  # expanded inside a longer mention
    assert linker.normalize("   ") == []


def test_training_dictionary(small_table: ConceptTable) -> None:
    fresh = ConceptLinker(small_table, fuzzy=False)
    assert not fresh.normalize("sugar disease")
    added = add_training_dictionary(
        fresh.dictionary,
        [("sugar disease", ("MESH:D003924",)), ("two ids", ("MESH:D003924", "DOID:5844"))],
    )
    assert added == 1  # the composite (two-concept) mention is skipped
    best = fresh.normalize("Sugar diseases")[0]
    assert best.concept_id == T2D and best.method == "training"


def test_training_votes_pick_the_majority_concept(small_table: ConceptTable) -> None:
    t1d = small_table.resolve("MESH:D003922")
    assert t1d is not None and t1d != T2D
    for order in (1, -1):  # not whichever annotation came first
        fresh = ConceptLinker(small_table, fuzzy=False)
        votes = [("sugar disease", ("MESH:D003922",))] + [("Sugar disease", ("MESH:D003924",))] * 2
        add_training_dictionary(fresh.dictionary, votes[::order])
        assert [c.concept_id for c in fresh.normalize("sugar disease")][:2] == [T2D, t1d]


def _pubtator(path: Path, docs: list[tuple[str, list[tuple[str, str]]]]) -> Path:
    """Write documents (title, [(annotated substring, MeSH id)]) in PubTator format."""
    lines = []
    for n, (title, marks) in enumerate(docs, start=1):
        lines.append(f"{n}|t|{title}")
        lines.append(f"{n}|a|")
        for surface, mesh in marks:
            start = title.index(surface)
            lines.append(f"{n}\t{start}\t{start + len(surface)}\t{surface}\tDisease\t{mesh}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_detection_skips_keys_annotators_rarely_mark(small_table: ConceptTable, tmp_path: Path) -> None:
    text = "Type 2 diabetes and heart disease were studied."
    corpus = _pubtator(tmp_path / "train.txt", [(text, [("Type 2 diabetes", "D003924")])] * 3)
    fresh = ConceptLinker(small_table)
    assert {"Type 2 diabetes", "heart disease"} <= {m.text for m in fresh.link(text)}
    report = train_linker(fresh, [corpus])
    assert report.documents == 3 and report.rejected_keys == 1
    assert fresh.rejected_keys == {"heart disease"}
    found = {m.text for m in fresh.link(text)}
    assert "Type 2 diabetes" in found and "heart disease" not in found
    assert fresh.normalize("heart disease")  # normalization of a given mention is unaffected
    with pytest.raises(ValueError, match="max_rate"):
        learn_detection(fresh, [], max_rate=0.0)


def test_nil_threshold(small_table: ConceptTable) -> None:
    strict = ConceptLinker(small_table, nil_threshold=0.5)
    assert all(c.score >= 0.5 for c in strict.normalize("diabetis melitus typ 2"))
    assert strict.normalize("zzqxq florp") == []


def test_bad_input(linker: ConceptLinker) -> None:
    assert linker.link("") == [] and linker.link("   \n\t") == []
    weird = "Fever 🤒 \x00\x07 type 2 diabetes\u200b " + "x" * 10_000 + " seizures"
    for m in linker.link(weird):
        assert weird[m.start : m.end] == m.text
    with pytest.raises(TypeError):
        linker.link(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InputTooLarge):
        linker.link("a" * 6_000_000)
    big = ("No seizures. Type 2 diabetes with myocardial infarction. " * 20_000)[:1_000_000]
    started = time.perf_counter()
    mentions = linker.link(big)
    assert time.perf_counter() - started < 30 and len(mentions) > 10_000


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200).map(lambda s: s + " type 2 diabetes")
)
def test_spans_always_index_the_text(linker: ConceptLinker, text: str) -> None:
    for m in linker.link(text):
        assert text[m.start : m.end] == m.text


def normalizers(small_table: ConceptTable) -> list[Normalizer]:
    base = ConceptLinker(small_table)
    dense = ConceptLinker(small_table, fuzzy=False)
    dense.dense = DenseMatcher(dense.dictionary, HashingEncoder())
    out: list[Normalizer] = [base, dense]
    try:
        from kgrag.linking.scispacy_adapter import ScispacyLinker

        out.append(ScispacyLinker(base.dictionary, min_df=1, ef_construction=50, m=8))
    except ImportError:
        pass  # the scispacy extra is optional; MissingExtraError is an ImportError
    return out


def test_normalizer_contract(small_table: ConceptTable) -> None:
    for impl in normalizers(small_table):
        got = impl.normalize("type 2 diabetes mellitus", None, 3)
        assert 1 <= len(got) <= 3, impl.name
        assert got[0].concept_id == T2D, impl.name
        assert [c.score for c in got] == sorted((c.score for c in got), reverse=True)
        assert all(small_table.resolve(c.concept_id) == c.concept_id for c in got)
        assert impl.normalize("", None, 3) == [], impl.name
