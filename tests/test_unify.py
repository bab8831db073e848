"""Unification on hand-built load results: merges, refused merges, aliases, names."""

from __future__ import annotations

from pathlib import Path

from kgrag.ontology.records import Equivalence, LoadResult, SourceConcept
from kgrag.ontology.sssom import load_sssom
from kgrag.ontology.table import ConceptTable
from kgrag.ontology.umls_rrf import load_umls_rrf
from kgrag.ontology.unify import unify
from kgrag.types import SemanticKind, SourceInfo, SynonymScope


def result(
    name: str,
    concepts: list[SourceConcept],
    eqs: list[Equivalence] = (),  # type: ignore[assignment]
    aliases: dict[str, str] | None = None,
) -> LoadResult:
    return LoadResult(
        info=SourceInfo(name=name, version="t", license="t"),
        concepts=concepts,
        equivalences=list(eqs),
        aliases=aliases or {},
    )


def sc(cid: str, name: str, kind: SemanticKind = SemanticKind.DISEASE, **kw) -> SourceConcept:  # type: ignore[no-untyped-def]
    return SourceConcept(id=cid, name=name, kind=kind, source=cid.split(":")[0], **kw)


def test_merge_conflict_alias_and_synonyms() -> None:
    a = result(
        "A",
        [
            sc("MONDO:1", "flu", synonyms=[("Influenza", SynonymScope.EXACT, None)]),
            sc("MONDO:2", "grippe"),
            sc("MONDO:3", "measles", parents=["MONDO:1"]),
        ],
        [
            Equivalence("MONDO:1", "MESH:D1", "A SSSOM exactMatch"),
            Equivalence("MONDO:1", "UMLS:C1", "A SSSOM exactMatch"),
            Equivalence("MONDO:2", "MESH:D1", "A SSSOM exactMatch"),
        ],
    )  # second MONDO on one MeSH
    b = result(
        "B",
        [sc("MESH:D1", "Influenza, Human", synonyms=[("influenza", SynonymScope.EXACT, None)])],
        aliases={"MESH:D0": "MESH:D1"},
    )
    data = unify([a, b])
    t = ConceptTable(data)
    flu = t.get("MESH:D1")
    assert flu.id == "UMLS:C1"  # the single CUI becomes the stable id
    assert set(flu.codes) == {"MONDO:1", "MESH:D1", "UMLS:C1"}
    assert flu.name == "flu"  # MONDO name preferred for diseases
    assert t.get("MESH:D0").id == "UMLS:C1"  # retired id resolves through its alias
    texts = [s.text for s in flu.synonyms]
    assert len({x.lower() for x in texts}) == len(texts)  # de-duplicated after normalization
    assert t.get("MONDO:2").id == "MONDO:2"  # refused merge keeps them apart ...
    assert len(t.conflicts) == 1 and t.conflicts[0].left == "MONDO:2"  # ... and reports it
    assert t.get("MONDO:3").parents == ("UMLS:C1",)
    assert [c.id for c in t.ancestors("MONDO:3")] == ["UMLS:C1"]
    assert [c.id for c in t.children("UMLS:C1")] == ["MONDO:3"]


def test_weak_link_that_would_join_two_cuis_is_refused() -> None:
    a = result(
        "A",
        [sc("HP:1", "Fever", SemanticKind.FINDING), sc("MONDO:9", "fever")],
        [
            Equivalence("HP:1", "UMLS:C1", "x SSSOM exactMatch"),
            Equivalence("MONDO:9", "UMLS:C2", "x SSSOM exactMatch"),
            Equivalence("HP:1", "MONDO:9", "y"),
        ],
    )
    t = ConceptTable(unify([a]))
    # strong links first; the weak HP~MONDO link is refused: it would join two CUIs
    assert t.get("HP:1").id == "UMLS:C1" and t.get("HP:1").kind is SemanticKind.FINDING
    assert t.get("MONDO:9").id == "UMLS:C2"
    # refused twice: the declared link and the lexical one (equal names "Fever"/"fever")
    assert {c.evidence for c in t.conflicts} == {"y", "lexical: equal preferred names"}
    assert all("two ids of one vocabulary" in c.reason for c in t.conflicts)


def test_umls_rrf_joins_open_vocabularies(fixtures: Path) -> None:
    mondo = load_sssom(sorted((fixtures / "mondo").glob("*.sssom.tsv")), version="t")
    umls = load_umls_rrf(fixtures / "umls")
    t = ConceptTable(unify([mondo, umls]))
    # the synthetic CUI C9999001 carries MSH D003924, which MONDO maps to MONDO:0005148;
    # MONDO also maps it to the real CUI C0011860, so the join is refused and reported.
    assert t.resolve("MESH:D003924") == t.resolve("MONDO:0005148")
    assert any(
        c.right in ("MESH:D003924", "HP:0005978", "OMIM:125853") or c.left == "UMLS:C9999001"
        for c in t.conflicts
    )
    assert t.get("UMLS:C9999003").kind is SemanticKind.FINDING
