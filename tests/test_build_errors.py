"""A build that cannot go on says what to do: the whole message, no traceback, the right advice.

What a new user met (a fresh-user trial): every failed source printed a Python traceback,
the table cut the message that said what to do, and every failure ended with "rerun to
resume", also where only fixing the recipe helps. Each kind of input fault below is a
family member; each must fail with its own message, ``remedy == "fix"``, and no traceback.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from _interpreter import PYTHON, child_env

from kgrag.config import Settings
from kgrag.errors import ConfigError
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.recipe import load_recipe
from kgrag.pipeline.runner import Builder


def _write(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.toml").write_text('name = "r"\nencoder = "hashing"\n' + body)
    return folder / "recipe.toml"


# (what, recipe body, files to make under the recipe's folder, words the error must hold)
BUILD_FAULTS = [
    ("outside the recipe folder", '[[sources]]\nkind = "corpus"\npath = "/tmp"\n', {}, "--allow"),
    ("missing folder", '[[sources]]\nkind = "corpus"\npath = "nowhere"\n', {}, "not found"),
    ("no path", '[[sources]]\nkind = "corpus"\n', {}, "needs a path"),
    (
        "nothing readable",
        '[[sources]]\nkind = "corpus"\npath = "docs"\n',
        {"docs/a.bin": b"\x00"},
        "no readable",
    ),
]
RECIPE_FAULTS = [
    (
        "unknown format",
        '[[sources]]\nkind = "corpus"\npath = "docs"\nformat = "docx"\n',
        "format must be",
    ),
    (
        "two sources, one name",
        '[[sources]]\nkind = "corpus"\npath = "a"\nname = "x"\n'
        '[[sources]]\nkind = "corpus"\npath = "b"\nname = "x"\n',
        "two sources are named 'x'",
    ),
    (
        "two unnamed of a kind",
        '[[sources]]\nkind = "corpus"\npath = "a"\n[[sources]]\nkind = "corpus"\npath = "b"\n',
        "two sources are named 'corpus'",
    ),
]


@pytest.mark.parametrize(
    ("what", "body", "files", "says"), BUILD_FAULTS, ids=[f[0] for f in BUILD_FAULTS]
)
def test_an_input_fault_fails_its_source_with_what_to_do_and_no_traceback(
    small_table: ConceptTable,
    default_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    what: str,
    body: str,
    files: dict[str, bytes],
    says: str,
) -> None:
    recipe_file = _write(tmp_path / "r", body)
    for name, data in files.items():
        (tmp_path / "r" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "r" / name).write_bytes(data)
    with caplog.at_level(logging.ERROR), SqliteGraphStore(tmp_path / "kb") as store:
        report = Builder(
            load_recipe(recipe_file), store, table=small_table, settings=default_settings
        ).run()
    (failed,) = [s for s in report.sources if s.status == "failed"]
    assert report.status == "incomplete" and failed.remedy == "fix"
    assert says in (failed.error or ""), failed.error
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and not any(r.exc_info for r in errors), "a traceback was logged"


@pytest.mark.parametrize(("what", "body", "says"), RECIPE_FAULTS, ids=[f[0] for f in RECIPE_FAULTS])
def test_a_recipe_fault_is_refused_when_the_recipe_is_read(
    tmp_path: Path, what: str, body: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        load_recipe(_write(tmp_path / "r", body))


def test_a_fault_that_is_not_the_inputs_is_logged_with_its_traceback_and_says_rerun(
    small_table: ConceptTable,
    default_settings: Settings,
    fixtures: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kgrag.pipeline.stage import ShardWorker

    shutil.copytree(
        fixtures / "docs", tmp_path / "r" / "docs", ignore=shutil.ignore_patterns("README.md")
    )
    recipe_file = _write(tmp_path / "r", '[[sources]]\nkind = "corpus"\npath = "docs"\n')

    def broken(self: ShardWorker, shard: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ShardWorker, "run", broken)
    with caplog.at_level(logging.ERROR), SqliteGraphStore(tmp_path / "kb") as store:
        report = Builder(
            load_recipe(recipe_file), store, table=small_table, settings=default_settings
        ).run()
    (failed,) = [s for s in report.sources if s.status == "failed"]
    assert failed.remedy == "resume"
    assert any(r.exc_info for r in caplog.records if r.levelno >= logging.ERROR)


def test_an_encoder_not_on_this_machine_fails_at_once_without_the_network() -> None:
    import time

    from kgrag.retrieval.passages import encoder_by_name

    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="never downloads"):
        encoder_by_name("no-such-org/bert-xyz")
    assert time.perf_counter() - t0 < 10


def test_the_cli_prints_the_whole_error_and_the_advice_that_fits(tmp_path: Path) -> None:
    """The command: the message whole at any width, 'fix' advice, exit 1, no traceback."""
    recipe_file = _write(tmp_path / "r", '[[sources]]\nkind = "corpus"\npath = "/tmp"\n')
    done = subprocess.run(
        [PYTHON, "-m", "kgrag.cli", "build", str(recipe_file), "--store", str(tmp_path / "kb")],
        capture_output=True,
        text=True,
        env={**child_env(), "COLUMNS": "60"},
        timeout=600,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    said = " ".join(done.stderr.split())
    assert "--allow" in said and "fix what the error says" in said, done.stderr
    assert "to resume" not in said
