"""Malformed, truncated and mis-encoded sources: a clear error naming file and line, or a
counted warning where skipping is safe. Never a silent partial load."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kgrag.errors import OntologyFormatError, OntologySourceMissing
from kgrag.ontology.disease_ontology import DoFiles, load_disease_ontology
from kgrag.ontology.hpo import load_hpo, load_hpoa
from kgrag.ontology.mesh import MeshFiles, load_mesh
from kgrag.ontology.obo import parse_obo
from kgrag.ontology.records import Warnings
from kgrag.ontology.sssom import load_sssom
from kgrag.ontology.umls_rrf import load_umls_rrf

HEADER = "format-version: 1.2\ndata-version: test/2026\n\n"


def obo(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "t.obo"
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def test_obo_is_a_cycle_names_file_and_line(tmp_path: Path) -> None:
    p = obo(tmp_path, "[Term]\nid: X:1\nname: a\nis_a: X:2\n\n[Term]\nid: X:2\nname: b\nis_a: X:1\n")
    with pytest.raises(OntologyFormatError, match=r"t\.obo:\d+: is_a cycle") as e:
        parse_obo(p, Warnings("t"))
    assert e.value.line in (7, 12)


def test_obo_duplicate_id(tmp_path: Path) -> None:
    p = obo(tmp_path, "[Term]\nid: X:1\nname: a\n\n[Term]\nid: X:1\nname: again\n")
    with pytest.raises(OntologyFormatError, match=r"t\.obo:9: duplicate id X:1 .*line 5"):
        parse_obo(p, Warnings("t"))


def test_obo_truncated_stanza(tmp_path: Path) -> None:
    p = obo(tmp_path, "[Term]\nid: X:1\nname: a\n\n[Term]\nid: X:2\n")
    with pytest.raises(OntologyFormatError, match="X:2 has no name"):
        parse_obo(p, Warnings("t"))


def test_obo_malformed_synonym_and_tag(tmp_path: Path) -> None:
    p = obo(tmp_path, '[Term]\nid: X:1\nname: a\nsynonym: "unclosed EXACT []\n')
    with pytest.raises(OntologyFormatError, match=r":7: synonym"):
        parse_obo(p, Warnings("t"))
    p = obo(tmp_path, "[Term]\nid: X:1\nthis line has no colon\n")
    with pytest.raises(OntologyFormatError, match="expected 'tag: value'"):
        parse_obo(p, Warnings("t"))


def test_obo_unknown_xref_prefix_is_counted(tmp_path: Path) -> None:
    p = obo(tmp_path, "[Term]\nid: X:1\nname: a\nxref: NOPE:1\nxref: UMLS:C0000001\n")
    w = Warnings("t")
    doc = parse_obo(p, w)
    assert doc.terms["X:1"].xrefs == ["UMLS:C0000001"]
    assert w.counts["xref with unknown prefix"] == 1


def test_wrong_encoding(tmp_path: Path) -> None:
    p = tmp_path / "latin1.obo"
    p.write_bytes((HEADER + "[Term]\nid: X:1\nname: Sj\xf6gren\n").encode("latin-1"))
    with pytest.raises(OntologyFormatError, match=r"latin1\.obo:6: not valid UTF-8 .*0xf6"):
        parse_obo(p, Warnings("t"))


def test_truncated_gzip(fixtures: Path, tmp_path: Path) -> None:
    blob = gzip.compress((fixtures / "hpo/hp_mini.obo").read_bytes())
    p = tmp_path / "hp.obo.gz"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(OntologyFormatError, match="truncated or corrupt"):
        load_hpo(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OntologySourceMissing):
        load_hpo(tmp_path / "nope.obo")


def test_tsv_wrong_column_count(fixtures: Path, tmp_path: Path) -> None:
    rows = (fixtures / "mesh/mesh_desc_C_F03.tsv").read_text().splitlines()
    rows[3] = rows[3].rsplit("\t", 2)[0]  # a truncated row
    p = tmp_path / "mesh.tsv"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(OntologyFormatError, match=r"mesh\.tsv:4: expected 6 .*found 4"):
        load_mesh(MeshFiles(p))


def test_do_report_cycle(tmp_path: Path) -> None:
    human = tmp_path / "HumanDO.tsv"
    human.write_text('id\tlabel\tsubClassOf\n"DOID:1"\t"a"\t"b"\n"DOID:2"\t"b"\t"a"\n')
    xrefs = tmp_path / "x.tsv"
    xrefs.write_text("id\tlabel\txref\n")
    with pytest.raises(OntologyFormatError, match=r"HumanDO\.tsv:\d: is_a cycle"):
        load_disease_ontology(DoFiles(human, xrefs), "t")


def test_sssom_truncated_row_and_unknown_prefix(fixtures: Path, tmp_path: Path) -> None:
    text = (fixtures / "mondo/mondo_exactmatch_doid.sssom.tsv").read_text()
    good = tmp_path / "ok.sssom.tsv"
    good.write_text(text + "MONDO:1\tx\tskos:exactMatch\tWHAT:1\ty\tsemapv:Manual\n")
    r = load_sssom([good], version="t")
    assert r.warnings is not None and r.warnings.counts["mapping with unknown prefix"] == 1
    bad = tmp_path / "bad.sssom.tsv"
    bad.write_text(text + "MONDO:1\tx\tskos:exactMatch\n")
    with pytest.raises(OntologyFormatError, match=r"bad\.sssom\.tsv:\d+: expected 6 columns"):
        load_sssom([bad], version="t")


def test_hpoa_bad_header(tmp_path: Path) -> None:
    p = tmp_path / "p.hpoa"
    p.write_text("#version: x\n" + "\t".join(["database_id"] + ["c"] * 11) + "\n")
    with pytest.raises(OntologyFormatError, match="unexpected header"):
        load_hpoa(p)


def test_rrf_truncated_line(fixtures: Path, tmp_path: Path) -> None:
    meta = tmp_path / "META"
    meta.mkdir()
    lines = (fixtures / "umls/MRCONSO.RRF").read_text().splitlines()
    lines[2] = lines[2][:40]
    (meta / "MRCONSO.RRF").write_text("\n".join(lines) + "\n")
    with pytest.raises(OntologyFormatError, match=r"MRCONSO\.RRF:3: expected 18"):
        load_umls_rrf(meta)
    with pytest.raises(OntologySourceMissing, match="KGRAG_UMLS_DIR"):
        load_umls_rrf(tmp_path / "nowhere")
