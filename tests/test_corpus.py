"""Corpus readers, offset-exact chunking, and ingestion into the graph."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgrag.config import Settings
from kgrag.corpus.chunking import chunk_document
from kgrag.corpus.documents import ReadFailure, SourceDocument, read_corpus
from kgrag.graph.schema import EdgeType, Label
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec


@pytest.fixture()
def corpus(fixtures: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(fixtures / "docs", folder, ignore=shutil.ignore_patterns("README.md"))
    (folder / "z_copy.md").write_bytes((folder / "note.md").read_bytes())  # a duplicate
    (folder / "latin1.txt").write_bytes("Sj\xf6gren syndrome".encode("latin-1"))
    (folder / "broken.xml").write_text("<Document><QAPairs>")
    return folder


def test_readers(corpus: Path) -> None:
    items = list(read_corpus(corpus, source="t"))
    docs = {d.id: d for d in items if isinstance(d, SourceDocument)}
    failures = {Path(f.path).name: f.reason for f in items if isinstance(f, ReadFailure)}
    assert set(docs) == {"acromegaly.xml", "note.md", "note.pdf", "page.html"}
    assert "duplicate of" in failures["z_copy.md"]
    assert "UTF-8" in failures["latin1.txt"] and "XML" in failures["broken.xml"]
    medquad = docs["acromegaly.xml"]
    assert medquad.focus == "Acromegaly" and medquad.focus_codes == ("UMLS:C0001206",)
    symptoms = next(s for s in medquad.sections if s.label == "symptoms")
    assert medquad.text[symptoms.start :].startswith("The name acromegaly comes from")
    assert "&quot;" not in medquad.text
    html = docs["page.html"]
    assert html.title == "Seizures" and "var x" not in html.text and "Fever" in html.text
    forced = list(read_corpus(corpus, format="pdf", source="t"))  # every file read as PDF
    pdf = next(d for d in forced if isinstance(d, SourceDocument))
    assert pdf.id == "note.pdf" and pdf.text == "Fever and chills are common in pneumonia."
    assert any("unreadable PDF" in f.reason for f in forced if isinstance(f, ReadFailure))


@settings(max_examples=40)
@given(st.lists(st.text(min_size=0, max_size=400), min_size=1, max_size=8))
def test_chunks_index_the_text(paragraphs: list[str]) -> None:
    text = "\n\n".join(paragraphs)
    from kgrag.corpus.documents import Section

    doc = SourceDocument(
        id="d",
        title="t",
        text=text,
        checksum="x",
        source="t",
        sections=(Section(start=0, end=len(text), label="body"),),
    )
    for c in chunk_document(doc, max_chars=150):
        assert doc.text[c.start : c.end] == c.text and c.text.strip()
        assert c.end - c.start <= 150


def test_corpus_into_graph(
    corpus: Path, small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    store = SqliteGraphStore(tmp_path / "kb")
    recipe = Recipe(
        name="t",
        base_dir=corpus.parent,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="notes", path="corpus"),
        ],
    )
    report = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert report.status == "complete"
    notes = next(s for s in report.sources if s.name == "notes")
    assert sum(n for k, n in notes.warnings.items() if k.startswith("file skipped")) == 3
    counts = store.counts()
    assert counts.nodes["Document"] == 4 and counts.nodes["Chunk"] >= 4
    # every MENTIONS claim cites a span of its document's stored text
    doc = store.get_node("doc:note.md")
    assert doc is not None and doc.label is Label.DOCUMENT
    chunks = [
        n for _, n in store.neighbours("doc:note.md", types=[EdgeType.IN_DOCUMENT], direction="in")
    ]
    mentions = [(e, c) for c in chunks for e, _ in store.neighbours(c.id, types=[EdgeType.MENTIONS])]
    assert mentions
    for e, _chunk in mentions:
        for claim in e.claims:
            assert doc.props["text"][claim.start : claim.end] == claim.props["text"]
    said = {c.props["text"]: c.props["assertion"] for e, _ in mentions for c in e.claims}
    assert said == {"seizures": "absent", "type 2 diabetes": "historical"}
    # removing the corpus removes its documents, chunks and facts, not the vocabulary
    store.delete_source("notes")
    assert "Document" not in store.counts().nodes
    assert store.counts().nodes["Concept"] == len(small_table)
    store.close()


def test_corpus_rebuild_touches_only_changed_documents(
    corpus: Path, small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    recipe = Recipe(
        name="t",
        base_dir=corpus.parent,
        encoder="hashing",
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="notes", path="corpus"),
        ],
    )

    def build(directory: Path) -> tuple[SqliteGraphStore, dict[str, int]]:
        store = SqliteGraphStore(directory)
        report = Builder(recipe, store, table=small_table, settings=default_settings).run()
        assert report.status == "complete"
        return store, next(s for s in report.sources if s.name == "notes").documents

    store, first = build(tmp_path / "kb")
    assert first == {"added": 4, "changed": 0, "unchanged": 0, "removed": 0}
    (corpus / "note.md").write_text("# Clinic note\n\nThe patient has seizures and hypotonia.\n")
    (corpus / "page.html").unlink()
    (corpus / "new.txt").write_text("Family history of type 2 diabetes.")
    store.close()
    store, second = build(tmp_path / "kb")
    # z_copy.md, a copy of the old note.md, is no longer a duplicate: added with new.txt
    assert second == {"added": 2, "changed": 1, "unchanged": 2, "removed": 1}
    assert store.get_node("doc:page.html") is None
    note = store.get_node("doc:note.md")
    assert note is not None and "hypotonia" in note.props["text"]
    # the same graph as a build from scratch of the corpus as it is now
    fresh, _ = build(tmp_path / "fresh")
    assert store.counts() == fresh.counts()
    assert sorted(map(repr, store.iter_edges())) == sorted(map(repr, fresh.iter_edges()))
    # a document whose write was cut short (no checksum yet) is redone on the next build
    store.upsert_nodes([note.model_copy(update={"props": {**note.props, "checksum": None}})])
    (corpus / "new.txt").write_text("Family history of type 1 diabetes.")
    store.close()
    store, third = build(tmp_path / "kb")
    assert third == {"added": 0, "changed": 2, "unchanged": 3, "removed": 0}
    assert sorted(map(repr, store.iter_edges())) != sorted(map(repr, fresh.iter_edges()))
    store.close()
    fresh.close()


@pytest.mark.slow
def test_medquad_symptom_facts(
    table: ConceptTable, default_settings: Settings, fixtures: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mq"
    folder.mkdir()
    shutil.copy(fixtures / "docs/acromegaly.xml", folder)
    store = SqliteGraphStore(tmp_path / "kb")
    recipe = Recipe(
        name="t",
        base_dir=tmp_path,
        sources=[SourceSpec(kind="vocabularies"), SourceSpec(kind="corpus", name="mq", path="mq")],
    )
    assert Builder(recipe, store, table=table, settings=default_settings).run().status == "complete"
    acromegaly = table.resolve("UMLS:C0001206")
    assert acromegaly is not None
    facts = [
        (e, n)
        for e, n in store.neighbours(acromegaly, types=[EdgeType.HAS_FINDING])
        if any(c.source == "mq" for c in e.claims)
    ]
    names = {n.name.lower() for _, n in facts}
    assert {"fatigue", "headache"} & names
    doc = store.get_node("doc:acromegaly.xml")
    assert doc is not None
    for e, _ in facts:
        for c in e.claims:
            assert doc.props["text"][c.start : c.end] == c.props["text"]
    store.close()


def test_a_medquad_folder_reads_its_xml_only_and_names_pages_without_answers(tmp_path: Path) -> None:
    """The shipped MedQuAD folders hold a README and a licence: not read as MedQuAD pages."""
    shutil.copytree(Path(__file__).parent.parent / "corpora" / "medquad" / "5_NIDDK_QA", tmp_path / "q")
    (tmp_path / "README.md").write_text("# MedQuAD subset\n")
    (tmp_path / "LICENSE.txt").write_text("CC BY 4.0\n")
    out = list(read_corpus(tmp_path, format="medquad", source="m"))
    failures = [f for f in out if isinstance(f, ReadFailure)]
    assert not any(f.path.endswith((".md", ".txt")) for f in failures)
    assert failures and {f.kind for f in failures} == {"no answers"}
    assert sum(isinstance(d, SourceDocument) for d in out) > 100
