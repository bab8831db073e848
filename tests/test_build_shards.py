"""Sharded builds (#25): parts as the checkpoint, one order-independent reduce, a load step.

Every test builds a small real corpus (MedQuAD pages shipped in ``corpora/medquad``, the
reader fixtures with their failures, and a duplicate) over the fixture vocabularies, and
compares knowledge bases by :func:`kgrag.pipeline.digest.kb_digest`.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kgrag.config import Settings
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.context import BuildOptions
from kgrag.pipeline.digest import kb_digest
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec

REPO = Path(__file__).resolve().parent.parent
MEDQUAD = REPO / "corpora" / "medquad" / "8_NHLBI_QA_XML"


@pytest.fixture()
def corpus(fixtures: Path, tmp_path: Path) -> Path:
    """Twelve MedQuAD pages in two folders, the reader fixtures, two duplicates (one read
    before its original) and a broken file."""
    folder = tmp_path / "corpus"
    shutil.copytree(fixtures / "docs", folder, ignore=shutil.ignore_patterns("README.md"))
    for k, page in enumerate(sorted(MEDQUAD.glob("*.xml.gz"))[:12]):
        (folder / ("a" if k % 2 else "b")).mkdir(exist_ok=True)
        shutil.copy(page, folder / ("a" if k % 2 else "b") / page.name)
    (folder / "z_copy.md").write_bytes((folder / "note.md").read_bytes())  # a duplicate
    (folder / "a" / "copy.md").write_bytes((folder / "note.md").read_bytes())  # one read early
    (folder / "broken.xml").write_text("<Document><QAPairs>")
    return folder


def _recipe(base: Path, limit: int | None = None) -> Recipe:
    return Recipe(
        name="shards",
        encoder="hashing",
        base_dir=base,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="notes", path="corpus", max_chars=100_000, limit=limit),
        ],
    )


class Lines:
    """A progress reporter that keeps its lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def linked(self) -> int:
        """Shards linked (not reused) by the last corpus build, from its summary line."""
        summary = [ln for ln in self.lines if ln.startswith("notes: ") and "shards linked" in ln][-1]
        return int(summary.split()[1].replace(",", ""))


def _build(
    table: ConceptTable,
    settings: Settings,
    base: Path,
    kb: Path,
    *,
    shard_docs: int = 3,
    limit: int | None = None,
    progress: Lines | None = None,
    rebuild: bool = False,
) -> tuple[str, dict[str, str]]:
    store = SqliteGraphStore(kb)
    try:
        report = Builder(
            _recipe(base, limit),
            store,
            table=table,
            settings=settings,
            progress=progress,
            options=BuildOptions(shard_docs=shard_docs),
        ).run(rebuild=rebuild)
    finally:
        store.close()
    done = report.status == "complete"
    return report.status, kb_digest(kb, roots=[base]) if done else {}


def _fresh(
    table: ConceptTable, settings: Settings, corpus: Path, tmp: Path, **kw: Any
) -> dict[str, str]:
    status, digest = _build(table, settings, corpus.parent, tmp, **kw)
    assert status == "complete"
    return digest


@pytest.mark.parametrize("limit", [None, 7])
def test_shard_size_and_order_do_not_change_the_knowledge_base(
    small_table: ConceptTable,
    default_settings: Settings,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limit: int | None,
) -> None:
    import kgrag.pipeline.engines as engines

    reference = _fresh(
        small_table, default_settings, corpus, tmp_path / "kb1", shard_docs=1000, limit=limit
    )
    for size in (1, 2, 5):
        assert (
            _fresh(
                small_table,
                default_settings,
                corpus,
                tmp_path / f"s{size}",
                shard_docs=size,
                limit=limit,
            )
            == reference
        )

    real = engines.run_shards
    for seed in range(3):  # shards run, and parts reach the reduce, in a shuffled order
        rng = random.Random(seed)

        def shuffled(
            ctx: Any, task: Any, shards: list[Any], rng: random.Random = rng, **kw: Any
        ) -> list[Path]:
            order = list(shards)
            rng.shuffle(order)
            parts = real(ctx, task, order, limit=None)
            rng.shuffle(parts)
            return parts

        monkeypatch.setattr(engines, "run_shards", shuffled)
        kb = tmp_path / f"shuffled{seed}"
        assert _fresh(small_table, default_settings, corpus, kb, shard_docs=2, limit=limit) == reference


def test_a_killed_build_resumes_and_redoes_only_unfinished_shards(
    small_table: ConceptTable,
    default_settings: Settings,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker dies on its 4th shard (an exception stands in for a killed process: the
    parts are what survives either way); the rerun links the rest and ends identical."""
    from kgrag.pipeline.stage import ShardWorker

    reference = _fresh(small_table, default_settings, corpus, tmp_path / "ref", shard_docs=2)
    real: Callable[..., Any] = ShardWorker.run
    calls = {"n": 0}

    def dies(self: ShardWorker, shard: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise MemoryError("worker killed")
        return real(self, shard)

    monkeypatch.setattr(ShardWorker, "run", dies)
    status, _ = _build(small_table, default_settings, corpus.parent, tmp_path / "kb", shard_docs=2)
    assert status == "incomplete"
    finished = [p for p in (tmp_path / "kb" / "parts" / "notes").iterdir() if not p.name.startswith(".")]
    assert len(finished) == 3
    monkeypatch.setattr(ShardWorker, "run", real)
    lines = Lines()
    status, digest = _build(
        small_table, default_settings, corpus.parent, tmp_path / "kb", shard_docs=2, progress=lines
    )
    total = len(list((tmp_path / "kb" / "parts" / "notes").iterdir()))
    assert status == "complete" and digest == reference
    assert lines.linked() == total - 3


def test_editing_one_file_redoes_its_shard_only(
    small_table: ConceptTable, default_settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    lines = Lines()
    _fresh(small_table, default_settings, corpus, tmp_path / "kb", shard_docs=2, progress=lines)
    first = lines.linked()
    assert first >= 5
    for k, edited in enumerate(sorted(corpus.rglob("*.md"))[:1] + sorted((corpus / "a").iterdir())[:1]):
        if edited.suffix == ".md":
            edited.write_text(edited.read_text() + f"\n\nFever and headache ({k}).\n")
        else:  # a MedQuAD page replaced by another one
            shutil.copy(sorted(MEDQUAD.glob("*.xml.gz"))[20 + k], edited)
        lines.lines.clear()
        after = _fresh(
            small_table, default_settings, corpus, tmp_path / "kb", shard_docs=2, progress=lines
        )
        assert lines.linked() == 1, lines.lines
        assert after == _fresh(
            small_table, default_settings, corpus, tmp_path / f"fresh{k}", shard_docs=5
        )
    lines.lines.clear()  # --rebuild reuses no part: every shard is linked again, same result
    status, again = _build(
        small_table,
        default_settings,
        corpus.parent,
        tmp_path / "kb",
        shard_docs=2,
        progress=lines,
        rebuild=True,
    )
    assert status == "complete" and again == after
    assert lines.linked() == len(list((tmp_path / "kb" / "parts" / "notes").iterdir())) == first


def test_loading_twice_changes_nothing(
    small_table: ConceptTable, default_settings: Settings, corpus: Path, tmp_path: Path
) -> None:
    from kgrag.pipeline.reduce import reduce_parts
    from kgrag.pipeline.sources.corpus import load

    _fresh(small_table, default_settings, corpus, tmp_path / "kb", shard_docs=2)
    before = kb_digest(tmp_path / "kb", model=False)
    parts = sorted(p for p in (tmp_path / "kb" / "parts" / "notes").iterdir())
    reduced = reduce_parts(parts, corpus)
    with SqliteGraphStore(tmp_path / "kb") as store:
        for _ in range(2):
            load(store, "notes", reduced)
            assert kb_digest(tmp_path / "kb", model=False) == before


@pytest.mark.parametrize("which", [0, 5, -1])
def test_a_load_the_store_does_not_hold_fails_loudly(
    small_table: ConceptTable,
    default_settings: Settings,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    which: int,
) -> None:
    """A store that silently drops one document node (first, middle, last) fails the load."""
    from kgrag.errors import GraphWriteError
    from kgrag.graph.schema import Label
    from kgrag.pipeline.reduce import reduce_parts
    from kgrag.pipeline.sources.corpus import load

    _fresh(small_table, default_settings, corpus, tmp_path / "kb", shard_docs=4)
    reduced = reduce_parts(sorted((tmp_path / "kb" / "parts" / "notes").iterdir()), corpus)
    documents = [n.id for nodes, _ in reduced.batches() for n in nodes if n.label is Label.DOCUMENT]
    dropped = documents[which]
    with SqliteGraphStore(tmp_path / "kb") as store:
        real = store.upsert_nodes
        monkeypatch.setattr(
            store, "upsert_nodes", lambda nodes: real(n for n in nodes if n.id != dropped)
        )
        with pytest.raises(GraphWriteError, match=f"1 differ, e.g. '{dropped}'"):
            load(store, "notes", reduced)


@pytest.fixture()
def repeated(tmp_path: Path) -> Path:
    """Three MedQuAD pages, each in four slightly different copies in four folders: the same
    disease -> finding facts stated by documents that land in different parts."""
    import gzip

    folder = tmp_path / "repeated"
    pages = sorted(MEDQUAD.glob("*.xml.gz"))[:3]
    for k in range(4):
        (folder / f"copy{k}").mkdir(parents=True)
        for page in pages:
            xml = gzip.decompress(page.read_bytes()).decode()
            edited = xml.replace("</Document>", f"<!-- copy {k} --></Document>")
            (folder / f"copy{k}" / page.name).write_bytes(gzip.compress(edited.encode()))
    return folder


def test_an_edge_several_parts_hold_loads_as_one_merged_edge(
    small_table: ConceptTable, default_settings: Settings, repeated: Path, tmp_path: Path
) -> None:
    """One part per file: each fact edge arrives in four parts, and the streamed load merges
    their claims as the reduce of one part holding every file does."""
    from kgrag.graph.schema import EdgeType

    recipe_dir = repeated.parent
    (recipe_dir / "corpus").symlink_to(repeated)
    whole = _fresh(
        small_table, default_settings, recipe_dir / "corpus", tmp_path / "whole", shard_docs=1000
    )
    per_file = _fresh(
        small_table, default_settings, recipe_dir / "corpus", tmp_path / "one", shard_docs=1
    )
    assert per_file == whole
    with SqliteGraphStore(tmp_path / "one") as store:
        spanning = [
            e
            for e in store.iter_edges([EdgeType.HAS_FINDING])
            if len({c.reference.split("#")[0] for c in e.claims if c.source == "notes"}) >= 4
        ]
    assert spanning, "no fact edge is stated by all four copies: the fixture does not test the merge"


def test_the_load_holds_one_part_at_a_time(
    small_table: ConceptTable,
    default_settings: Settings,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each part's rows are written before the next part is read (the load streams)."""
    import kgrag.pipeline.reduce as reduce
    from kgrag.pipeline.sources.corpus import load

    _fresh(small_table, default_settings, corpus, tmp_path / "kb", shard_docs=2)
    before = kb_digest(tmp_path / "kb", model=False)
    parts = sorted((tmp_path / "kb" / "parts" / "notes").iterdir())
    reduced = reduce.reduce_parts(parts, corpus)
    events: list[str] = []
    real_read = reduce.read_part
    monkeypatch.setattr(
        reduce, "read_part", lambda part, table: events.append(f"read {table}") or real_read(part, table)
    )
    with SqliteGraphStore(tmp_path / "kb") as store:
        real_upsert = store.upsert_edges
        monkeypatch.setattr(
            store, "upsert_edges", lambda edges: events.append("write") or real_upsert(edges)
        )
        load(store, "notes", reduced)
    assert len(reduced.parts) > 3
    assert events == ["read nodes", "read edges", "write"] * len(reduced.parts)
    assert kb_digest(tmp_path / "kb", model=False) == before
