"""The local engine's process pool (#25): ``--workers 2`` builds what the serial engine
builds, and a build whose worker process, or whose driver, is killed with SIGKILL resumes:
the rerun links only the shards without a part and ends with an uninterrupted build's digest.

Real processes, real kills: the pool's workers are ``spawn``-ed interpreters, killed by
SIGKILL (a worker kills itself on a chosen shard, see :class:`DyingWorker`); the driver is
the ``kgrag build`` command, killed by the test once a part exists. The corpus is the small
real one of ``test_build_shards`` (MedQuAD pages, the reader fixtures, duplicates, a broken
file) over the fixture vocabularies.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import test_build_shards
from test_build_shards import Lines, _recipe

from kgrag.config import Settings
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.context import BuildOptions
from kgrag.pipeline.digest import kb_digest
from kgrag.pipeline.parts import is_part
from kgrag.pipeline.runner import Builder, BuildReport
from kgrag.pipeline.stage import ShardWorker

SHARD_DOCS = 2
corpus = test_build_shards.corpus  # the fixture: twelve MedQuAD pages, the reader fixtures...


def _build(
    table: ConceptTable,
    settings: Settings,
    corpus: Path,
    kb: Path,
    *,
    workers: int = 1,
    limit: int | None = None,
    progress: Lines | None = None,
) -> tuple[BuildReport, dict[str, str]]:
    with SqliteGraphStore(kb) as store:
        report = Builder(
            _recipe(corpus.parent, limit),
            store,
            table=table,
            settings=settings,
            progress=progress,
            options=BuildOptions(shard_docs=SHARD_DOCS, workers=workers),
        ).run()
    done = report.status == "complete"
    return report, kb_digest(kb, roots=[corpus.parent]) if done else {}


def _parts(kb: Path) -> list[Path]:
    folder = kb / "parts" / "notes"
    return [p for p in folder.iterdir() if is_part(p)] if folder.is_dir() else []


def _shard_lines(lines: Lines) -> list[str]:
    return [ln for ln in lines.lines if ln.startswith("notes: shard ")]


@pytest.mark.parametrize("limit", [None, 7])
def test_a_process_pool_builds_what_the_serial_engine_builds(
    small_table: ConceptTable,
    default_settings: Settings,
    corpus: Path,
    tmp_path: Path,
    limit: int | None,
) -> None:
    serial, pool = Lines(), Lines()
    report, reference = _build(
        small_table, default_settings, corpus, tmp_path / "serial", limit=limit, progress=serial
    )
    assert report.status == "complete"
    report, digest = _build(
        small_table, default_settings, corpus, tmp_path / "pool", workers=2, limit=limit, progress=pool
    )
    assert report.status == "complete" and digest == reference
    assert any(" in 2 worker processes" in ln for ln in pool.lines)
    assert _shard_lines(pool) == _shard_lines(serial)  # the same shards, in read order
    assert pool.linked() == serial.linked()
    # a new knowledge base over the same finished parts: no process starts, every shard reused
    shutil.copytree(tmp_path / "pool" / "parts", tmp_path / "again" / "parts")
    again = Lines()
    report, digest = _build(
        small_table, default_settings, corpus, tmp_path / "again", workers=2, limit=limit, progress=again
    )
    assert report.status == "complete" and digest == reference
    assert again.linked() == 0 and not any("worker processes" in ln for ln in again.lines)


class DyingWorker(ShardWorker):
    """A shard worker whose process kills itself (SIGKILL) on the ``DIE_ON``-th shard it
    links, before writing that shard's part; only the first process to get there dies.

    It runs in the pool's ``spawn``-ed processes, which import it from this module (the
    test's ``sys.path`` is theirs) and read ``DIE_ON`` and ``DIE_MARKER`` (a file made
    exclusively by the process that dies) from the environment they inherit.
    """

    linked = 0

    def run(self, shard: Any) -> tuple[Path, bool]:
        if not is_part(Path(self.task.parts_dir) / shard.fingerprint):
            DyingWorker.linked += 1
            if DyingWorker.linked == int(os.environ["DIE_ON"]):
                try:
                    os.close(os.open(os.environ["DIE_MARKER"], os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    pass  # another process died already
                else:
                    os.kill(os.getpid(), signal.SIGKILL)
        return super().run(shard)


@pytest.mark.parametrize("die_on", [1, 2, 3])
def test_a_killed_worker_process_fails_the_build_and_a_rerun_resumes(
    small_table: ConceptTable,
    default_settings: Settings,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    die_on: int,
) -> None:
    """A worker process dies by SIGKILL on its 1st, 2nd or 3rd shard: the build fails with
    :class:`~kgrag.errors.BuildInterrupted` (no traceback in the report: a message that says
    to rerun), the finished parts stay, and the rerun links exactly the shards without a part
    and ends with the serial engine's digest."""
    import kgrag.pipeline.pool_engine as pool_engine

    _, reference = _build(small_table, default_settings, corpus, tmp_path / "ref")
    total = len(_parts(tmp_path / "ref"))
    monkeypatch.setattr(pool_engine, "ShardWorker", DyingWorker)
    monkeypatch.setenv("DIE_ON", str(die_on))
    monkeypatch.setenv("DIE_MARKER", str(tmp_path / "died"))
    kb = tmp_path / "kb"
    report, _ = _build(small_table, default_settings, corpus, kb, workers=2)
    assert (tmp_path / "died").exists()  # a process did kill itself
    assert report.status == "incomplete"
    notes = {s.name: s for s in report.sources}["notes"]
    assert notes.status == "failed" and notes.error
    assert "worker process died" in notes.error and "rerun `kgrag build` to resume" in notes.error
    assert "Traceback" not in notes.error
    finished = len(_parts(kb))
    assert finished >= die_on - 1 and finished < total  # the dead process's earlier parts stay
    assert f"with {finished:,} of {total:,} shards finished" in notes.error
    monkeypatch.setattr(pool_engine, "ShardWorker", ShardWorker)
    lines = Lines()
    report, digest = _build(small_table, default_settings, corpus, kb, workers=2, progress=lines)
    assert report.status == "complete" and digest == reference
    assert lines.linked() == total - finished
    assert len(_parts(kb)) == total
