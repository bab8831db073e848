"""A damaged knowledge base says so: every artifact the build's manifest lists (and the
manifest itself), damaged in every way an unlucky operator manages (deleted, truncated,
bytes flipped, emptied, a file of another kind in its place, the same file from another
build), through the Python API, the CLI (a real subprocess) and the server (the real app in
process): never a traceback, never a wrong answer; one error type naming the file and
saying to rerun ``kgrag build``.

The knowledge bases are real: the serve fixture's recipe built into real stores
(``tests/serve_kb.py``), and a second build of it with one more page, whose files are the
"foreign" copies. The cases come from the built manifest, so an artifact added later is
covered without editing this file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import serve_kb
from fastapi.testclient import TestClient

from kgrag.errors import ArtifactDamaged, KgragError
from kgrag.pipeline.runner import Builder, Recipe, SourceSpec
from kgrag.retrieval.diagnose import Diagnoser
from kgrag.retrieval.manifest import MANIFEST_NAME, manifest_entries
from kgrag.serve.app import create_app
from kgrag.serve.config import ServeConfig
from kgrag.serve.service import KnowledgeService

REPO = Path(__file__).resolve().parent.parent
KINDS = ["missing", "truncate", "flip", "empty", "wrong_type", "foreign"]
# the artifacts a build of this recipe must list (a floor: more are covered automatically)
EXPECTED = {"diagnostic_model.npz", "passages.ids.json", "passages.index", "passages.index.json"}
EXTRA_PAGE = "# Measles\n\nMeasles: fever, cough and a rash spreading from the face; children.\n"


def retrieval(root: Path) -> Path:
    return root / "kb" / "retrieval"


def build_other(root: Path) -> None:
    """The same recipe over the fixture's pages plus one more: another build's artifacts."""
    from kgrag.graph.sqlite_store import SqliteGraphStore
    from kgrag.ontology.compiled import compiled_path, to_bytes
    from kgrag.ontology.table import ConceptTable

    docs = root / "docs"
    shutil.copytree(serve_kb.FIXTURE / "docs", docs)
    (docs / "measles.md").write_text(EXTRA_PAGE)
    settings = serve_kb.settings_for(root)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    data = serve_kb.small_data()
    compiled_path(settings).write_bytes(to_bytes(data))
    recipe = Recipe(
        name="serve-test",
        encoder="hashing",
        sources=[
            SourceSpec(kind="vocabularies"),
            SourceSpec(kind="hpoa"),
            SourceSpec(kind="corpus", name="pages", path="docs", format="markdown"),
        ],
        base_dir=root,
    )
    store = SqliteGraphStore(root / "kb")
    try:
        report = Builder(recipe, store, table=ConceptTable(data), settings=settings).run()
    finally:
        store.close()
    assert report.status == "complete", report


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("damage-kb")
    serve_kb.build(root)
    other = tmp_path_factory.mktemp("damage-other")
    build_other(other)
    return root, other


Answer = list[tuple[str, float, list[str]]]


def answer(dx: Diagnoser) -> Answer:
    """The ranked diseases, their scores and the passages cited for each."""
    return summary(dx.diagnose(serve_kb.CASE, top_k=5).model_dump(mode="json"))


def summary(report: dict[str, Any]) -> Answer:
    return [
        (c["concept_id"], round(c["score"], 6), [p["chunk"] for p in c["passages"]])
        for c in report.get("candidates", [])
    ]


@pytest.fixture(scope="module")
def baseline(builds: tuple[Path, Path]) -> Answer:
    root, _ = builds
    with Diagnoser(str(root / "kb"), settings=serve_kb.settings_for(root)) as dx:
        out = answer(dx)
    assert out, "the pristine knowledge base must answer the case"
    return out


def artifact_names(root: Path) -> list[str]:
    """Every file the manifest lists, and the manifest itself."""
    names = [e.path for e in manifest_entries(retrieval(root))]
    assert set(names) >= EXPECTED, names  # the test cannot pass by listing nothing
    return [*names, MANIFEST_NAME]


def damage(path: Path, kind: str, other_root: Path) -> bool:
    """Damage ``path`` in place; False when the damage cannot apply (no such file in the
    other build)."""
    data = path.read_bytes()
    if kind == "missing":
        path.unlink()
    elif kind == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "flip":
        raw = bytearray(data)
        for i in {len(raw) // 3, len(raw) // 2, (2 * len(raw)) // 3}:
            raw[i] ^= 0x5A
        path.write_bytes(bytes(raw))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong_type":  # a JSON where a binary was, a binary where a JSON was
        if path.suffix == ".json":
            path.write_bytes((retrieval(other_root) / "diagnostic_model.npz").read_bytes())
        else:
            path.write_text(json.dumps({"format": 3, "kind": "flat", "note": "not this file"}))
    elif kind == "foreign":
        source = retrieval(other_root) / path.name
        if not source.is_file():
            return False
        shutil.copyfile(source, path)
    else:
        raise AssertionError(kind)
    return True


def damaged_copy(root: Path, other: Path, name: str, kind: str, into: Path) -> tuple[Path, bool]:
    """A copy of the knowledge base at ``root`` with artifact ``name`` damaged."""
    case = into / f"{name}-{kind}"
    shutil.copytree(root, case, ignore=shutil.ignore_patterns("build.lock"))
    applied = damage(retrieval(case) / name, kind, other)
    changed = applied and (
        not (retrieval(case) / name).exists()
        or (retrieval(case) / name).read_bytes() != (retrieval(root) / name).read_bytes()
    )
    return case, changed


def check_all(
    builds: tuple[Path, Path], kind: str, tmp_path: Path, one: Callable[[Path, str, bool], str | None]
) -> None:
    """Run ``one(case_root, name, changed)`` for every artifact; report every failure."""
    root, other = builds
    failures = []
    for name in artifact_names(root):
        case, changed = damaged_copy(root, other, name, kind, tmp_path)
        problem = one(case, name, changed)
        if problem:
            failures.append(f"{name} ({kind}): {problem}")
        shutil.rmtree(case, ignore_errors=True)
    assert not failures, "\n".join(failures)


def says_damaged(message: str, name: str) -> str | None:
    """Why ``message`` is not the damaged-artifact message for ``name`` (None: it is)."""
    if name not in message:
        return f"the message does not name the file: {message[:300]}"
    if "rerun `kgrag build`" not in message:
        return f"the message does not say to rerun `kgrag build`: {message[:300]}"
    return None


@pytest.mark.parametrize("kind", KINDS)
def test_api_raises_artifact_damaged(
    kind: str, builds: tuple[Path, Path], baseline: Answer, tmp_path: Path
) -> None:
    def one(case: Path, name: str, changed: bool) -> str | None:
        try:
            with Diagnoser(str(case / "kb"), settings=serve_kb.settings_for(case)) as dx:
                got = answer(dx)
        except ArtifactDamaged as e:
            if not changed:
                return f"an unchanged file was called damaged: {e}"
            return says_damaged(str(e), name)
        except KgragError as e:
            return f"{type(e).__name__} instead of ArtifactDamaged: {e}"
        if changed:
            return f"a damaged file went unnoticed (answer {got[:2]})"
        return None if got == baseline else f"a wrong answer: {got[:3]} != {baseline[:3]}"

    check_all(builds, kind, tmp_path, one)


@pytest.mark.parametrize("kind", KINDS)
def test_cli_prints_the_message_without_a_traceback(
    kind: str, builds: tuple[Path, Path], baseline: Answer, tmp_path: Path
) -> None:
    def one(case: Path, name: str, changed: bool) -> str | None:
        env = {**os.environ, **serve_kb.env_for(case), "PYTHONPATH": str(REPO)}
        r = subprocess.run(
            [sys.executable, "-m", "kgrag.cli", "diagnose", serve_kb.CASE, "-k", "5", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = r.stdout + r.stderr
        if "Traceback" in out:
            return f"a traceback: {out[-600:]}"
        if not changed:
            got = summary(json.loads(r.stdout))
            return None if r.returncode == 0 and got == baseline else f"rc {r.returncode}: {out[-300:]}"
        if r.returncode == 0:
            return f"exit code 0 for a damaged file: {out[:300]}"
        return says_damaged(" ".join(out.split()), name)

    check_all(builds, kind, tmp_path, one)


def settle(client: TestClient, timeout: float = 60.0) -> dict[str, object]:
    """``/readyz`` once loading has ended (ready or not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get("/readyz").json()
        if body["status"] != "loading":
            return body
        time.sleep(0.05)
    raise AssertionError("the server did not finish loading")


@pytest.mark.parametrize("kind", KINDS)
def test_server_answers_503_and_readyz_says_why(
    kind: str, builds: tuple[Path, Path], baseline: Answer, tmp_path: Path
) -> None:
    def one(case: Path, name: str, changed: bool) -> str | None:
        svc = KnowledgeService(str(case / "kb"), settings=serve_kb.settings_for(case))
        app = create_app(ServeConfig(rate_limit="100000/minute"), svc)
        with TestClient(app, raise_server_exceptions=False) as c:
            ready = settle(c)
            r = c.post("/v1/diagnose", json={"text": serve_kb.CASE, "top_k": 5})
            retrieve = c.post("/v1/retrieve", json={"text": serve_kb.CASE, "top_k": 5})
        if not changed:
            got = summary(r.json())
            ok = ready["status"] == "ready" and r.status_code == 200 and got == baseline
            return None if ok else f"unchanged file: {ready} {r.status_code} {got[:2]}"
        if ready["status"] != "unavailable" or (why := says_damaged(str(ready["detail"]), name)):
            return f"/readyz does not say why: {ready}"
        for resp in (r, retrieve):
            if resp.status_code != 503 or resp.json().get("error") != "damaged":
                return f"{resp.status_code} {resp.text[:300]}"
            if why := says_damaged(resp.json()["message"], name):
                return why
        return None

    check_all(builds, kind, tmp_path, one)


def test_a_build_repairs_the_damage_and_the_server_recovers(
    builds: tuple[Path, Path], baseline: Answer, tmp_path: Path
) -> None:
    """Rerunning the build (no source changed) remakes damaged artifacts, and a running
    server becomes ready on its own once they are whole."""
    root, other = builds
    case, changed = damaged_copy(root, other, "diagnostic_model.npz", "flip", tmp_path)
    assert changed
    svc = KnowledgeService(str(case / "kb"), settings=serve_kb.settings_for(case))
    with TestClient(create_app(ServeConfig(rate_limit="100000/minute"), svc)) as c:
        assert settle(c)["status"] == "unavailable"
        serve_kb.build(case)  # what the message says to do
        deadline = time.monotonic() + 30
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        r = c.post("/v1/diagnose", json={"text": serve_kb.CASE, "top_k": 5})
    assert r.status_code == 200, r.text
    assert summary(r.json()) == baseline


def test_info_check_hashes_every_artifact(builds: tuple[Path, Path], tmp_path: Path) -> None:
    """``kgrag info --check`` rehashes: it finds an altered byte a size check cannot."""
    root, other = builds

    def run(case: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **serve_kb.env_for(case), "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "kgrag.cli", "info", "--check", "--json"]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)

    whole = run(root)
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["files"] == len(artifact_names(root)) - 1
    case, changed = damaged_copy(root, other, "passages.ids.json", "flip", tmp_path)
    broken = run(case)
    out = " ".join((broken.stdout + broken.stderr).split())
    assert changed and broken.returncode != 0 and "Traceback" not in out
    assert says_damaged(out, "passages.ids.json") is None, out


def test_a_damaged_concept_table_is_rebuilt_not_misread(tmp_path: Path) -> None:
    """The concept table cache (not a knowledge-base artifact: shared by every knowledge base,
    in the cache) carries a zstd checksum, so a flipped byte is found and the table read anew
    from its sources instead of answering from altered names."""
    from kgrag.errors import OntologyFormatError
    from kgrag.ontology.compiled import from_bytes, to_bytes

    blob = bytearray(to_bytes(serve_kb.small_data()))
    for at in range(20, len(blob) - 8, max(1, len(blob) // 40)):  # flips all over the frame
        flipped = bytearray(blob)
        flipped[at] ^= 0x01
        with pytest.raises(OntologyFormatError, match=r"corrupt|format"):
            from_bytes(bytes(flipped), "table")


def test_two_worker_server_over_a_damaged_kb_binds_and_says_why(
    builds: tuple[Path, Path], tmp_path: Path
) -> None:
    """``kgrag serve --workers 2`` (workers forked from one load) does not wait for a damaged
    knowledge base before binding: /readyz answers 503 naming the file, as one worker does."""
    import signal
    import socket

    import httpx

    root, other = builds
    case, changed = damaged_copy(root, other, "passages.ids.json", "truncate", tmp_path)
    assert changed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, **serve_kb.env_for(case), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kgrag.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                body = r.json()
                if body["status"] != "loading":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert body.get("status") == "unavailable", body
        assert says_damaged(str(body["detail"]), "passages.ids.json") is None, body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def test_a_rebuild_does_not_reuse_altered_embeddings(
    builds: tuple[Path, Path], tmp_path: Path
) -> None:
    """Saved passage embeddings that still load but were altered (a valid ``.npz`` with other
    vectors) are not taken into the next build's index: the manifest's hash refuses them."""
    import numpy as np

    root, other = builds
    case, _ = damaged_copy(root, other, MANIFEST_NAME, "foreign", tmp_path)  # a copy, then:
    shutil.copyfile(retrieval(root) / MANIFEST_NAME, retrieval(case) / MANIFEST_NAME)
    path = retrieval(case) / "passages.embeddings.npz"
    with np.load(path) as z:
        keys, vectors, encoder = z["keys"], z["vectors"], str(z["encoder"])
    with path.open("wb") as f:
        np.savez(f, keys=keys, vectors=-vectors, encoder=encoder)
    serve_kb.build(case)  # no source changed: only the damaged artifacts are remade
    for name in ("passages.index", "passages.ids.json"):
        assert (retrieval(case) / name).read_bytes() == (retrieval(root) / name).read_bytes(), name
