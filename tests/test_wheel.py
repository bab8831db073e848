"""The wheel works on its own: built from this checkout, installed into a fresh virtualenv
outside it, it finds the default recipe and its corpus among its package data, builds a
small recipe and diagnoses from it with the ``kgrag`` command.

The virtualenv sees the test environment's packages (torch, faiss, ... are not
reinstalled; ``tests/_interpreter.py`` makes it, from the machine's Python, a virtualenv,
uv or conda alike), but kgrag itself comes from the wheel: the test checks where
``import kgrag`` resolves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from _interpreter import PYTHON, child_env, make_venv

from kgrag.config import Settings
from kgrag.ontology.table import ConceptTable

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    out = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )
    assert out.returncode == 0, f"{args}: {out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.mark.slow
def test_the_wheel_installs_and_builds_outside_the_checkout(
    tmp_path: Path, table: ConceptTable, default_settings: Settings
) -> None:
    pytest.importorskip("hatchling", reason="building the wheel offline needs hatchling installed")
    env = child_env(drop=("PYTHON", "KGRAG_"))
    dist = tmp_path / "dist"
    run(
        [PYTHON, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, REPO],
        tmp_path,
        env,
    )
    (wheel,) = dist.glob("kgrag-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "kgrag/_data/ingest/default.toml",
        "kgrag/_data/corpora/medquad/LICENSE.txt",
        "kgrag/_data/ontologies/manifest.json",
        "kgrag/linking/calibration.json",
    ):
        assert needed in names, f"the wheel lacks {needed}"
    assert (
        sum(n.startswith("kgrag/_data/corpora/medquad/") and n.endswith(".xml.gz") for n in names) == 245
    )

    venv = tmp_path / "venv"
    python = make_venv(venv, env)
    kgrag_cli = venv / "bin" / "kgrag"
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel], tmp_path, env)

    # a private cache that already holds the compiled concept table (same shipped files)
    env["KGRAG_CACHE_DIR"] = str(tmp_path / "cache")
    shutil.copytree(default_settings.cache_dir, tmp_path / "cache", ignore=shutil.ignore_patterns("kb*"))
    where = run(
        [
            python,
            "-c",
            "import kgrag; from kgrag.pipeline.runner import default_recipe_path, load_recipe;"
            "r = load_recipe(); print(kgrag.__file__); print(default_recipe_path());"
            "print((r.base_dir / r.sources[-1].path).resolve().is_dir())",
        ],
        tmp_path,
        env,
    ).split()
    assert where[0].startswith(str(venv)) and where[1].startswith(str(venv)), where
    assert where[2] == "True", "the default recipe's corpus is not in the wheel"

    guidelines = tmp_path / "guidelines"
    shutil.copytree(REPO / "notebooks" / "guidelines", guidelines)
    built = json.loads(
        run(
            [kgrag_cli, "build", guidelines / "recipe.toml", "--store", tmp_path / "kb", "--json"],
            tmp_path,
            env,
        )
    )
    assert built["status"] == "complete"
    assert {s["name"]: s["status"] for s in built["sources"]} == {
        "ddxplus": "built",
        "guidelines": "built",
    }
    report = json.loads(
        run(
            [
                kgrag_cli,
                "diagnose",
                "-f",
                "DDXE:E_91",
                "-f",
                "DDXE:E_77",
                "--store",
                tmp_path / "kb",
                "--json",
            ],
            tmp_path,
            env,
        )
    )
    assert report["candidates"] and report["candidates"][0]["rank"] == 1
