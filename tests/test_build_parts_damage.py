"""A damaged build checkpoint (a shard's part) is linked again, never a traceback (#25).

Parts outlive the build that made them, so they meet what any file on disk meets: a copy cut
short, a disk error, a stray edit, a half-deleted folder. Every table of a part and its
manifest are damaged in several ways; the next build must notice, link that one shard
again and end with the same knowledge base as an undisturbed build.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from test_build_shards import Lines, _build, _fresh, corpus  # noqa: F401  (the fixture)

from kgrag.config import Settings
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.parts import MANIFEST, TABLES


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage" * 64)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _delete(path: Path) -> None:
    path.unlink()


def _wrong_format(path: Path) -> None:
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format": 99}))


def _swap_hash(path: Path) -> None:
    manifest = json.loads(path.read_text())
    manifest["tables"]["edges"]["sha256"] = manifest["tables"]["nodes"]["sha256"]
    path.write_text(json.dumps(manifest))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "empty": _empty,
    "garbage": _garbage,
    "byte flipped": _flip,
    "deleted": _delete,
}
CASES = [(f"{t}.parquet", d) for t in TABLES for d in ("truncated", "byte flipped")] + [
    ("documents.parquet", "empty"),
    ("nodes.parquet", "garbage"),
    ("edges.parquet", "deleted"),
    (MANIFEST, "garbage"),
    (MANIFEST, "deleted"),
    (MANIFEST, "wrong format"),
    (MANIFEST, "hash of another table"),
]
MANIFEST_DAMAGE = {"wrong format": _wrong_format, "hash of another table": _swap_hash}


@pytest.fixture(scope="module")
def reference(
    small_table: ConceptTable, default_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A finished knowledge base (two documents a shard) to damage copies of, and its digest."""
    from conftest import FIXTURES
    from test_build_shards import MEDQUAD

    base = tmp_path_factory.mktemp("damage")
    folder = base / "corpus"
    shutil.copytree(FIXTURES / "docs", folder, ignore=shutil.ignore_patterns("README.md"))
    for page in sorted(MEDQUAD.glob("*.xml.gz"))[:6]:
        shutil.copy(page, folder / page.name)
    return folder, _fresh(small_table, default_settings, folder, base / "kb", shard_docs=2)


@pytest.mark.parametrize(("target", "damage"), CASES, ids=[f"{t}-{d}" for t, d in CASES])
def test_a_damaged_part_is_linked_again(
    small_table: ConceptTable,
    default_settings: Settings,
    reference: tuple[Path, dict[str, str]],
    tmp_path: Path,
    target: str,
    damage: str,
) -> None:
    folder, digest = reference
    kb = tmp_path / "kb"
    shutil.copytree(folder.parent / "kb", kb)
    parts = sorted(p for p in (kb / "parts" / "notes").iterdir())
    victim = parts[len(parts) // 2]
    (DAMAGE | MANIFEST_DAMAGE)[damage](victim / target)
    # the source must be built again for its parts to be read: the rebuild flag would relink
    # every shard, so the recorded fingerprint is cleared instead (as an edit to the recipe does)
    with SqliteGraphStore(kb) as store:
        store.set_meta("source:notes", "")
    lines = Lines()
    status, again = _build(
        small_table, default_settings, folder.parent, kb, shard_docs=2, progress=lines
    )
    assert status == "complete" and again == digest
    assert lines.linked() == 1, lines.lines


def test_a_part_damaged_between_its_stage_and_the_reduce_fails_clearly_then_resumes(
    small_table: ConceptTable,
    default_settings: Settings,
    reference: tuple[Path, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reduce reads a part that went bad after it was checked: the build is incomplete
    with an error naming the part (no traceback), and the rerun links that shard again."""
    from test_build_shards import _recipe

    from kgrag.graph.sqlite_store import SqliteGraphStore
    from kgrag.pipeline.context import BuildOptions
    from kgrag.pipeline.reduce import reduce_parts
    from kgrag.pipeline.runner import Builder

    folder, digest = reference
    kb = tmp_path / "kb"

    def damaging(parts: list[Path], *args: object, **kw: object) -> object:
        _truncate(sorted(parts)[0] / "edges.parquet")
        return reduce_parts(parts, *args, **kw)  # type: ignore[arg-type]

    # the corpus source imports the reduce when it runs: this stands in for a disk error
    monkeypatch.setattr("kgrag.pipeline.reduce.reduce_parts", damaging)
    store = SqliteGraphStore(kb)
    report = Builder(
        _recipe(folder.parent),
        store,
        table=small_table,
        settings=default_settings,
        options=BuildOptions(shard_docs=2),
    ).run()
    store.close()
    failed = [s for s in report.sources if s.status == "failed"]
    assert report.status == "incomplete" and len(failed) == 1
    assert "is damaged" in (failed[0].error or "") and "rerun the build" in (failed[0].error or "")
    monkeypatch.undo()
    status, again = _build(small_table, default_settings, folder.parent, kb, shard_docs=2)
    assert status == "complete" and again == digest
