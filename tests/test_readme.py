"""The README's Python examples run as written, and its links point into the repository.

Every ```python block of README.md runs, in order, in one fresh interpreter against the
default knowledge base (built once per session, see ``default_kb`` in conftest.py). A block
preceded by ``<!-- readme-test: skip (reason) -->`` is a fragment and is skipped; the
reason is required.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

from _interpreter import PYTHON, child_env

from kgrag.config import Settings

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")


def python_blocks(text: str) -> tuple[list[str], list[str]]:
    """The README's Python blocks (dedented) and the reasons of the skipped ones."""
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
                assert indent == "" or body, f"README.md:{i + 1}: empty block"
                blocks.append(body)
            i = j
        i += 1
    return blocks, skipped


def test_the_readme_python_examples_run(default_kb: Settings) -> None:
    blocks, skipped = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3 and all(r.strip() for r in skipped)
    program = "import kgrag\n" + "\n".join(
        f"print('--- block {n}', flush=True)\n{b}" for n, b in enumerate(blocks, 1)
    )
    env = {
        **child_env(),
        "PYTHONPATH": str(REPO),
        "KGRAG_CACHE_DIR": str(default_kb.cache_dir),
        "KGRAG_ONTOLOGIES_DIR": str(default_kb.ontologies_dir),
    }
    out = subprocess.run(
        [PYTHON, "-c", program], capture_output=True, text=True, timeout=600, env=env, cwd=REPO
    )
    assert out.returncode == 0, f"{out.stdout[-1500:]}\n{out.stderr[-4000:]}"
    assert out.stdout.count("--- block") == len(blocks)


def test_the_readme_links_only_to_files_in_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        path = (REPO / target.split("#")[0]).resolve()
        assert path.is_relative_to(REPO), f"README links outside the repository: {target}"
        assert path.exists(), f"README links to a missing file: {target}"


def test_the_block_reader() -> None:
    text = "x\n```python\na = 1\n```\n<!-- readme-test: skip (slow) -->\n  ```python\n  b\n  ```\n"
    assert python_blocks(text) == (["a = 1"], ["slow"])
