"""Guideline facts: disease -> finding facts from symptom headings and sentence patterns,
with exact cited spans and negations as not_shown, and their place in a corpus build."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kgrag.config import Settings
from kgrag.facts.guideline_facts import GuidelineFact, extract_facts, title_disease
from kgrag.graph.schema import EdgeType, Tier
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.graph.tiers import assign_tiers
from kgrag.linking.linker import ConceptLinker
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec

IsDisease = Callable[[str], bool]


@pytest.fixture(scope="module")
def linker(table: ConceptTable) -> ConceptLinker:
    return ConceptLinker(table)


@pytest.fixture(scope="module")
def is_disease(table: ConceptTable) -> IsDisease:
    tiers = assign_tiers(table)

    def check(cid: str) -> bool:
        i = table.index_of(cid)
        return i is not None and tiers[i] is Tier.DISEASE

    return check


def facts(
    text: str, linker: ConceptLinker, is_disease: IsDisease, focus: str | None = None
) -> list[GuidelineFact]:
    return extract_facts(text, linker.link(text), focus=focus, is_disease=is_disease)


def named(fs: list[GuidelineFact], table: ConceptTable) -> set[tuple[str, str, str]]:
    return {
        (table.get(f.disease).name.lower(), table.get(f.finding).name.lower(), f.polarity) for f in fs
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Pneumonia typically presents with fever and cough.",
            {("pneumonia", "fever"), ("pneumonia", "cough")},
        ),
        ("Pleuritic chest pain is common in pneumonia.", {("pneumonia", "pleuritic chest pain")}),
        (
            "Migraine is characterized by nausea and photophobia.",
            {("migraine disorder", "nausea"), ("migraine disorder", "photophobia")},
        ),
        (
            "Patients with hypothyroidism often have fatigue and cold intolerance.",
            {("hypothyroidism", "fatigue"), ("hypothyroidism", "cold intolerance")},
        ),
        (
            "Symptoms of influenza include fever and myalgia.",
            {("influenza", "fever"), ("influenza", "myalgia")},
        ),
    ],
)
def test_sentence_patterns(
    text: str,
    expected: set[tuple[str, str]],
    linker: ConceptLinker,
    is_disease: IsDisease,
    table: ConceptTable,
) -> None:
    got = facts(text, linker, is_disease)
    assert {(d, f) for d, f, p in named(got, table)} == expected
    assert all(f.polarity == "present" for f in got)
    for f in got:  # the claim cites the whole stating sentence, and the finding inside it
        assert text[f.start : f.end] == f.text == text.strip()
        assert text[f.finding_start : f.finding_end] == f.finding_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Influenza does not cause jaundice.", ("influenza", "jaundice")),
        ("Fever is not a feature of migraine.", ("migraine disorder", "fever")),
        ("Heat intolerance is not a feature of hypothyroidism.", ("hypothyroidism", "heat intolerance")),
    ],
)
def test_negations_are_not_shown(
    text: str,
    expected: tuple[str, str],
    linker: ConceptLinker,
    is_disease: IsDisease,
    table: ConceptTable,
) -> None:
    assert named(facts(text, linker, is_disease), table) == {(*expected, "not_shown")}


def test_no_fact_without_a_stating_pattern(linker: ConceptLinker, is_disease: IsDisease) -> None:
    # a disease and a finding in one sentence that states no finding of the disease
    assert (
        facts("Give paracetamol for fever in pneumonia before the antibiotics.", linker, is_disease)
        == []
    )
    # a finding-kind X is not a disease: no fact
    assert facts("Fever is common in cough.", linker, is_disease) == []


def test_symptom_sections(linker: ConceptLinker, is_disease: IsDisease, table: ConceptTable) -> None:
    text = (
        "# Heart failure\n\n## Overview\nA chronic condition.\n\n"
        "### Signs and symptoms\nOrthopnea and ankle swelling.\nNo fever.\n\n"
        "## Management\nFatigue is managed with exercise.\n"
    )
    got = facts(text, linker, is_disease)
    assert named(got, table) == {
        ("heart failure", "orthopnea", "present"),
        ("heart failure", "ankle swelling", "present"),
        ("heart failure", "fever", "not_shown"),
    }
    assert {f.rule for f in got} == {"section"} and {f.section for f in got} == {"Signs and symptoms"}
    for f in got:
        assert (
            text[f.start : f.end] == f.text and text[f.finding_start : f.finding_end] == f.finding_text
        )
    # a plain-text heading (HTML and PDF text) names its disease, else the focus is used
    plain = "Clinical features of asthma\n\nWheezing and cough.\n"
    assert named(facts(plain, linker, is_disease), table) == {
        ("asthma", "wheezing", "present"),
        ("asthma", "cough", "present"),
    }
    focus = title_disease("Type 2 diabetes mellitus", linker, is_disease)
    assert focus is not None
    listed = "Presentation\n\nPolyuria\n\nPolydipsia\n\nTreatment\n\nFatigue\n"
    assert {f for _, f, _ in named(facts(listed, linker, is_disease, focus=focus), table)} == {
        "polyuria",
        "polydipsia",
    }


def test_corpus_build_holds_cited_guideline_facts(
    table: ConceptTable, default_settings: Settings, fixtures: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "guidelines"
    folder.mkdir()
    for name in ("pneumonia.md", "diabetes.html", "thyroid.txt"):
        shutil.copy(fixtures / "guideline_facts" / name, folder)
    store = SqliteGraphStore(tmp_path / "kb")
    recipe = Recipe(
        name="t",
        base_dir=tmp_path,
        sources=[SourceSpec(kind="corpus", name="gl", path="guidelines")],
    )
    assert Builder(recipe, store, table=table, settings=default_settings).run().status == "complete"
    found: dict[tuple[str, str], set[str]] = {}
    for e in store.iter_edges([EdgeType.HAS_FINDING]):
        for c in e.claims:
            if "rule" not in c.props:
                continue
            doc_id = store.get_node(str(c.reference)).props["document"]  # type: ignore[union-attr]
            doc = store.get_node(doc_id)
            assert doc is not None
            assert doc.props["text"][c.start : c.end] == c.props["text"]
            fs, fe = c.props["finding_start"], c.props["finding_end"]
            assert c.start <= fs < fe <= c.end
            assert doc.props["text"][fs:fe] == c.props["finding_text"]
            found.setdefault((e.src, e.dst), set()).add(str(c.props["polarity"]))
    pneumonia, fever, hemoptysis = (
        table.resolve(x) for x in ("UMLS:C0032285", "UMLS:C0015967", "UMLS:C0019079")
    )
    assert found[(str(pneumonia), str(fever))] == {"present"}
    assert found[(str(pneumonia), str(hemoptysis))] == {"not_shown"}
    dm2, polyuria = table.resolve("UMLS:C0011860"), table.resolve("UMLS:C0032617")
    assert found[(str(dm2), str(polyuria))] == {"present"}  # HTML list under "Presentation"
    hypo, heat = table.resolve("UMLS:C0020676"), table.resolve("UMLS:C0231274")
    assert found[(str(hypo), str(heat))] == {"not_shown"}
    store.close()


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` in Helvetica (written here: no PDF writer is a
    dependency); pypdf reads it back one line per line."""
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for ln in lines:
        escaped = ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    stream = "\n".join([*ops, "ET"]).encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


def test_pdf_guideline_facts(
    linker: ConceptLinker, is_disease: IsDisease, table: ConceptTable, tmp_path: Path
) -> None:
    from kgrag.corpus.documents import SourceDocument, read_corpus
    from kgrag.pipeline.corpus import document_records

    folder = tmp_path / "pdf"
    folder.mkdir()
    lines = ["Clinical features", "Wheezing and cough.", "Asthma does not cause jaundice."]
    (folder / "asthma.pdf").write_bytes(_pdf([*lines, "Treatment", "Inhaled steroids and fever."]))
    (doc,) = list(read_corpus(folder, source="pdf"))
    assert isinstance(doc, SourceDocument)
    _, edges = document_records(doc, linker, "pdf", is_disease=is_disease)
    got = {
        (table.get(e.src).name.lower(), table.get(e.dst).name.lower(), str(c.props["polarity"]))
        for e in edges
        if e.type is EdgeType.HAS_FINDING
        for c in e.claims
        if doc.text[c.start : c.end] == c.props["text"]
    }
    assert got == {  # the heading names no disease: the title's (the file name) is used
        ("asthma", "wheezing", "present"),
        ("asthma", "cough", "present"),
        ("asthma", "jaundice", "not_shown"),
    }
