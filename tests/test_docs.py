"""The documentation site builds strict, its Python examples run, and so do the docstrings'.

- ``mkdocs build --strict`` into a temporary folder (a broken link, a missing page in the
  nav or an API name mkdocstrings cannot find fails it); the generated references hold
  every command, every route and every public name.
- Every ```python block of each page under ``docs/`` runs, in order, in one fresh
  interpreter per page against the default knowledge base (the README's runner, shared in
  ``tests/_examples.py``; ``<!-- docs-test: skip (reason) -->`` marks a fragment).
- The ``>>>`` examples of every kgrag module run as doctests (``doctest`` over the package,
  as ``pytest --doctest-modules`` would) in a fresh interpreter against the same knowledge
  base.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
from _examples import python_blocks, run_blocks, run_python
from _interpreter import PYTHON, child_env

import kgrag
from kgrag.config import Settings

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
WITH_CODE = [p for p in PAGES if python_blocks(p.read_text(encoding="utf-8"), str(p))[0]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        pytest.skip('mkdocs is not installed (pip install -e ".[docs]")')
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=child_env(PYTHONPATH=str(REPO), NO_MKDOCS_2_WARNING="1"),
    )
    assert build.returncode == 0, build.stderr[-6000:]
    return out


def text_of(html: Path) -> str:
    return re.sub(r"<[^>]+>", " ", html.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_site_builds_strict_with_every_reference(site: Path) -> None:
    from typer.main import get_command

    from kgrag.cli import app

    cli = text_of(site / "reference" / "cli" / "index.html")
    root = get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        assert f"kgrag {name}" in cli, f"kgrag {name} is missing from the CLI reference"
        for sub in getattr(command, "commands", {}) or {}:
            assert f"kgrag {name} {sub}" in cli
    spec = json.loads((site / "reference" / "openapi.json").read_text())
    http = text_of(site / "reference" / "http" / "index.html")
    for path, item in spec["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in http, f"{method} {path} is missing from the HTTP page"
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    for name in set(kgrag.__all__) - {"__version__"}:
        where = re.search(rf'id="kgrag\.[\w.]*\b{name}"', api)
        assert where, f"kgrag.{name} is missing from the API page"
    sources = text_of(site / "data-sources" / "index.html")
    manifest = json.loads((REPO / "ontologies" / "manifest.json").read_text())
    for s in manifest["sources"]:
        assert s["version"] in sources and s["name"] in sources


def test_every_page_is_reachable_and_every_python_block_is_counted() -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:
        rel = page.relative_to(DOCS).as_posix()
        listed = re.search(rf":\s+{re.escape(rel)}\s*$", nav, re.M)
        assert listed, f"{rel} is not in the nav of mkdocs.yml"
    assert len(WITH_CODE) >= 3, [p.name for p in WITH_CODE]


@pytest.mark.slow
@pytest.mark.parametrize("page", WITH_CODE, ids=[p.relative_to(DOCS).as_posix() for p in WITH_CODE])
def test_the_docs_python_examples_run(page: Path, default_kb: Settings) -> None:
    blocks, skipped = python_blocks(page.read_text(encoding="utf-8"), str(page))
    assert all(r.strip() for r in skipped)
    run_blocks(blocks, default_kb, str(page.relative_to(REPO)))


DOCTESTS = """
import doctest, importlib, json, pkgutil
import kgrag
flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
out = {"attempted": 0, "failed": 0, "modules": 0, "skipped_modules": [], "report": []}
for info in pkgutil.walk_packages(kgrag.__path__, "kgrag."):
    if info.name.endswith("__main__"):
        continue
    try:
        module = importlib.import_module(info.name)
    except ImportError as e:  # an extra this machine lacks
        out["skipped_modules"].append(f"{info.name}: {e}")
        continue
    runner = doctest.DocTestRunner(optionflags=flags)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, module.__name__):
        runner.run(test, out=out["report"].append)
    result = runner.summarize(verbose=False)
    out["attempted"] += result.attempted
    out["failed"] += result.failed
    out["modules"] += 1
print(json.dumps(out))
"""


@pytest.mark.slow
def test_the_docstring_examples_run_as_doctests(default_kb: Settings) -> None:
    done = run_python(DOCTESTS, default_kb)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == 0, "\n".join(result["report"])[-8000:]
    assert result["modules"] > 100 and not result["skipped_modules"], result["skipped_modules"]
    assert result["attempted"] >= 70, result  # every public name has one; most modules too


def test_the_doctest_runner_fails_on_a_wrong_example(default_settings: Settings) -> None:
    """The doctest program reports a failing example (it is not a test that cannot fail)."""
    program = DOCTESTS.replace(
        'for info in pkgutil.walk_packages(kgrag.__path__, "kgrag."):',
        'import types\nfake = types.ModuleType("kgrag._fake")\nfake.__doc__ = ">>> 1 + 1\\n3\\n"\n'
        'import sys\nsys.modules["kgrag._fake"] = fake\n'
        'for info in [type("I", (), {"name": "kgrag._fake"})()]:',
    )
    done = run_python(program, default_settings)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == 1 and result["attempted"] == 1, done.stdout
