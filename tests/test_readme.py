"""The README's Python examples run as written, and its links point into the repository.

Every ```python block of README.md runs, in order, in one fresh interpreter against the
default knowledge base (built once per session, see ``default_kb`` in conftest.py). A block
preceded by ``<!-- readme-test: skip (reason) -->`` is a fragment and is skipped; the
reason is required.
"""

from __future__ import annotations

import re
from pathlib import Path

from _examples import python_blocks, run_blocks

from kgrag.config import Settings

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def test_the_readme_python_examples_run(default_kb: Settings) -> None:
    blocks, skipped = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3 and all(r.strip() for r in skipped)
    run_blocks(blocks, default_kb, "README.md")


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
