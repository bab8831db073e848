"""The sidecar's service without its global lock: many requests at once give the answers one
at a time gives, and a rebuild finished under load is picked up by a reload after which every
request answers from the new build (never a mix, never an error but the documented "being
rebuilt").

Real stores: the serve fixture's recipe built into a real embedded store, then rebuilt in
process with one more page while threads keep asking.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import serve_kb

from kgrag.errors import KnowledgeBaseRebuilding
from kgrag.graph.sqlite_store import SqliteGraphStore
from kgrag.ontology.compiled import compiled_path, to_bytes
from kgrag.ontology.table import ConceptTable
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.serve.models import DiagnoseRequest, RetrieveRequest
from kgrag.serve.service import KnowledgeService

CASES = [
    serve_kb.CASE,
    "Fever and cough for three days, short of breath. No seizures.",
    "Bloody diarrhea and abdominal pain; no fever.",
    "Seizures with fever in an infant; low muscle tone.",
]
EXTRA = "# Febrile seizures\n\nSeizures with fever in infants; a cough may come first.\n"


def build(root: Path) -> None:
    """The serve recipe over ``root/docs`` into ``root/kb`` (a rebuild when it exists)."""
    settings = serve_kb.settings_for(root)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    data = serve_kb.small_data()
    compiled_path(settings).write_bytes(to_bytes(data))
    recipe = Recipe(
        name="serve-test",
        encoder="hashing",
        base_dir=root,
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="hpoa"),
            SourceSpec(kind="corpus", name="pages", path="docs", format="markdown"),
        ],
    )
    store = SqliteGraphStore(root / "kb")
    try:
        report = Builder(recipe, store, table=ConceptTable(data), settings=settings).run()
    finally:
        store.close()
    assert report.status == "complete", report


def answers(ask: Any) -> list[Any]:
    out = []
    for text in CASES:
        report = ask(text)
        out.append(
            [(c.concept_id, round(c.score, 6), [p.chunk for p in c.passages]) for c in report.candidates]
        )
    return out


class CountingService(KnowledgeService):
    """The real service, counting its loads that succeeded."""

    loads = 0

    def _load_once(self) -> None:
        super()._load_once()
        if self.loaded:
            type(self).loads += 1


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    shutil.copytree(serve_kb.FIXTURE / "docs", tmp_path / "docs")
    build(tmp_path)
    return tmp_path


def test_concurrent_requests_answer_as_serial_ones(root: Path) -> None:
    svc = KnowledgeService(str(root / "kb"), settings=serve_kb.settings_for(root))
    svc.load()
    try:
        serial = answers(lambda t: svc.diagnose(DiagnoseRequest(text=t, top_k=5)))
        got: list[list[Any]] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                for _ in range(3):
                    got.append(answers(lambda t: svc.diagnose(DiagnoseRequest(text=t, top_k=5))))
                    svc.retrieve(RetrieveRequest(text=CASES[0], top_k=3))
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        assert len(got) == 24 and all(g == serial for g in got)
    finally:
        svc.close()


def test_a_rebuild_under_load_is_reloaded_once(root: Path) -> None:
    CountingService.loads = 0
    svc = CountingService(str(root / "kb"), settings=serve_kb.settings_for(root))
    svc.load()
    stop = threading.Event()
    results: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            for text in CASES:
                try:
                    r = svc.diagnose(DiagnoseRequest(text=text, top_k=5))
                    item: tuple[str, Any] = (text, [c.concept_id for c in r.candidates])
                except KnowledgeBaseRebuilding as e:
                    item = (text, e)
                except BaseException as e:  # anything else fails the test
                    item = (text, e)
                with lock:
                    results.append(item)

    try:
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        (root / "docs" / "febrile.md").write_text(EXTRA)
        build(root)  # the rebuild, while the threads ask
        reader = SqliteGraphStore(root / "kb", read_only=True)
        new = reader.get_meta("retrieval")
        reader.close()
        deadline = time.monotonic() + 60  # a reload tried mid-build is retried every 5 s

        def fingerprint() -> str | None:
            dx = svc._dx
            return dx.model.fingerprint if dx is not None else None

        while fingerprint() != new and time.monotonic() < deadline:
            stop.wait(0.05)
        assert fingerprint() == new, "the service did not reload the new build"
        with lock:
            done_at = len(results)
        while True:  # let every thread answer a few times after the build
            with lock:
                if len(results) >= done_at + 6 + 6 * len(CASES):
                    break
            stop.wait(0.05)
        stop.set()
        for t in threads:
            t.join(120)
        with Diagnoser(str(root / "kb"), settings=serve_kb.settings_for(root)) as fresh:
            expected = {t: [c.concept_id for c in fresh.diagnose(t, top_k=5).candidates] for t in CASES}
        unexpected = [r for r in results if isinstance(r[1], BaseException)]
        assert all(isinstance(e, KnowledgeBaseRebuilding) for _, e in unexpected), unexpected
        after = results[done_at + 6 :]  # begun after the reload (6 may be in flight): new answers
        assert after and all(a == expected[t] for t, a in after), after[:3]
        # the first load and one reload of the new build (concurrent requests that all saw the
        # rebuild do not each reload); one more when a reload raced the build's first write
        assert 2 <= CountingService.loads <= 3
    finally:
        stop.set()
        svc.close()
