"""The default build's knowledge base is what it was before the build pipeline was split (#25).

The expected digests were computed on commit 9aa99f9 (``runner.py`` whole, the corpus linked
document by document), by building ``ingest/default.toml`` exactly as the ``default_kb``
fixture does (shipped vocabularies, hashing passage encoder; the diagnostic model does not
read passages). Stored file paths are digested relative to the checkout. A change that is
meant to change the default knowledge base updates them, and says so in its commit. Updated
once since: the assertion work (continuation ended, negated acts with a reason, history and
instruction lists, a relative who brings the patient) changes which corpus mentions are
present, so edges, claims and the model moved; nodes did not (the refactor's own check held).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kgrag.config import Settings, kb_dir
from kgrag.pipeline.digest import kb_digest

REPO = Path(__file__).resolve().parent.parent

EXPECTED = {
    "nodes": "2cf9f3a0fe5b68f3711c12bb85d97ca073fe280329ce75b7828c1724e90e2477",
    "node_sources": "3042ecdeb3962c7f9719662e0cdc8d221c1550a2614b7ca2c1f062906868095f",
    "edges": "6c44a742e183af116fc84189e8ab706f358067dd4b7d004d635cb868b7487101",
    "claims": "9c6925c852e524ec94dcc79583c1b95d329617a1d714569f8219c06b55c1f859",
    "model": "6a81dcf72c83d2f194bdfc654e63a99546b1c12088ec9545a896be43a2921e30",
}


@pytest.mark.slow
def test_the_default_build_is_unchanged(default_kb: Settings) -> None:
    assert kb_digest(kb_dir(default_kb), roots=[REPO]) == EXPECTED


def test_the_digest_sees_every_table(tmp_path: Path) -> None:
    """Each part of a knowledge base changes its own digest and no other (a digest that
    ignored a table would pass the test above whatever the build wrote)."""
    from kgrag.graph.schema import Claim, Edge, EdgeType, Label, Node
    from kgrag.graph.sqlite_store import SqliteGraphStore

    def build(
        *, name: str = "Fever", source: str = "v", prop: str = "present", ref: str = "d1"
    ) -> dict[str, str]:
        directory = tmp_path / f"{name}-{source}-{prop}-{ref}"
        with SqliteGraphStore(directory) as store:
            store.upsert_nodes(
                [
                    Node(id="HP:1", label=Label.CONCEPT, name=name, sources=(source,)),
                    Node(id="MONDO:1", label=Label.CONCEPT, name="Flu", sources=("v",)),
                ]
            )
            claim = Claim(source="v", reference=ref, start=0, end=3)
            store.upsert_edges(
                [
                    Edge(
                        src="MONDO:1",
                        type=EdgeType.HAS_FINDING,
                        dst="HP:1",
                        props={"polarity": prop},
                        claims=(claim,),
                    )
                ]
            )
        return kb_digest(directory, model=False)

    base = build()
    assert build() == base
    for changed, kwargs in (
        ("nodes", {"name": "Pyrexia"}),
        ("node_sources", {"source": "w"}),
        ("edges", {"prop": "not_shown"}),
        ("claims", {"ref": "d2"}),
    ):
        other = build(**kwargs)
        assert {k for k in base if base[k] != other[k]} == {changed}, kwargs
