"""Retrieval on a small hand-made graph in the real embedded store: the likelihood-ratio
model (and its term-by-term explanation), PageRank, fusion, follow-up questions, passage
search with verified citations, and the Diagnoser's answers to bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgrag.config import Settings
from kgrag.errors import (
    ArtifactDamaged,
    IndexMismatch,
    InvalidRequest,
    NoUsableFindings,
    RetrievalNotBuilt,
)
from kgrag.graph.base import GraphStore
from kgrag.graph.builders import hpoa_edges
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.index.base import Vectors
from kgrag.index.encoders import HashingEncoder
from kgrag.ontology.hpo import DiseasePhenotype
from kgrag.ontology.records import Warnings
from kgrag.ontology.table import ConceptTable
from kgrag.retrieval.artifacts import artifacts_dir, build_artifacts
from kgrag.retrieval.compile import category_path, compile_model
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.differences import follow_ups
from kgrag.retrieval.fusion import reciprocal_rank_fusion, weighted_fusion
from kgrag.retrieval.model import FILE_NAME, DiagnosticModel, ScoringParams
from kgrag.retrieval.passages import PassageIndex
from kgrag.retrieval.ppr import PersonalizedPageRank
from kgrag.retrieval.rankers import RANKERS, RankedList, RankRequest
from kgrag.retrieval.types import FindingInput

DOC_TEXT = "Dermatitis X\n\nSymptoms: an itchy rash and fever are common.\n"
RASH_AT = DOC_TEXT.index("rash")

FINDINGS = {  # id: parent
    "F_ROOT": None,
    "F_NEURO": "F_ROOT",
    "F_SEIZ": "F_NEURO",
    "F_FOCAL": "F_SEIZ",
    "F_HYPO": "F_NEURO",
    "F_SKIN": "F_ROOT",
    "F_RASH": "F_SKIN",
    "F_FEVER": "F_ROOT",
}
DISEASES = {"D_EPI": "G_NEURO", "D_MYO": "G_NEURO", "D_DERM": "G_SKIN"}
ANNOTATIONS = [  # disease, finding, frequency, reference, polarity
    ("D_EPI", "F_FOCAL", 0.9, "PMID:1", "present"),
    ("D_EPI", "F_HYPO", 0.5, "PMID:1", "present"),
    ("D_MYO", "F_SEIZ", 0.3, "PMID:2", "present"),
    ("D_MYO", "F_HYPO", 0.9, "PMID:2", "present"),
    ("D_MYO", "F_FEVER", None, "PMID:2", "excluded"),  # the polarity's older name
    ("D_DERM", "F_FEVER", 0.8, "PMID:3", "present"),
]


def _node(i: str, tier: Tier, name: str | None = None) -> Node:
    return Node(id=i, label=Label.CONCEPT, name=name or i.lower(), tier=tier, codes=(i,), sources=("t",))


def _isa(child: str, parent: str) -> Edge:
    return Edge(src=child, type=EdgeType.IS_A, dst=parent, claims=(Claim(source="t"),))


def make_store(path: Path) -> SqliteGraphStore:
    store = SqliteGraphStore(path)
    fill(store)
    return store


def fill(store: GraphStore) -> None:
    nodes = [_node(f, Tier.FINDING) for f in FINDINGS]
    nodes += [_node(d, Tier.DISEASE) for d in DISEASES]
    nodes += [_node("G_NEURO", Tier.GROUP), _node("G_SKIN", Tier.GROUP), _node("C_ALL", Tier.CATEGORY)]
    doc = "doc:derm"
    nodes += [
        Node(
            id=doc,
            label=Label.DOCUMENT,
            name="Dermatitis X",
            sources=("c",),
            props={"text": DOC_TEXT, "focus": "D_DERM"},
        ),
        Node(
            id="chunk:derm/0",
            label=Label.CHUNK,
            name="Dermatitis X (symptoms)",
            sources=("c",),
            props={
                "text": DOC_TEXT[14:],
                "start": 14,
                "end": len(DOC_TEXT),
                "document": doc,
                "section": "symptoms",
            },
        ),
    ]
    edges = [_isa(f, p) for f, p in FINDINGS.items() if p]
    edges += [_isa(d, g) for d, g in DISEASES.items()]
    edges += [_isa("G_NEURO", "C_ALL"), _isa("G_SKIN", "C_ALL")]
    for d, f, freq, ref, polarity in ANNOTATIONS:
        props: dict[str, object] = {"polarity": polarity}
        if freq is not None:
            props["frequency"] = freq
        edges.append(
            Edge(
                src=d,
                type=EdgeType.HAS_FINDING,
                dst=f,
                props={"polarity": polarity},
                claims=(Claim(source="hpoa", reference=ref, props=props),),
            )
        )
    span = Claim(source="c", reference="chunk:derm/0", start=RASH_AT, end=RASH_AT + 4)
    edges.append(
        Edge(
            src="D_DERM",
            type=EdgeType.HAS_FINDING,
            dst="F_RASH",
            props={"polarity": "present"},
            claims=(span,),
        )
    )
    edges.append(
        Edge(
            src="chunk:derm/0",
            type=EdgeType.MENTIONS,
            dst="D_DERM",
            claims=(
                Claim(
                    source="c", reference="chunk:derm/0", start=0, end=12, props={"assertion": "present"}
                ),
            ),
        )
    )
    store.upsert_nodes(nodes)
    store.upsert_edges(edges)


@pytest.fixture()
def kb(tmp_path: Path) -> SqliteGraphStore:
    store = make_store(tmp_path / "kb")
    build_artifacts(store, fingerprint="fp1", encoder="hashing")
    return store


@pytest.fixture()
def model(kb: SqliteGraphStore) -> DiagnosticModel:
    return DiagnosticModel.load(artifacts_dir(kb) / FILE_NAME)


def ranked(
    model: DiagnosticModel, present: list[str], excluded: list[str] = (), **kw: object
) -> list[str]:  # type: ignore[assignment]
    t = model.term_index
    scores = model.score([t[p] for p in present], [t[e] for e in excluded], **kw)  # type: ignore[arg-type]
    return [model.diseases[i] for i in np.argsort(-scores, kind="stable")]


def test_compile_propagates_annotations_up_the_hierarchy(model: DiagnosticModel) -> None:
    assert sorted(model.diseases) == ["D_DERM", "D_EPI", "D_MYO"]
    d, t = model.disease_index, model.term_index
    assert model.F[d["D_EPI"], t["F_SEIZ"]] == pytest.approx(0.9)  # from F_FOCAL below it
    assert model.F[d["D_EPI"], t["F_ROOT"]] == pytest.approx(0.9)
    assert model.F[d["D_MYO"], t["F_FEVER"]] == 0  # an excluded annotation is not a finding
    assert model.F[d["D_DERM"], t["F_RASH"]] == pytest.approx(0.5)  # no frequency: the default
    assert model.ic[t["F_FOCAL"]] > model.ic[t["F_SEIZ"]] > model.ic[t["F_ROOT"]]


def test_compiled_category_paths_match_the_store(model: DiagnosticModel, kb: SqliteGraphStore) -> None:
    """The nearest group and category above each disease, compiled at build time, are what
    a walk of the store's IS_A edges finds."""
    for disease in model.diseases:
        compiled = [c for c, _, _ in model.category_path(disease)]
        walked = {n.tier: n.id for n, _ in sorted(kb.ancestors(disease), key=lambda a: -a[1])}
        assert compiled == [walked[t] for t in (Tier.GROUP, Tier.CATEGORY) if t in walked]
    assert [c for c, _, _ in model.category_path("D_DERM")] == ["G_SKIN", "C_ALL"]


def test_ranking_semantics(model: DiagnosticModel) -> None:
    assert ranked(model, ["F_FOCAL", "F_HYPO"])[0] == "D_EPI"
    assert ranked(model, ["F_RASH"])[0] == "D_DERM"
    # a seizure that is not focal: the disease that expects focal seizures loses ground
    full = model.with_params(ScoringParams(absent_weight=1.0))
    assert ranked(full, ["F_SEIZ", "F_HYPO"], ["F_FOCAL"])[0] == "D_MYO"
    t, epi = model.term_index, model.disease_index["D_EPI"]
    seiz = [t["F_SEIZ"], t["F_HYPO"]]
    assert model.score(seiz, [t["F_FOCAL"]])[epi] < model.score(seiz)[epi]  # softer, still against
    # fever argues against the disease annotated as never showing it
    order = ranked(model, ["F_HYPO", "F_FEVER"])
    assert order.index("D_EPI") < order.index("D_MYO")
    assert ranked(model, ["F_HYPO"]).index("D_MYO") < ranked(model, ["F_HYPO"]).index("D_EPI")


def test_dropping_references_removes_their_annotations(model: DiagnosticModel) -> None:
    with_paper = ranked(model, ["F_FOCAL"])
    without = ranked(model, ["F_FOCAL"], drop_references=["PMID:1"])
    assert with_paper[0] == "D_EPI" and without[-1] == "D_EPI"
    t, d = model.term_index, model.disease_index
    (match,) = model.explain(d["D_EPI"], [t["F_FOCAL"]], dropped={"PMID:1"})
    assert match.via is None and match.log_lr == pytest.approx(np.log(model.params.eps))


@settings(max_examples=40, deadline=None)
@given(
    present=st.lists(st.sampled_from(list(FINDINGS)), min_size=1, max_size=4),
    excluded=st.lists(st.sampled_from(list(FINDINGS)), max_size=3),
    drop=st.lists(st.sampled_from(["PMID:1", "PMID:2", "PMID:3"]), max_size=2),
)
def test_explain_sums_to_score(
    tmp_path_factory: pytest.TempPathFactory, present: list[str], excluded: list[str], drop: list[str]
) -> None:
    m = _shared_model(tmp_path_factory)
    p = [m.term_index[x] for x in present]
    e = [m.term_index[x] for x in excluded]
    scores = m.score(p, e, drop_references=drop)
    for d in range(len(m.diseases)):
        assert sum(x.log_lr for x in m.explain(d, p, e, set(drop))) == pytest.approx(scores[d])


_MODEL: list[DiagnosticModel] = []


def _shared_model(factory: pytest.TempPathFactory) -> DiagnosticModel:
    if not _MODEL:
        store = make_store(factory.mktemp("kb"))
        _MODEL.append(compile_model(store))
        store.close()
    return _MODEL[0]


def test_save_load_and_params(model: DiagnosticModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m.npz")
    again = DiagnosticModel.load(tmp_path / "m.npz")
    p = [model.term_index["F_SEIZ"]]
    assert np.allclose(model.score(p), again.score(p))
    sharper = model.with_params(ScoringParams(kappa=0.01))
    derm = model.disease_index["D_DERM"]  # matches a seizure only at the root: kappa applies
    assert sharper.score(p)[derm] < model.score(p)[derm]
    with pytest.raises(RetrievalNotBuilt, match="kgrag build"):
        DiagnosticModel.load(tmp_path / "missing.npz")


def test_pagerank_and_fusion(model: DiagnosticModel) -> None:
    ppr = PersonalizedPageRank(model)
    scores = ppr.score([model.term_index["F_RASH"]])
    assert model.diseases[int(np.argmax(scores))] == "D_DERM"
    fused = reciprocal_rank_fusion({"a": ["x", "y"], "b": ["y", "z"]}, {"a": 1.0, "b": 1.0}, k=1)
    assert list(fused) == ["y", "x", "z"] and fused["y"] == pytest.approx(1 / 3 + 1 / 2)
    w = weighted_fusion({"a": {"x": 2.0, "y": 0.0}, "b": {"y": 1.0}}, {"a": 1.0, "b": 2.0})
    assert list(w) == ["y", "x"]


def test_follow_ups_separate_the_candidates(model: DiagnosticModel) -> None:
    d, t = model.disease_index, model.term_index
    qs = follow_ups(model, [d["D_EPI"], d["D_MYO"]], [0.5, 0.5], [t["F_HYPO"]], [])
    assert qs and qs[0].finding.id in {"F_FOCAL", "F_SEIZ"}
    assert "D_EPI" in qs[0].supports and qs[0].question.startswith("Does the patient have")
    assert all(q.finding.id not in {"F_HYPO", "F_NEURO", "F_ROOT"} for q in qs)


def test_passage_index_checks_its_encoder(kb: SqliteGraphStore) -> None:
    directory = artifacts_dir(kb)
    index = PassageIndex.load(directory)
    assert index.encoder.name == HashingEncoder().name and len(index) == 1
    assert index.search("itchy rash", 3)[0][0] == "chunk:derm/0"
    with pytest.raises(IndexMismatch, match="built with encoder"):
        PassageIndex.load(directory, encoder=HashingEncoder(dim=64))


class CountingEncoder(HashingEncoder):
    """The real hashing encoder, counting the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def encode_documents(self, texts: list[str]) -> Vectors:
        self.embedded += texts
        return super().encode_documents(texts)


def test_passage_embeddings_are_reused(kb: SqliteGraphStore, tmp_path: Path) -> None:
    """Chunks whose text is unchanged keep their vectors; nothing is embedded twice."""
    out = tmp_path / "passages"
    extra = Node(id="chunk:derm/1", label=Label.CHUNK, name="c", sources=("c",), props={"text": "fever"})
    kb.upsert_nodes([extra])
    encoder = CountingEncoder()
    first = PassageIndex.build(kb, encoder, reuse=out)
    first.save(out)
    assert len(encoder.embedded) == 2
    again = PassageIndex.build(kb, encoder, reuse=out)
    assert len(encoder.embedded) == 2  # nothing re-embedded
    assert again.search("fever", 1) == first.search("fever", 1)
    kb.upsert_nodes([extra.model_copy(update={"props": {"text": "a high fever"}})])
    PassageIndex.build(kb, encoder, reuse=out)
    assert encoder.embedded[2:] == ["a high fever"]
    other = PassageIndex.build(kb, HashingEncoder(dim=64), reuse=out)  # other encoder: no reuse
    assert len(other) == 2 and other.encoder.dim == 64


def test_diagnoser_report_with_citations(kb: SqliteGraphStore) -> None:
    dx = Diagnoser(kb)
    report = dx.diagnose(findings=["F_RASH", {"id": "F_SEIZ", "excluded": True}], top_k=3)
    top = report.candidates[0]
    assert top.concept_id == "D_DERM" and top.rank == 1
    assert [c.id for c in top.category_path] == ["G_SKIN", "C_ALL"]
    rash = next(f for f in top.findings if f.finding.id == "F_RASH")
    cite = rash.citations[0]
    assert cite.kind == "passage" and cite.verified and cite.quote == "rash"
    assert DOC_TEXT[cite.start : cite.end] == "rash"  # type: ignore[misc]
    assert dx.verify(cite.model_copy(update={"quote": "rush"})) is False
    assert report.method == "graph" and top.passages and top.passages[0].citation.verified
    fused = dx.diagnose(findings=["F_RASH"], method="fused")
    assert fused.candidates[0].ranks == {"graph": 1, "vector": 1}
    ppr = dx.diagnose(findings=["F_RASH"], method="ppr")
    assert ppr.candidates[0].concept_id == "D_DERM" and "ppr" in ppr.candidates[0].ranks
    assert report.categories[0].id in {"G_SKIN", "C_ALL"}
    assert sum(c.probability for c in report.candidates) == pytest.approx(1.0, abs=1e-3)
    bundle = dx.retrieve(findings=["F_RASH"])
    assert bundle.passages and bundle.diseases[0].concept_id == "D_DERM"


def test_diagnoser_bad_input(kb: SqliteGraphStore, small_table: ConceptTable) -> None:
    dx = Diagnoser(kb, table=small_table)
    with pytest.raises(NoUsableFindings, match=r"only absent findings in the input \(absent: "):
        dx.diagnose(findings=[{"id": "F_RASH", "excluded": True}])  # names what it read
    with pytest.raises(NoUsableFindings, match="no finding"):
        dx.diagnose(findings=["NOPE:1"])
    report = dx.diagnose(
        findings=["F_RASH", "NOPE:1", {"id": "F_HYPO"}, {"id": "F_HYPO", "excluded": True}]
    )
    assert any("NOPE:1: unknown code" in i for i in report.query.ignored)
    assert any("both present and absent" in i for i in report.query.ignored)
    many = dx.diagnose(findings=["F_RASH"] * 1500, top_k=1)  # duplicates collapse
    assert len(many.query.present) == 1


def test_one_category_path_for_model_and_passage_diseases(tmp_path: Path) -> None:
    """A disease under two groups at the same depth gets the same path whether the model
    scores it or only a passage names it: one algorithm, compiled at build time."""
    store = make_store(tmp_path / "kb")
    store.upsert_nodes([_node("D_PASS", Tier.DISEASE), _node("D_TWO", Tier.DISEASE)])
    mention = Claim(source="c", reference="chunk:derm/0", start=0, end=3, props={"assertion": "present"})
    store.upsert_edges(
        [_isa(d, g) for d in ("D_PASS", "D_TWO") for g in ("G_SKIN", "G_NEURO")]
        + [
            Edge(src="chunk:derm/0", type=EdgeType.MENTIONS, dst="D_PASS", claims=(mention,)),
            Edge(
                src="D_TWO",
                type=EdgeType.HAS_FINDING,
                dst="F_RASH",
                claims=(Claim(source="hpoa", reference="PMID:9", props={"frequency": 0.9}),),
            ),
        ]
    )
    build_artifacts(store, fingerprint="fp2", encoder="hashing")
    dx = Diagnoser(store)
    assert "D_TWO" in dx.model.disease_index and "D_PASS" not in dx.model.disease_index
    parents: dict[str, list[str]] = {}
    for e in store.iter_edges([EdgeType.IS_A]):
        parents.setdefault(e.src, []).append(e.dst)
    nodes = list(store.iter_nodes(Label.CONCEPT))
    tiers = {n.id: n.tier for n in nodes if n.tier is not None}
    names = {n.id: n.name for n in nodes}
    for concept in ("D_PASS", "D_TWO", "D_DERM", "D_EPI", "G_SKIN"):
        walked = category_path(concept, parents, tiers, names)
        assert dx.model.category_path(concept) == walked
        assert [c.id for c in dx.evidence.category_path(concept)] == [c for c, _, _ in walked]
    assert [c for c, _, _ in dx.model.category_path("D_PASS")] == ["G_NEURO", "C_ALL"]  # smaller id
    report = dx.diagnose(findings=["F_RASH"], method="fused", top_k=5)
    paths = {c.concept_id: [p.id for p in c.category_path] for c in report.candidates}
    assert paths["D_PASS"] == paths["D_TWO"] == ["G_NEURO", "C_ALL"]  # passage-only and scored
    assert not hasattr(Diagnoser, "_category_path")


def test_evidence_levels(kb: SqliteGraphStore) -> None:
    """``none`` ranks only (no passage search), ``summary`` adds what the model knows,
    ``full`` adds citations and passages; the ranking is the same at every level."""
    dx = Diagnoser(kb)
    findings = ["F_RASH", "F_HYPO", {"id": "F_SEIZ", "absent": True}]
    none, summary, full = (
        dx.diagnose(findings=findings, evidence=e) for e in ("none", "summary", "full")
    )
    assert [c.concept_id for c in none.candidates] == [c.concept_id for c in full.candidates]
    assert [c.probability for c in none.candidates] == [c.probability for c in full.candidates]
    assert all(not (c.findings or c.category_path or c.passages) for c in none.candidates)
    assert not (none.categories or none.follow_ups) and "vector" not in none.timings_ms
    assert "vector" not in summary.timings_ms and "vector" in full.timings_ms
    assert all(not c.passages for c in summary.candidates) and summary.categories
    for s, f in zip(summary.candidates, full.candidates, strict=True):
        assert s.category_path == f.category_path
        assert [x.model_copy(update={"citations": []}) for x in f.findings] == s.findings
        assert all(not x.citations for x in s.findings)
    derm = next(c for c in full.candidates if c.concept_id == "D_DERM")
    assert derm.passages and derm.passages[0].citation.verified
    rash = next(x for x in derm.findings if x.finding.id == "F_RASH")
    assert rash.citations and rash.citations[0].verified
    assert dx.diagnose(findings=["F_RASH"], method="fused", evidence="none").candidates[0].ranks == {
        "graph": 1,
        "vector": 1,
    }  # the fused ranker still searches passages
    with pytest.raises(InvalidRequest, match="evidence"):
        dx.diagnose(findings=["F_RASH"], evidence="some")  # type: ignore[arg-type]


def test_absent_is_the_patient_side_word() -> None:
    """``absent`` marks a patient's missing finding; ``excluded`` is accepted as an alias."""
    for key in ("absent", "excluded"):
        f = FindingInput.model_validate({"id": "HP:1", key: True})
        assert f.absent and f.model_dump() == {"id": "HP:1", "absent": True}
    assert FindingInput(id="HP:1", absent=True).absent
    assert not FindingInput.model_validate({"id": "HP:1"}).absent
    with pytest.raises(ValueError):
        FindingInput.model_validate({"id": "HP:1", "negated": True})


class ReverseRanker:
    """A ranker made for the test: the graph's order backwards."""

    needs_passages = False

    def __init__(self, model: DiagnosticModel, settings: Settings) -> None:
        self.model = model

    def rank(self, request: RankRequest) -> RankedList:
        order = [self.model.diseases[i] for i in np.argsort(request.log_lr, kind="stable")]
        return RankedList(order, {d: -float(r) for r, d in enumerate(order)}, {})


def test_a_new_ranker_is_one_registry_line(
    kb: SqliteGraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(RANKERS) == {"graph", "ppr", "fused", "semantic", "ensemble"}
    monkeypatch.setitem(RANKERS, "reverse", ReverseRanker)
    dx = Diagnoser(kb)
    graph = [c.concept_id for c in dx.diagnose(findings=["F_RASH"], evidence="none").candidates]
    report = dx.diagnose(findings=["F_RASH"], method="reverse", evidence="summary")
    assert report.method == "reverse" and report.candidates[-1].concept_id == graph[0] == "D_DERM"
    lrs = [c.log_lr for c in report.candidates]
    assert lrs == sorted(lrs)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="unknown ranking method"):
        dx.diagnose(findings=["F_RASH"], method="nope")


def _hpoa(
    disease: str, phenotype: str, frequency: float | None, ref: str, negated: bool = False
) -> DiseasePhenotype:
    return DiseasePhenotype(disease, phenotype, negated, frequency, "", None, "PCS", ref, "P", None)


def test_zero_frequency_annotations_are_not_shown_facts(
    small_table: ConceptTable, tmp_path: Path
) -> None:
    """An HPO annotation seen in 0 of n patients is stored as a ``not_shown`` fact (the
    claim and the edge), as a NOT annotation is; the model compiled from the store agrees."""
    rows = [
        _hpoa("DOID:9352", "HP:0001250", 0.0, "PMID:1"),  # 0/7
        _hpoa("DOID:9352", "HP:0000707", 0.6, "PMID:2"),  # 3/5 ...
        _hpoa("DOID:9352", "HP:0000707", 0.0, "PMID:3"),  # ... and 0/4 in another paper
        _hpoa("DOID:9352", "HP:0000118", None, "PMID:4", negated=True),
    ]
    edges = {e.dst: e for e in hpoa_edges(rows, small_table, "hpoa", Warnings("hpoa"))}
    seizure, nervous, abnormality = (
        str(small_table.resolve(c)) for c in ("HP:0001250", "HP:0000707", "HP:0000118")
    )
    assert edges[seizure].props["polarity"] == "not_shown"
    assert [c.props["polarity"] for c in edges[seizure].claims] == ["not_shown"]
    assert edges[abnormality].props["polarity"] == "not_shown"
    assert edges[nervous].props["polarity"] == "present"  # one paper saw it
    assert sorted(str(c.props["polarity"]) for c in edges[nervous].claims) == ["not_shown", "present"]
    store = SqliteGraphStore(tmp_path / "kb")
    store.upsert_edges(edges.values())
    disease = str(small_table.resolve("DOID:9352"))
    (stored,) = store.edges([(disease, EdgeType.HAS_FINDING, seizure)])
    assert stored.props["polarity"] == "not_shown"  # what a Cypher user reads
    m = compile_model(store)
    d, t = m.disease_index[disease], m.term_index
    assert {(d, t[seizure]), (d, t[nervous]), (d, t[abnormality])} == m.not_shown_pairs
    shown = [a for a in m.by_disease[d] if not a.not_shown]
    assert [(m.terms[a.term], a.frequency) for a in shown] == [(nervous, 0.6)]


def test_not_shown_facts_in_the_evidence(kb: SqliteGraphStore) -> None:
    """A patient's finding that the disease is annotated as lacking is evidence against it,
    cited by the claims that say so."""
    lacking = Claim(source="hpoa", reference="PMID:7", props={"polarity": "not_shown", "frequency": 0.0})
    edge = Edge(
        src="D_EPI",
        type=EdgeType.HAS_FINDING,
        dst="F_RASH",
        props={"polarity": "not_shown"},
        claims=(lacking,),
    )
    kb.upsert_edges([edge])
    build_artifacts(kb, fingerprint="fp3", encoder="hashing")
    dx = Diagnoser(kb)
    for level in ("summary", "full"):
        report = dx.diagnose(findings=["F_RASH", "F_FEVER"], evidence=level, top_k=3)  # type: ignore[arg-type]
        by_id = {c.concept_id: c for c in report.candidates}
        rash = next(f for f in by_id["D_EPI"].findings if f.finding.id == "F_RASH")
        fever = next(f for f in by_id["D_MYO"].findings if f.finding.id == "F_FEVER")
        for ev, ref, disease in ((rash, "PMID:7", "D_EPI"), (fever, "PMID:2", "D_MYO")):
            assert ev.not_shown and not ev.absent and ev.frequency is None
            assert ev.log_lr == pytest.approx(np.log(dx.model.params.contradicted), abs=1e-4)
            assert ev.path == [ev.finding.id, disease]  # finding <-HAS_FINDING{not_shown}- disease
            assert [c.reference for c in ev.citations] == ([ref] if level == "full" else [])
    derm = dx.diagnose(findings=["F_RASH"]).candidates[0]
    assert derm.concept_id == "D_DERM" and not any(f.not_shown for f in derm.findings)


def test_a_finding_with_its_descendants_counts_once(
    model: DiagnosticModel, kb: SqliteGraphStore
) -> None:
    t = model.term_index
    focal, seiz, neuro, hypo, rash = (t[x] for x in ("F_FOCAL", "F_SEIZ", "F_NEURO", "F_HYPO", "F_RASH"))
    assert np.allclose(model.score([seiz, focal]), model.score([focal]))
    assert np.allclose(model.score([neuro, focal, seiz]), model.score([focal]))
    assert not np.allclose(model.score([focal, hypo]), model.score([focal]))  # siblings both count
    assert np.allclose(model.score([rash], [seiz, neuro]), model.score([rash], [neuro]))
    assert model.distinct([seiz, focal, hypo], [focal, neuro]) == ([focal, hypo], [neuro])
    d = model.disease_index["D_EPI"]
    assert [x.term for x in model.explain(d, [seiz, focal])] == [focal]
    report = Diagnoser(kb).diagnose(findings=["F_SEIZ", "F_FOCAL"], evidence="summary")
    assert [f.finding.id for f in report.candidates[0].findings] == ["F_FOCAL"]
    assert [f.id for f in report.query.present] == ["F_SEIZ", "F_FOCAL"]  # as the patient said


@pytest.mark.neo4j
def test_neo4j_vector_index_agrees_with_exact_search(tmp_path: Path) -> None:
    import os

    from kgrag.graph.neo4j_store import Neo4jGraphStore
    from kgrag.graph.neo4j_vectors import Neo4jVectorIndex
    from kgrag.index.vectors import ExactIndex

    store = Neo4jGraphStore(os.environ["KGRAG_TEST_NEO4J_URI"])
    store.clear()
    try:
        words = [
            "rash",
            "fever",
            "cough",
            "seizure",
            "headache",
            "ataxia",
            "anemia",
            "edema",
            "jaundice",
            "tremor",
        ]
        texts = [f"{a} with {b}" for a in words for b in words[:4] if a != b]
        ids = [f"chunk:t/{i}" for i in range(len(texts))]
        store.upsert_nodes(Node(id=c, label=Label.CHUNK, sources=("t",)) for c in ids)
        encoder = HashingEncoder(dim=64)
        vectors = encoder.encode_documents(texts)
        exact = ExactIndex(64, encoder.name)
        exact.add(vectors)
        neo = Neo4jVectorIndex(store, 64, encoder.name, ids, batch=7)
        neo.add(vectors[:20])
        neo.add(vectors[20:])
        assert len(neo) == len(ids)
        queries = encoder.encode_queries(["tremor with seizure", "jaundice and fever"])
        (s_exact, i_exact), (s_neo, i_neo) = exact.search(queries, 5), neo.search(queries, 5)
        assert i_neo[:, 0].tolist() == i_exact[:, 0].tolist()
        assert np.allclose(s_neo, s_exact, atol=1e-4)
        neo.save(tmp_path / "p.index")
        again = Neo4jVectorIndex.load(tmp_path / "p.index", store=store, keys=ids, encoder=encoder.name)
        assert again.search(queries, 1)[1].tolist() == i_exact[:, :1].tolist()
        with pytest.raises(IndexMismatch):
            Neo4jVectorIndex.load(tmp_path / "p.index", store=store, keys=ids, encoder="another")
        Neo4jVectorIndex(store, 32, "other", ids).add(np.eye(32, dtype=np.float32))
        with pytest.raises(IndexMismatch, match="rerun `kgrag build"):  # the vectors were replaced
            Neo4jVectorIndex.load(tmp_path / "p.index", store=store, keys=ids, encoder=encoder.name)
    finally:
        store.cypher("DROP INDEX kg_chunk_embedding IF EXISTS")
        store.clear()
        store.close()


def test_stale_artifacts_are_refused(kb: SqliteGraphStore, default_settings: Settings) -> None:
    kb.set_meta("retrieval", "another-build")  # the artifacts' manifest names another build
    with pytest.raises(ArtifactDamaged, match=r"another build.*rerun `kgrag build`"):
        Diagnoser(kb, settings=default_settings)


@pytest.mark.neo4j
def test_retrieval_over_neo4j(default_settings: Settings) -> None:
    """The same artifacts and answers from a real Neo4j (the contract suite's server)."""
    import os

    from kgrag.graph.neo4j_store import Neo4jGraphStore

    store = Neo4jGraphStore(os.environ["KGRAG_TEST_NEO4J_URI"])
    store.clear()
    try:
        fill(store)
        build_artifacts(store, fingerprint="neo", encoder="hashing", settings=default_settings)
        directory = artifacts_dir(store, default_settings)
        assert directory.is_relative_to(default_settings.cache_dir)
        # the passages' vectors live in Neo4j's own vector index
        passages = PassageIndex.load(directory, store=store)
        assert passages.index.kind == "neo4j"  # type: ignore[attr-defined]
        (hit, cosine), *_ = passages.search("itchy rash", 3)
        assert hit == "chunk:derm/0" and -1.0 <= cosine <= 1.0
        with pytest.raises(RetrievalNotBuilt, match="live in Neo4j"):
            PassageIndex.load(directory)
        report = Diagnoser(store, settings=default_settings).diagnose(findings=["F_RASH"], top_k=2)
        top = report.candidates[0]
        assert top.concept_id == "D_DERM" and [c.id for c in top.category_path] == ["G_SKIN", "C_ALL"]
        assert top.findings[0].citations[0].verified and top.passages
    finally:
        store.clear()
        store.close()


def test_a_disease_named_above_its_subtypes_inherits_what_most_of_them_share() -> None:
    """Parkinson disease above numbered genetic forms: the findings most forms show."""
    from kgrag.retrieval.compile import inherit_from_subtypes

    def claim(f: float | None) -> tuple[list[Claim], set[str]]:
        return [Claim(source="HPOA", props={} if f is None else {"frequency": f})], {"PMID:1"}

    merged = {
        ("PD1", "TREMOR", False): claim(1.0),
        ("PD2", "TREMOR", False): claim(0.5),
        ("PD3", "TREMOR", False): claim(None),
        ("PD1", "RIGIDITY", False): claim(1.0),
        ("PD2", "RIGIDITY", False): claim(1.0),
        ("PD3", "DEAFNESS", False): claim(1.0),  # one form of three: not inherited
        ("PD1", "ANOSMIA", True): ([], {"PMID:2"}),  # not shown: never inherited
        ("CYST2", "PAIN", False): claim(1.0),  # a parent with one subtype: left alone
    }
    parents = {
        "PD1": ["PD"], "PD2": ["PD"], "PD3": ["PD_AR"], "PD_AR": ["PD"],
        "CYST2": ["CYST"], "PD_LIKE_PHENOTYPE": ["PD"],
    }  # fmt: skip
    tiers = {c: Tier.DISEASE for c in ["PD", "PD1", "PD2", "PD3", "PD_AR", "CYST", "CYST2"]}
    tiers["PD_LIKE_PHENOTYPE"] = Tier.FINDING
    out = inherit_from_subtypes(merged, parents, tiers)  # type: ignore[arg-type]
    assert out == {"PD": ["PD1", "PD2", "PD3"]}  # PD_AR (no annotations) is passed through
    inherited = {t: c for (d, t, ns), c in merged.items() if d == "PD"}
    assert set(inherited) == {"TREMOR", "RIGIDITY"}
    tremor = inherited["TREMOR"][0][0].props["frequency"]
    assert tremor == pytest.approx((1.0 + 0.5 + 0.5) / 3)  # unknown frequency counts 0.5
    assert inherited["RIGIDITY"][0][0].props["frequency"] == pytest.approx(2 / 3)
    assert inherited["TREMOR"][1] == {"PMID:1"}  # the subtypes' references, for dropping
    assert not any(d == "CYST" for d, _, _ in merged)


def test_follow_up_questions_from_names_and_from_questions() -> None:
    from kgrag.retrieval.differences import _question

    assert _question("Fever") == "Does the patient have fever?"
    assert _question("Have you had chills or shivers?") == "Have you had chills or shivers?"
    assert _question("Characterize your pain:") == "Characterize your pain:"
