"""Code examples of Markdown pages (the README, docs/) and docstrings, run as tests.

Shared by ``tests/test_readme.py`` and ``tests/test_docs.py``: :func:`python_blocks` reads
the ```python blocks of a page, :func:`run_python` runs code in one fresh interpreter against
a knowledge base. A block preceded by ``<!-- readme-test: skip (reason) -->`` (or
``docs-test``) is a fragment and is skipped; the reason is required.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

from _interpreter import PYTHON, child_env

from kgrag.config import Settings

REPO = Path(__file__).resolve().parent.parent
SKIP = re.compile(r"<!--\s*(?:readme|docs)-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")


def python_blocks(text: str, page: str = "README.md") -> tuple[list[str], list[str]]:
    """The page's Python blocks (dedented) and the reasons of the skipped ones."""
    blocks, skipped = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "```python":
            indent = line[: len(line) - len(line.lstrip())]
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            body = textwrap.dedent("\n".join(lines[i + 1 : j]))
            previous = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            m = SKIP.search(previous)
            if m:
                skipped.append(m.group("reason"))
            else:
                assert indent == "" or body, f"{page}:{i + 1}: empty block"
                blocks.append(body)
            i = j
        i += 1
    return blocks, skipped


def kb_environment(kb: Settings) -> dict[str, str]:
    """This process's environment pointed at ``kb``'s cache and vocabularies, this checkout first."""
    return {
        **child_env(),
        "PYTHONPATH": str(REPO),
        "KGRAG_CACHE_DIR": str(kb.cache_dir),
        "KGRAG_ONTOLOGIES_DIR": str(kb.ontologies_dir),
    }


def run_python(program: str, kb: Settings, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``program`` in a fresh interpreter (cwd: the repository) against the knowledge base ``kb``."""
    return subprocess.run(
        [PYTHON, "-c", program],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=kb_environment(kb),
        cwd=REPO,
    )


def run_blocks(blocks: list[str], kb: Settings, page: str) -> None:
    """Run ``blocks`` in order in one fresh interpreter; fail with its output if one raises."""
    program = "import kgrag\n" + "\n".join(
        f"print('--- block {n}', flush=True)\n{b}" for n, b in enumerate(blocks, 1)
    )
    out = run_python(program, kb)
    assert out.returncode == 0, f"{page}\n{out.stdout[-1500:]}\n{out.stderr[-4000:]}"
    assert out.stdout.count("--- block") == len(blocks)
