"""One contract for every GraphStore: the embedded SQLite store always, a real Neo4j when
KGRAG_TEST_NEO4J_URI points at one (see .ci/run)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kgrag.errors import GraphError
from kgrag.graph.base import GraphStore
from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node, Tier, edge_frequency, merge_props
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.graph.traversal import Traversal

H = EdgeType.HAS_FINDING
ISA = EdgeType.IS_A


def concept(cid: str, tier: Tier, source: str = "vocab") -> Node:
    return Node(
        id=cid, label=Label.CONCEPT, name=cid.lower(), tier=tier, sources=(source,), codes=(cid,)
    )


def edge(src: str, typ: EdgeType, dst: str, source: str = "vocab", **props: object) -> Edge:
    return Edge(
        src=src,
        type=typ,
        dst=dst,
        claims=(Claim(source=source, reference=f"{source}-ref", props=dict(props)),),
    )


NODES = [
    concept("CAT", Tier.CATEGORY),
    concept("GRP", Tier.GROUP),
    concept("D1", Tier.DISEASE),
    concept("D2", Tier.DISEASE),
    concept("F1", Tier.FINDING),
    concept("F2", Tier.FINDING),
    concept("F3", Tier.FINDING),
]
EDGES = [
    edge("GRP", ISA, "CAT"),
    edge("D1", ISA, "GRP"),
    edge("D2", ISA, "GRP"),
    edge("D1", H, "F1", frequency=0.9),
    edge("D1", H, "F2", frequency=0.2),
    edge("D2", H, "F2", frequency=0.8),
    edge("D2", H, "F3", polarity="excluded"),
]


def _sqlite(tmp_path: Path) -> Iterator[GraphStore]:
    store = SqliteGraphStore(tmp_path / "kb", batch_size=3)  # small batches: many commits
    yield store
    store.close()


def _open_neo4j() -> GraphStore:
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    return Neo4jGraphStore(
        os.environ["KGRAG_TEST_NEO4J_URI"],
        auth=(
            os.environ.get("KGRAG_TEST_NEO4J_USER", "neo4j"),
            os.environ.get("KGRAG_TEST_NEO4J_PASSWORD", ""),
        ),
        batch_size=3,
    )


def _neo4j(tmp_path: Path) -> Iterator[GraphStore]:
    store = _open_neo4j()
    store.clear()  # type: ignore[attr-defined]
    yield store
    store.close()
    with _open_neo4j() as cleaner:  # a fresh one: the test may have closed its store
        cleaner.clear()  # type: ignore[attr-defined]


STORES: dict[str, Callable[[Path], Iterator[GraphStore]]] = {"sqlite": _sqlite}
PARAMS = [pytest.param("sqlite"), pytest.param("neo4j", marks=pytest.mark.neo4j)]


@pytest.fixture(params=PARAMS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    factory = _sqlite if request.param == "sqlite" else _neo4j
    gen = factory(tmp_path)
    s = next(gen)
    s.upsert_nodes(NODES)
    s.upsert_edges(EDGES)
    yield s
    next(gen, None)


def test_protocol_and_counts(store: GraphStore) -> None:
    assert isinstance(store, GraphStore)
    c = store.counts()
    assert c.nodes == {"Concept": 7}
    assert c.edges == {"IS_A": 3, "HAS_FINDING": 4}
    assert c.tiers == {"category": 1, "group": 1, "disease": 2, "finding": 3}


def test_upsert_is_idempotent_and_merges(store: GraphStore) -> None:
    store.upsert_nodes(NODES)
    store.upsert_edges(EDGES)
    assert store.counts().edges == {"IS_A": 3, "HAS_FINDING": 4}
    store.upsert_nodes([concept("D1", Tier.DISEASE, source="other")])
    store.upsert_edges([edge("D1", H, "F1", source="other", frequency=0.5)])
    node = store.get_node("D1")
    assert node is not None and set(node.sources) == {"vocab", "other"}
    ((e, f1),) = [(e, n) for e, n in store.neighbours("D1", types=[H]) if n.id == "F1"]
    assert {c.source for c in e.claims} == {"vocab", "other"}
    assert f1.tier is Tier.FINDING


def test_neighbours(store: GraphStore) -> None:
    out = {n.id for _, n in store.neighbours("D2", types=[H])}
    assert out == {"F2", "F3"}
    excluded = next(e for e, n in store.neighbours("D2", types=[H]) if n.id == "F3")
    assert excluded.claims[0].props["polarity"] == "excluded"
    into = {n.id for _, n in store.neighbours("F2", types=[H], direction="in")}
    assert into == {"D1", "D2"}
    both = {n.id for _, n in store.neighbours("GRP", direction="both")}
    assert both == {"CAT", "D1", "D2"}
    assert store.neighbours("nope") == []


def test_hierarchy(store: GraphStore) -> None:
    assert isinstance(store, Traversal)  # descendants: a Traversal helper, not the contract
    assert [(n.id, d) for n, d in store.ancestors("D1")] == [("GRP", 1), ("CAT", 2)]
    assert [n.id for n, _ in store.ancestors("D1", max_depth=1)] == ["GRP"]
    assert {n.id for n, _ in store.descendants("CAT")} == {"GRP", "D1", "D2"}
    store.upsert_edges([edge("CAT", ISA, "D1", source="bad")])  # a cycle must not hang
    assert {n.id for n, _ in store.ancestors("D1", max_depth=10)} == {"GRP", "CAT"}


def test_paths_and_subgraph(store: GraphStore) -> None:
    assert isinstance(store, Traversal)  # paths: a Traversal helper, not the contract
    paths = store.paths(["F1", "F3"], ["CAT"], max_hops=4, direction="both")
    assert paths and paths[0].nodes[0] in ("F1", "F3") and paths[0].nodes[-1] == "CAT"
    assert all(len(p.edges) == len(p.nodes) - 1 for p in paths)
    down = store.paths(["D1"], ["F1", "F2"], types=[H])
    assert {p.nodes[-1] for p in down} == {"F1", "F2"} and all(len(p.edges) == 1 for p in down)
    assert store.paths(["F1"], ["CAT"], max_hops=1, direction="both") == []
    sub = store.subgraph(["D1", "D2"], hops=1, types=[H])
    assert {n.id for n in sub.nodes} == {"D1", "D2", "F1", "F2", "F3"}
    assert len(sub.edges) == 4


def test_delete_source(store: GraphStore) -> None:
    store.upsert_nodes([concept("F9", Tier.FINDING, source="doc:1")])
    store.upsert_edges([edge("D1", H, "F9", source="doc:1"), edge("D1", H, "F1", source="doc:1")])
    assert store.delete_source("doc:1")["nodes"] == 1
    assert store.get_node("F9") is None
    d1 = {n.id for _, n in store.neighbours("D1", types=[H])}
    assert d1 == {"F1", "F2"}  # F1 is still held by "vocab"
    store.delete_source("vocab")
    assert store.counts().nodes == {} and store.counts().edges == {}


def _document(doc: str, chunks: list[str], source: str = "notes") -> tuple[list[Node], list[Edge]]:
    nodes = [Node(id=doc, label=Label.DOCUMENT, name=doc, sources=(source,))]
    edges = []
    for i, c in enumerate(chunks):
        nodes.append(Node(id=c, label=Label.CHUNK, name=c, sources=(source,)))
        edges.append(edge(c, EdgeType.IN_DOCUMENT, doc, source=source))
        edges.append(
            Edge(src=c, type=EdgeType.MENTIONS, dst="F1", claims=(Claim(source=source, reference=c),))
        )
        # facts cited from the chunk's text that the vocabulary asserts too
        for d, f in (("D1", "F2"), ("D2", "F3")):
            span = Claim(source=source, reference=c, start=i, end=i + 4)
            edges.append(Edge(src=d, type=H, dst=f, claims=(span,)))
    return nodes, edges


def test_delete_documents(store: GraphStore) -> None:
    for doc, chunks in (("doc:a", ["chunk:a#0", "chunk:a#1"]), ("doc:b", ["chunk:b#0"])):
        nodes, edges = _document(doc, chunks)
        store.upsert_nodes(nodes)
        store.upsert_edges(edges)
    assert store.counts().nodes["Chunk"] == 3
    removed = store.delete_documents(["doc:a", "doc:missing"])
    assert removed["nodes"] == 3  # the document and its two chunks
    assert store.get_nodes(["doc:a", "chunk:a#0", "chunk:a#1"]) == {}
    assert store.get_node("chunk:b#0") is not None
    # D1 -> F2 is asserted by the vocabulary and chunks of both documents: b's claim stays
    (d1f2,) = store.edges([("D1", H, "F2")])
    refs = sorted(c.reference or "" for c in d1f2.claims)
    assert refs == ["chunk:b#0", "vocab-ref"]
    store.delete_documents(["doc:b"])
    for key in (("D1", H, "F2"), ("D2", H, "F3")):
        (fact,) = store.edges([key])
        assert [c.source for c in fact.claims] == ["vocab"]
    assert "Chunk" not in store.counts().nodes and "MENTIONS" not in store.counts().edges
    assert store.delete_documents([]) == {"claims": 0, "edges": 0, "nodes": 0}


def test_delete_documents_drops_facts_they_alone_held(store: GraphStore) -> None:
    nodes, edges = _document("doc:c", ["chunk:c#0"])
    store.upsert_nodes(nodes)
    store.upsert_edges(
        [
            *edges,
            Edge(src="D2", type=H, dst="F1", claims=(Claim(source="notes", reference="chunk:c#0"),)),
        ]
    )
    assert store.edges([("D2", H, "F1")])
    store.delete_documents(["doc:c"])
    assert store.edges([("D2", H, "F1")]) == []
    assert store.get_node("F1") is not None  # concepts are the vocabulary's


def test_bulk_reads(store: GraphStore) -> None:
    concepts = {n.id: n for n in store.iter_nodes(Label.CONCEPT)}
    assert set(concepts) == {n.id for n in NODES}
    assert concepts["D1"].sources == ("vocab",) and concepts["D1"].codes == ("D1",)
    assert list(store.iter_nodes(Label.CHUNK)) == []
    assert set(store.get_nodes(["D1", "F3", "NOPE"])) == {"D1", "F3"}
    findings = {(e.src, e.dst): e for e in store.iter_edges([H])}
    assert set(findings) == {("D1", "F1"), ("D1", "F2"), ("D2", "F2"), ("D2", "F3")}
    assert findings[("D1", "F1")].claims[0].props["frequency"] == 0.9
    store.upsert_edges([edge("D1", H, "F1", source="other", frequency=0.5)])
    claims = next(e for e in store.iter_edges([H]) if (e.src, e.dst) == ("D1", "F1")).claims
    assert sorted(c.source for c in claims) == ["other", "vocab"]
    assert len(list(store.iter_edges())) == len(EDGES)


def test_props_merge_key_by_key(store: GraphStore) -> None:
    """Both stores: each prop given replaces that key whole, None removes it, the rest stays
    (nodes and edges alike: :func:`kgrag.graph.schema.merge_props`)."""
    doc = Node(
        id="doc:p",
        label=Label.DOCUMENT,
        name="p",
        sources=("notes",),
        props={"title": "T", "checksum": "abc", "tags": ["a", "b"], "meta": {"x": 1, "y": 2}},
    )
    store.upsert_nodes([doc])
    store.upsert_nodes(
        [doc.model_copy(update={"props": {"checksum": None, "tags": ["c"], "meta": {"x": 3}}})]
    )
    got = store.get_nodes(["doc:p"])["doc:p"].props
    want = merge_props(doc.props, {"checksum": None, "tags": ["c"], "meta": {"x": 3}})
    assert got == want == {"title": "T", "tags": ["c"], "meta": {"x": 3}}
    first = Edge(src="D1", type=H, dst="F3", props={"polarity": "present", "onset": "infancy"},
                 claims=(Claim(source="s1", reference="r1"),))  # fmt: skip
    store.upsert_edges([first])
    store.upsert_edges([first.model_copy(update={"props": {"polarity": "excluded", "onset": None}})])
    (e,) = store.edges([("D1", H, "F3")])
    assert e.props == {"polarity": "excluded"}
    assert next(x for x in store.iter_edges([H]) if x.dst == "F3" and x.src == "D1").props == e.props


def test_frequency_derived_from_claims(store: GraphStore) -> None:
    """An edge's frequency is edge_frequency(claims) on every read path of every store."""
    store.upsert_edges([edge("D1", H, "F1", source="other", frequency=0.5)])
    store.upsert_edges([edge("D1", H, "F1", source="third")])  # no frequency: not averaged
    (e,) = store.edges([("D1", H, "F1")])
    assert e.props["frequency"] == pytest.approx(0.7) == edge_frequency(e.claims)
    via_neighbours = next(x for x, n in store.neighbours("D1", types=[H]) if n.id == "F1")
    via_bulk = next(x for x in store.iter_edges([H]) if (x.src, x.dst) == ("D1", "F1"))
    assert via_neighbours.props["frequency"] == via_bulk.props["frequency"] == e.props["frequency"]
    (no_freq,) = store.edges([("D2", H, "F3")])  # no claim gives one: no frequency at all
    assert "frequency" not in no_freq.props
    assert all("frequency" not in x.props for x in store.iter_edges([ISA]))


def test_context_manager_closes(store: GraphStore) -> None:
    with store as same:
        assert same is store and same.counts().nodes == {"Concept": 7}
    with pytest.raises(GraphError):  # closed: a read fails as a kgrag error, not a crash
        store.counts()


def test_meta(store: GraphStore) -> None:
    assert store.get_meta("status") is None
    store.set_meta("status", "complete")
    assert store.get_meta("status") == "complete"


def test_sqlite_persists_and_reads_concurrently(tmp_path: Path) -> None:
    with SqliteGraphStore(tmp_path / "kb") as w:
        w.upsert_nodes(NODES)
        w.upsert_edges(EDGES)
        reader = SqliteGraphStore(tmp_path / "kb", read_only=True)
        w.upsert_nodes([concept("F7", Tier.FINDING)])  # a write while a reader is open
        assert reader.counts().nodes == {"Concept": 8}
        reader.close()
    again = SqliteGraphStore(tmp_path / "kb", read_only=True)
    assert again.counts().edges == {"IS_A": 3, "HAS_FINDING": 4} and again.integrity_ok()
    again.close()
