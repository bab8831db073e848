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

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import serve_kb
import test_build_shards
from _interpreter import PYTHON, child_env
from test_build_shards import Lines, _recipe

from kgrag.config import Settings, load_settings
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.compiled import compiled_path, to_bytes
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
    caplog: pytest.LogCaptureFixture,
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
    with caplog.at_level(logging.ERROR, logger="kgrag.pipeline.runner"):
        report, _ = _build(small_table, default_settings, corpus, kb, workers=2)
    assert (tmp_path / "died").exists()  # a process did kill itself
    logged = [r for r in caplog.records if r.name == "kgrag.pipeline.runner"]
    assert logged and all(r.exc_info is None for r in logged)  # the message, no traceback
    assert "rerun `kgrag build` to resume" in logged[0].getMessage()
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


RECIPE = """name = "killed"
encoder = "hashing"

[[sources]]
kind = "vocabularies"

[[sources]]
kind = "corpus"
name = "notes"
path = "corpus"
max_chars = 100000
"""


def _command_env(root: Path) -> dict[str, str]:
    """The environment of a ``kgrag build`` that loads the serve fixture's small concept
    table from a compiled cache (written here, where ``load_concepts`` looks for it)."""
    settings = load_settings(cache_dir=root / "cache", ontologies_dir=serve_kb.FIXTURE / "ontologies")
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    compiled_path(settings).write_bytes(to_bytes(serve_kb.small_data()))
    return child_env(
        KGRAG_CACHE_DIR=str(settings.cache_dir),
        KGRAG_ONTOLOGIES_DIR=str(settings.ontologies_dir),
        COLUMNS="200",
    )


def _linked_and_reused(stderr: str) -> tuple[int, int]:
    """Shards linked and reused, from the command's ``notes: N shards linked, M reused`` line."""
    found = re.findall(r"notes: ([\d,]+) shards linked, ([\d,]+) reused", stderr)
    assert found, stderr
    linked, reused = found[-1]
    return int(linked.replace(",", "")), int(reused.replace(",", ""))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_build_command_resumes_with_the_finished_parts(
    corpus: Path, tmp_path: Path, workers: int
) -> None:
    """``kgrag build`` (one shard per document) is killed with SIGKILL once a part exists;
    the rerun reuses every finished part, links the rest and ends with the digest of an
    uninterrupted build. With ``--workers 2`` the pool's processes end with the driver."""
    import psutil

    recipe = corpus.parent / "recipe.toml"
    recipe.write_text(RECIPE)
    env = _command_env(tmp_path)

    def command(kb: Path) -> list[str]:
        options = ["--store", str(kb), "--shard-docs", "1", "--workers", str(workers)]
        return [PYTHON, "-m", "kgrag.cli", "build", str(recipe), *options]

    done = subprocess.run(
        command(tmp_path / "ref"), env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    reference = kb_digest(tmp_path / "ref", roots=[corpus.parent])
    total = len(_parts(tmp_path / "ref"))
    assert _linked_and_reused(done.stderr) == (total, 0)

    kb = tmp_path / "kb"
    proc = subprocess.Popen(command(kb), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    children: list[psutil.Process] = []
    while not _parts(kb) and proc.poll() is None and time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True) or children
        time.sleep(0.01)
    proc.kill()
    assert proc.wait(timeout=60) == -signal.SIGKILL  # killed mid-build, not finished
    if workers > 1:  # the orphaned workers (and Ray-free helpers) end with their driver
        assert len(children) >= workers
        _, alive = psutil.wait_procs(children, timeout=60)
        assert not alive, alive
    finished = len(_parts(kb))
    assert 1 <= finished < total

    done = subprocess.run(command(kb), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _linked_and_reused(done.stderr) == (total - finished, finished)
    assert kb_digest(kb, roots=[corpus.parent]) == reference


@pytest.mark.parametrize("extra", [1, 7, 9997])
def test_more_workers_than_the_machine_runs_are_refused_with_what_to_do(extra: int) -> None:
    """A local pool or a local Ray past this machine's CPUs (at least 2) is refused before
    anything loads; a Ray cluster address lifts the limit."""
    from kgrag.errors import ConfigError
    from kgrag.pipeline.context import BuildOptions, local_cpus

    most = max(2, local_cpus())
    for engine in ("local", "ray"):
        with pytest.raises(ConfigError, match=f"--workers {most} or fewer"):
            BuildOptions(engine=engine, workers=most + extra).check()  # type: ignore[arg-type]
        BuildOptions(engine=engine, workers=most).check()  # type: ignore[arg-type]
    BuildOptions(engine="ray", workers=most + extra, ray_address="ray://head:10001").check()


def test_the_cli_refuses_too_many_workers_without_a_traceback(tmp_path: Path) -> None:
    from kgrag.pipeline.context import local_cpus

    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "kgrag.cli",
            "build",
            "--store",
            str(tmp_path / "kb"),
            "--workers",
            str(max(2, local_cpus()) + 1),
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=300,
    )
    assert done.returncode != 0
    assert "or fewer" in done.stderr and "Traceback" not in done.stderr, done.stderr
