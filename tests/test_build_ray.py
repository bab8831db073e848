"""``--engine ray`` in local mode builds the knowledge base the local engine builds (#25).

Needs Ray (``pip install 'kgrag[scale]'``); skipped without it. Ray starts a local
cluster of two worker processes (about 20 s here), each building its own linker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_build_shards import MEDQUAD, _recipe

from kgrag.config import Settings
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.context import BuildOptions
from kgrag.pipeline.digest import kb_digest
from kgrag.pipeline.runner import Builder

pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'kgrag[scale]')")


def test_the_ray_engine_builds_what_the_local_engine_builds(
    small_table: ConceptTable, default_settings: Settings, fixtures: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(fixtures / "docs", corpus, ignore=shutil.ignore_patterns("README.md"))
    for page in sorted(MEDQUAD.glob("*.xml.gz"))[:6]:
        shutil.copy(page, corpus / page.name)
    (corpus / "z_copy.md").write_bytes((corpus / "note.md").read_bytes())
    digests = {}
    for engine, workers in (("local", 1), ("ray", 2)):
        kb = tmp_path / engine
        with SqliteGraphStore(kb) as store:
            options = BuildOptions(engine=engine, workers=workers, shard_docs=2)
            builder = Builder(
                _recipe(tmp_path), store, table=small_table, settings=default_settings, options=options
            )
            report = builder.run()
        assert report.status == "complete", report
        digests[engine] = kb_digest(kb, roots=[tmp_path])
    assert digests["ray"] == digests["local"]


def test_a_failed_ray_pipeline_says_to_rerun_and_the_rerun_resumes(
    small_table: ConceptTable, default_settings: Settings, fixtures: Path, tmp_path: Path
) -> None:
    """Every actor fails to write its part (the parts folder is a file): the source fails
    with BuildInterrupted's message, not Ray's traceback, and a rerun builds it."""
    corpus = tmp_path / "corpus"
    shutil.copytree(fixtures / "docs", corpus, ignore=shutil.ignore_patterns("README.md"))
    kb = tmp_path / "kb"
    (kb / "parts").mkdir(parents=True)
    (kb / "parts" / "notes").write_text("not a folder")
    options = BuildOptions(engine="ray", workers=2, shard_docs=2)
    with SqliteGraphStore(kb) as store:
        report = Builder(
            _recipe(tmp_path), store, table=small_table, settings=default_settings, options=options
        ).run()
    (failed,) = [s for s in report.sources if s.status == "failed"]
    assert report.status == "incomplete"
    assert "rerun `kgrag build` to resume" in (failed.error or ""), failed.error
    (kb / "parts" / "notes").unlink()
    with SqliteGraphStore(kb) as store:
        report = Builder(
            _recipe(tmp_path), store, table=small_table, settings=default_settings, options=options
        ).run()
    assert report.status == "complete", report
