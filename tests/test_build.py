"""kgrag build: recipes into the embedded store, incremental reruns, failures that leave
the graph marked incomplete, and a build killed with SIGKILL that a rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _interpreter import PYTHON, child_env
from _recorder import Recorder

from kgrag.config import Settings
from kgrag.errors import ConfigError
from kgrag.graph.schema import EdgeType, Label, Node, Tier
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec, load_recipe

SOURCES = [
    SourceSpec(kind="vocabularies"),
    SourceSpec(kind="hpoa"),
    SourceSpec(kind="ddxplus"),
    SourceSpec(kind="do_disease_symptom"),
]


def test_recipe_loading(tmp_path: Path) -> None:
    default = load_recipe()
    assert [s.kind for s in default.sources][:2] == ["vocabularies", "hpoa"]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[sources]]\nkind = "nope"\n')
    with pytest.raises(ConfigError, match="invalid recipe"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="no recipe"):
        load_recipe(tmp_path / "missing.toml")


def test_build_small_and_rerun(
    small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    store = SqliteGraphStore(tmp_path / "kb")
    recipe = Recipe(name="t", sources=SOURCES)
    report = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert report.status == "complete" and store.get_meta("status") == "complete"
    built = {s.name: s for s in report.sources}
    assert built["vocabularies"].nodes == len(small_table)
    assert built["hpoa"].warnings  # most annotated diseases are outside the excerpt: counted
    t2d = store.get_node("UMLS:C0011860")
    assert t2d is not None and t2d.tier is Tier.DISEASE and "MESH:D003924" in t2d.codes
    parents = {n.id for _, n in store.neighbours("UMLS:C0011860", types=[EdgeType.IS_A])}
    assert "UMLS:C0011849" in parents  # diabetes mellitus
    again = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert {s.status for s in again.sources} == {"skipped"}
    assert again.counts == report.counts
    store.close()


def test_failed_source_marks_incomplete_and_rerun_repairs(
    small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    store = SqliteGraphStore(tmp_path / "kb")
    broken = Recipe(
        name="t",
        base_dir=tmp_path,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="notes", path="no-such-folder", format="text"),
        ],
    )
    report = Builder(broken, store, table=small_table, settings=default_settings).run()
    assert report.status == "incomplete" and store.get_meta("status") == "incomplete"
    failed = [s for s in report.sources if s.status == "failed"]
    assert failed and failed[0].name == "notes" and failed[0].error
    fixed = Recipe(name="t", sources=[SourceSpec(kind="vocabularies")])
    assert Builder(fixed, store, table=small_table, settings=default_settings).run().status == "complete"
    store.close()


def test_a_build_removes_sources_its_recipe_does_not_list(
    small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    """`kgrag build` after `kgrag build full` (finished or stopped half way): the knowledge
    base holds the default recipe's sources only, so graph and artifacts agree."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("Type 2 diabetes mellitus. Patients often have polyuria.\n")
    store = SqliteGraphStore(tmp_path / "kb")
    small = Recipe(
        name="small", base_dir=tmp_path, encoder="hashing", sources=[SourceSpec(kind="vocabularies")]
    )
    corpus = SourceSpec(kind="corpus", name="notes", path="notes", format="text")
    full = small.model_copy(update={"name": "full", "sources": [*small.sources, corpus]})
    assert Builder(full, store, table=small_table, settings=default_settings).run().status == "complete"
    assert store.counts().nodes.get("Document", 0) == 1
    progress = Recorder()
    report = Builder(small, store, table=small_table, settings=default_settings, progress=progress).run()
    assert report.status == "complete"
    assert store.counts().nodes.get("Document", 0) == 0 and store.get_meta("source:notes") == ""
    assert any("notes: not in recipe 'small', removed" in step for step in progress.steps)
    assert report.retrieval  # the artifacts are remade for what the graph now holds
    store.close()


def test_ddxplus_edges_counted_once_as_in_the_store(
    default_settings: Settings, fixtures: Path, tmp_path: Path
) -> None:
    """The ddxplus source writes its symptom/antecedent edges and its mapped-finding edges in
    one counted pass: the report's edges are the store's, and the progress count for
    ``ddxplus: edges`` runs once up to that total (it used to restart for the second kind)."""
    from kgrag.ontology.ddxplus import load_ddxplus
    from kgrag.ontology.hpo import load_hpo
    from kgrag.ontology.unify import unify

    d = default_settings.ontologies_dir / "ddxplus"
    ddx = load_ddxplus(
        d / "release_conditions.json.gz", d / "release_evidences.json.gz", d / "icd10_corrections.json"
    )
    table = ConceptTable(unify([load_hpo(fixtures / "hpo/hp_mini.obo"), ddx]))
    store = SqliteGraphStore(tmp_path / "kb")
    progress = Recorder()
    recipe = Recipe(name="t", sources=[SourceSpec(kind="vocabularies"), SourceSpec(kind="ddxplus")])
    report = Builder(recipe, store, table=table, settings=default_settings, progress=progress).run()
    edges = {s.name: s.edges for s in report.sources}["ddxplus"]
    in_store = store.conn.execute(
        "SELECT count(*) FROM (SELECT DISTINCT src, type, dst FROM claims WHERE source = 'ddxplus')"
    ).fetchone()[0]
    mapped = store.conn.execute(
        "SELECT count(*) FROM claims WHERE source = 'ddxplus' AND props LIKE '%\"relation\"%'"
    ).fetchone()[0]
    store.close()
    assert mapped >= 1 and edges > mapped  # both kinds of edges were written
    assert edges == in_store
    done = [n for task, n, _ in progress.counts if task == "ddxplus: edges"]
    assert done == sorted(done) and done[-1] == edges
    assert f"ddxplus: 0 nodes, {edges:,} edges" in " ".join(progress.steps)


@pytest.mark.slow
def test_kill_minus_nine_mid_build_then_resume(
    default_settings: Settings, table: ConceptTable, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    env = {**child_env(), "KGRAG_CACHE_DIR": str(default_settings.cache_dir), "KGRAG_KB_DIR": str(kb)}
    proc = subprocess.Popen(
        [PYTHON, "-m", "kgrag.cli", "build"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the build is writing HPO annotations
        time.sleep(0.5)
        if kb.joinpath("graph.sqlite").exists():
            try:
                with SqliteGraphStore(kb, read_only=True) as peek:
                    if peek.get_meta("source:vocabularies") not in (None, "building"):
                        break
            except Exception:
                continue
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with SqliteGraphStore(kb, read_only=True) as after:
        assert after.integrity_ok()
        assert after.get_meta("status") == "building"  # never marked complete
    done = subprocess.run(
        [PYTHON, "-m", "kgrag.cli", "build", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,  # the whole default recipe with MiniLM passage embeddings, on 2 cores
    )
    assert done.returncode == 0, done.stderr
    with SqliteGraphStore(kb, read_only=True) as final:
        assert final.get_meta("status") == "complete"
        assert final.counts().edges["HAS_FINDING"] > 200_000


def test_disk_full_mid_build_then_rerun_repairs(
    small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    """SQLite's page limit stands in for a full disk: the same SQLITE_FULL error."""
    from kgrag.errors import GraphWriteError

    store = SqliteGraphStore(tmp_path / "kb", batch_size=5)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 3}")
    recipe = Recipe(name="t", sources=[SourceSpec(kind="vocabularies"), SourceSpec(kind="hpoa")])
    with pytest.raises(GraphWriteError, match="disk"):
        store.upsert_nodes(
            Node(id=f"N{i}", label=Label.CONCEPT, name="x" * 500, sources=("s",)) for i in range(5000)
        )
    report = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert report.status == "incomplete" and store.get_meta("status") == "incomplete"
    assert store.integrity_ok()
    store.conn.execute("PRAGMA max_page_count = 1073741823")  # space again
    store.delete_source("s")
    again = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert again.status == "complete"
    assert again.counts.nodes == {"Concept": len(small_table)}
    store.close()


def test_unreachable_neo4j_is_a_clear_error() -> None:
    pytest.importorskip("neo4j", reason="the neo4j extra is not installed")
    from kgrag.errors import GraphUnavailable
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    with pytest.raises(GraphUnavailable, match="Is the server running"):
        Neo4jGraphStore("bolt://127.0.0.1:1", auth=("neo4j", "x"))


@pytest.mark.neo4j
def test_neo4j_connection_lost_mid_build_then_rerun_completes(
    small_table: ConceptTable, default_settings: Settings
) -> None:
    """The connection goes after the first source (the store's driver is pointed at a port
    where nothing listens, so the real driver fails): the build stops with a clear error,
    the graph is not marked complete, and a rerun on a good connection finishes it."""
    import neo4j

    from kgrag.errors import GraphUnavailable
    from kgrag.graph.neo4j_store import Neo4jGraphStore

    uri = os.environ["KGRAG_TEST_NEO4J_URI"]
    store = Neo4jGraphStore(uri)
    store.clear()
    recipe = Recipe(name="t", encoder="hashing", sources=SOURCES[:2])

    def drop_connection(step: str) -> None:
        if step.startswith("vocabularies:") and "nodes," in step:
            store.driver.close()
            store.driver = neo4j.GraphDatabase.driver("bolt://127.0.0.1:1")

    try:
        with pytest.raises(GraphUnavailable, match="lost the connection"):
            Builder(
                recipe, store, table=small_table, settings=default_settings, progress=drop_connection
            ).run()
        store.driver.close()
        again = Neo4jGraphStore(uri)
        assert again.get_meta("status") == "building"  # never marked complete
        assert again.get_meta("source:vocabularies") not in (None, "building")  # kept
        report = Builder(recipe, again, table=small_table, settings=default_settings).run()
        assert report.status == "complete"
        assert [s.status for s in report.sources] == ["skipped", "built"]
        again.clear()
        again.close()
    finally:
        store.driver.close()
