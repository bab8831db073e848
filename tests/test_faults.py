"""Faults found in review, each reproduced and survived: two builds at once (1), reading during
a rebuild (2), one bad corpus file (3), unbounded documents (4), rich markup in data (5),
non-UTF-8 arguments (6), recipe paths outside their folder (10), and private KB files.

Builds here use the vocabulary excerpts in tests/fixtures (``tests/faults_build.py``), so
a knowledge base takes seconds; child processes stand in for concurrent ``kgrag build``s."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _interpreter import PYTHON, child_env

from kgrag.config import Settings, load_settings
from kgrag.corpus.documents import ReadFailure, SourceDocument, read_corpus
from kgrag.errors import BuildLocked, KnowledgeBaseRebuilding, RecipePathRefused
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.lock import BuildLock, lock_path
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec, load_recipe

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faults_build

HELPER = Path(faults_build.__file__)
ONTOLOGIES = faults_build.ONTOLOGIES
MARKUP = "[/x] [bold]not bold[/bold] :x: [link=file:///etc]"


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory: pytest.TempPathFactory, fixtures: Path) -> dict[str, Any]:
    """A complete small knowledge base (vocabulary excerpts, HPO annotations, a corpus with
    a document holding markup-looking text), built once; tests copy it."""
    root = tmp_path_factory.mktemp("faults")
    corpus = root / "corpus"
    shutil.copytree(fixtures / "docs", corpus, ignore=shutil.ignore_patterns("README.md"))
    (corpus / "markup.md").write_text(f"# Necrosis {MARKUP}\n\nPolyuria and necrosis {MARKUP}.\n")
    report = faults_build.build(root / "kb", corpus, root / "cache")
    assert report.status == "complete"
    return {"root": root, "kb": root / "kb", "corpus": corpus, "counts": report.counts}


def _copy(small_kb: dict[str, Any], tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    shutil.copytree(small_kb["kb"], kb, ignore=shutil.ignore_patterns("build.lock"))
    return kb


def _child(kb: Path, small_kb: dict[str, Any], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            PYTHON,
            str(HELPER),
            str(kb),
            str(small_kb["corpus"]),
            str(small_kb["root"] / "cache"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**child_env(), "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _meta(kb: Path, key: str) -> str | None:
    try:
        with SqliteGraphStore(kb, read_only=True) as s:
            return s.get_meta(key)
    except Exception:
        return None


# -- 1. two builds into one knowledge base ----------------------------------------------
def test_build_lock_in_process(tmp_path: Path) -> None:
    path = tmp_path / "kb" / "build.lock"
    with BuildLock(path):
        with pytest.raises(BuildLocked, match=f"pid {os.getpid()}"):
            BuildLock(path).acquire()
        t0 = time.monotonic()
        with pytest.raises(BuildLocked, match="after waiting"):
            BuildLock(path, wait=0.5).acquire()
        assert time.monotonic() - t0 >= 0.5
    with BuildLock(path):  # released: free again
        pass


@pytest.mark.slow
def test_two_builds_at_once_one_killed(small_kb: dict[str, Any], tmp_path: Path) -> None:
    """Build A writes; B fails at once naming A's pid; C waits; A is killed mid-build;
    C takes the lock, resumes, and the knowledge base ends as a clean build does."""
    kb = tmp_path / "kb"
    a = _child(kb, small_kb, "--slow", "0.5")
    deadline = time.time() + 180
    while time.time() < deadline and _meta(kb, "source:vocabularies") in (None, "building"):
        time.sleep(0.2)  # until A has finished one source and is writing the next
    assert a.poll() is None, a.communicate()
    b = _child(kb, small_kb)
    _, err = b.communicate(timeout=120)
    assert b.returncode == 3 and f"pid {a.pid}" in err, err
    c = _child(kb, small_kb, "--wait", "300")
    time.sleep(1.0)
    assert c.poll() is None  # waiting for A
    a.send_signal(signal.SIGKILL)
    a.wait(timeout=30)
    _, err = c.communicate(timeout=300)
    assert c.returncode == 0, err
    with SqliteGraphStore(kb, read_only=True) as final:
        assert final.get_meta("status") == "complete" and final.integrity_ok()
        assert final.counts() == small_kb["counts"]


# -- 2. reading during a rebuild --------------------------------------------------------
def _answer(dx: Any, terms: list[str]) -> tuple[Any, ...]:
    bundle = dx.retrieve(findings=terms, top_k=5, passages_k=20)
    cites = [c for d in bundle.diseases for f in d.findings for c in f.citations]
    cites += [p.citation for p in bundle.passages]
    assert all(c.verified for c in cites if c.kind == "passage")
    return (tuple(d.concept_id for d in bundle.diseases), len(cites), len(bundle.passages))


@pytest.mark.slow
def test_readers_during_a_rebuild_answer_fully_or_say_so(
    small_kb: dict[str, Any], tmp_path: Path
) -> None:
    from kgrag.retrieval.diagnose import Diagnoser

    kb = _copy(small_kb, tmp_path)
    settings = load_settings(cache_dir=small_kb["root"] / "cache", ontologies_dir=ONTOLOGIES, kb_dir=kb)
    table = faults_build.small_table()
    with Diagnoser(str(kb), settings=settings, table=table) as dx:
        terms = list(dx.model.terms)
        baseline = _answer(dx, terms)
    assert baseline[1] >= 10 and baseline[2] > 0
    rebuild = _child(kb, small_kb, "--rebuild", "--slow", "0.2")
    answers, refusals, during = 0, 0, 0
    while rebuild.poll() is None or answers == 0:
        building = _meta(kb, "status") != "complete"
        try:
            with Diagnoser(str(kb), settings=settings, table=table) as dx:
                got = _answer(dx, terms)
            assert got == baseline  # complete: the same citations, all verified
            answers += 1
        except KnowledgeBaseRebuilding as e:
            assert "build" in str(e)
            refusals += 1
        during += building
    assert rebuild.returncode == 0, rebuild.communicate()[1]
    assert during > 0 and refusals > 0 and answers > 0


def test_reader_refuses_a_building_knowledge_base(small_kb: dict[str, Any], tmp_path: Path) -> None:
    """A reader that opened before a build started, and one opening during it."""
    from kgrag.retrieval.diagnose import Diagnoser

    kb = _copy(small_kb, tmp_path)
    settings = load_settings(cache_dir=small_kb["root"] / "cache", ontologies_dir=ONTOLOGIES, kb_dir=kb)
    table = faults_build.small_table()
    dx = Diagnoser(str(kb), settings=settings, table=table)
    terms = list(dx.model.terms)
    with SqliteGraphStore(kb) as writer:
        writer.set_meta("generation", "99")
        writer.set_meta("status", "building")
        with pytest.raises(KnowledgeBaseRebuilding, match="being built"):
            dx.diagnose(findings=terms)
        with pytest.raises(KnowledgeBaseRebuilding, match="being built"):
            Diagnoser(str(kb), settings=settings, table=table)
        writer.set_meta("status", "complete")
    assert dx.diagnose(findings=terms).candidates
    with SqliteGraphStore(kb) as writer:  # a newer build completed since dx was opened
        writer.set_meta("retrieval", "a newer build")
    with pytest.raises(KnowledgeBaseRebuilding, match="open it again") as e:
        dx.diagnose(findings=terms)
    assert e.value.reopen
    dx.close()


# -- 3, 4. one bad file, unbounded documents --------------------------------------------
def _hostile_corpus(folder: Path) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, DictionaryObject, NameObject

    folder.mkdir()
    (folder / "good.md").write_text("# Fever\n\nFever and polyuria.\n")
    (folder / "marked.html").write_text("<html><p>Seizures <![foo bar]> and fever</p></html>")
    whole = gzip.compress(b"Fever and chills. " * 2000)
    (folder / "truncated.txt.gz").write_bytes(whole[: len(whole) // 2])
    with gzip.open(folder / "bomb.txt.gz", "wb", compresslevel=9) as f:
        for _ in range(100):  # 100 MB of text in about 100 KB
            f.write(b"a" * 1_000_000)
    (folder / "big.txt").write_text("word " * 60_000)  # 300,000 characters
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = ContentStream(None, writer)
    stream.set_data(
        b"BT /F1 12 Tf " + b"(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa) Tj " * 20_000 + b"ET"
    )
    stream.compress_content_streams = True
    page.replace_contents(stream)
    page.compress_content_streams()
    with open(folder / "expanding.pdf", "wb") as f:
        writer.write(f)
    os.mkfifo(folder / "pipe.txt")
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to(folder)  # a folder cycle
    (folder / "dangling.txt").symlink_to(folder / "nowhere.txt")


def test_one_bad_file_never_fails_the_corpus(tmp_path: Path) -> None:
    import tracemalloc

    folder = tmp_path / "corpus"
    _hostile_corpus(folder)
    assert (folder / "bomb.txt.gz").stat().st_size < 200_000
    items = list(read_corpus(folder, source="t", max_chars=100_000))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / "bomb.txt.gz", alone)
    tracemalloc.start()
    assert [f.kind for f in read_corpus(alone, max_chars=100_000)] == ["too large"]  # type: ignore[union-attr]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 30_000_000  # the 100 MB expansion never sits in memory
    docs = [d.id for d in items if isinstance(d, SourceDocument)]
    why = {Path(f.path).name: (f.kind, f.reason) for f in items if isinstance(f, ReadFailure)}
    assert docs == ["good.md"]
    assert why["marked.html"][0] == "unreadable" and "AssertionError" in why["marked.html"][1]
    assert "truncated or corrupt gzip" in why["truncated.txt.gz"][1]
    assert why["bomb.txt.gz"][0] == why["big.txt"][0] == why["expanding.pdf"][0] == "too large"
    assert "100,000 characters" in why["bomb.txt.gz"][1] and "max_chars" in why["bomb.txt.gz"][1]
    assert why["pipe.txt"][0] == "not a regular file" and "FIFO" in why["pipe.txt"][1]
    assert why["loop"][0] == why["up"][0] == "symlink loop"
    assert why["dangling.txt"][0] == "broken symlink"


def test_bad_files_are_counted_and_the_source_completes(
    small_table: ConceptTable,
    default_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading failures and one document whose linking fails (the linker is made to fail on
    one document, since no real input is known to crash it): the source is built, every
    skip counted by kind, and a rerun skips the unchanged source."""
    import kgrag.pipeline.corpus as corpus_build

    _hostile_corpus(tmp_path / "corpus")
    (tmp_path / "corpus" / "crash.md").write_text("# Crash\n\nNecrosis.\n")
    real = corpus_build.document_records

    def records(doc: SourceDocument, *a: Any, **k: Any) -> Any:
        if doc.id == "crash.md":
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc, *a, **k)

    monkeypatch.setattr(corpus_build, "document_records", records)
    recipe = Recipe(
        name="t",
        encoder="hashing",
        base_dir=tmp_path,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="corpus", name="notes", path="corpus", max_chars=100_000),
        ],
    )
    store = SqliteGraphStore(tmp_path / "kb")
    report = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert report.status == "complete", report
    notes = next(s for s in report.sources if s.name == "notes")
    assert notes.status == "built" and notes.documents["added"] == 1
    w = notes.warnings
    assert w["file skipped: too large"] == 3 and w["file skipped: unreadable"] == 2
    assert w["file skipped: symlink loop"] == 2 and w["file skipped: not a regular file"] == 1
    assert w["file skipped: broken symlink"] == 1 and w["document skipped: linking failed"] == 1
    again = Builder(recipe, store, table=small_table, settings=default_settings).run()
    assert {s.status for s in again.sources} == {"skipped"}
    store.close()


# -- 10. recipe paths -------------------------------------------------------------------
def test_recipe_paths_stay_in_their_folder(
    small_table: ConceptTable, default_settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret fever notes.\n")
    ingest = tmp_path / "ingest"
    (ingest / "notes").mkdir(parents=True)
    (ingest / "notes" / "ok.md").write_text("# Fever\n\nFever.\n")
    (ingest / "notes" / "link.txt").symlink_to(outside / "secret.txt")
    (ingest / "r.toml").write_text(
        'name = "r"\nencoder = "hashing"\n[[sources]]\nkind = "vocabularies"\n'
        '[[sources]]\nkind = "corpus"\nname = "escape"\npath = "../outside"\n'
        '[[sources]]\nkind = "corpus"\nname = "etc"\npath = "/etc"\n'
        '[[sources]]\nkind = "corpus"\nname = "notes"\npath = "notes"\n'
    )
    recipe = load_recipe(ingest / "r.toml")
    with pytest.raises(RecipePathRefused, match="outside the recipe's folder"):
        recipe.confined("../../etc")
    store = SqliteGraphStore(tmp_path / "kb")
    report = Builder(recipe, store, table=small_table, settings=default_settings).run()
    by = {s.name: s for s in report.sources}
    assert by["escape"].status == by["etc"].status == "failed"
    assert "refused to read '../outside'" in (by["escape"].error or "")
    assert "refused to read '/etc'" in (by["etc"].error or "")
    assert by["notes"].documents["added"] == 1
    assert by["notes"].warnings["file skipped: outside the allowed folders"] == 1
    # allowed explicitly by the user: read, the link included
    allowed = load_recipe(ingest / "r.toml", allow=[outside])
    assert allowed.confined("../outside") == outside.resolve()
    docs = list(read_corpus(ingest / "notes", allowed=allowed.allowed()))
    assert sorted(d.id for d in docs if isinstance(d, SourceDocument)) == ["link.txt", "ok.md"]
    with pytest.raises(Exception, match=r"multiple values|invalid recipe"):  # not from the file
        (ingest / "evil.toml").write_text('name = "e"\nallowed_roots = ["/"]\nsources = []\n')
        load_recipe(ingest / "evil.toml")
    store.close()


# -- private files ----------------------------------------------------------------------
def test_knowledge_base_files_are_private(small_kb: dict[str, Any]) -> None:
    kb = small_kb["kb"]
    assert stat.S_IMODE(kb.stat().st_mode) == 0o700
    for p in kb.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    assert lock_path(SqliteGraphStore(kb, read_only=True)) == kb / "build.lock"


def test_a_store_folder_keeps_the_users_other_files(tmp_path: Path) -> None:
    from kgrag.pipeline.runner import make_private

    (tmp_path / "graph.sqlite").write_text("")
    (tmp_path / "retrieval").mkdir()
    (tmp_path / "retrieval" / "model.npz").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "notes.txt").chmod(0o644)
    make_private(tmp_path, only=("graph.sqlite", "build.lock", "retrieval"))
    assert stat.S_IMODE((tmp_path / "retrieval" / "model.npz").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "graph.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "notes.txt").stat().st_mode) == 0o644


# -- 5, 6. the command line -------------------------------------------------------------
@pytest.mark.slow
def test_markup_in_data_and_arguments_prints_as_text(
    small_kb: dict[str, Any],
    table: ConceptTable,
    default_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from kgrag.cli import app
    from kgrag.config import get_settings

    monkeypatch.setenv("KGRAG_CACHE_DIR", str(default_settings.cache_dir))
    monkeypatch.setenv("KGRAG_ONTOLOGIES_DIR", str(ONTOLOGIES))
    get_settings.cache_clear()
    kb = str(small_kb["kb"])
    runner = CliRunner()
    calls = [
        ["diagnose", "-f", MARKUP, "--store", kb],
        ["diagnose", f"polyuria {MARKUP}", "--store", kb],
        ["retrieve", "-f", MARKUP, "--store", kb],
        ["retrieve", "-f", "SYMP:0000565", "-f", "SYMP:0000132", "--store", kb],
        ["concepts", "get", MARKUP],
        ["concepts", "search", MARKUP],
        ["link", f"fever {MARKUP}"],
        ["graph", "findings", MARKUP, "--store", kb],
        ["graph", "ancestors", MARKUP, "--store", kb],
        ["build", str(small_kb["root"] / f"{MARKUP}.toml"), "--store", kb],
    ]
    try:
        for args in calls:
            out = runner.invoke(app, args)
            assert out.exception is None or isinstance(out.exception, SystemExit), (args, out.exception)
            assert "MarkupError" not in out.output and "Traceback" not in out.output, out.output
        out = runner.invoke(app, ["retrieve", "-f", "SYMP:0000565", "-f", "SYMP:0000132", "--store", kb])
        assert out.exit_code == 0 and "[/x]" in out.output, out.output  # the document's own text
        out = runner.invoke(app, ["diagnose", "-f", MARKUP, "--store", kb])
        assert "[/x]" in out.output and ":x:" in out.output
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_non_utf8_arguments(
    small_kb: dict[str, Any], table: ConceptTable, default_settings: Settings
) -> None:
    env = {
        **child_env(),
        "KGRAG_CACHE_DIR": str(default_settings.cache_dir),
        "KGRAG_ONTOLOGIES_DIR": str(ONTOLOGIES),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    bad = b"seizures \xff and hypotonia"
    for args in (
        [b"diagnose", bad, b"--store", bytes(small_kb["kb"])],
        [b"concepts", b"search", bad],
        [b"build", bad],
    ):
        done = subprocess.run(
            [PYTHON.encode(), b"-m", b"kgrag.cli", *args],
            env=env,
            capture_output=True,
            timeout=300,
        )
        err = done.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err and "UnicodeEncodeError" not in err, err
        assert "not valid UTF-8" in err and done.returncode in (0, 1, 2), (args, done.returncode, err)
