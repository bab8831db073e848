"""Imports go one way: a module imports only from its own layer or the layers below it.

The order, lowest first (docs/architecture.md draws it):

    foundation (types, errors, config, _text, tokens, progress, ...) < ontology < corpus
    < index < linking < facts < graph < retrieval < generate < pipeline < api < cli / serve

Every ``import`` and ``from ... import`` counts: at module level, inside functions (lazy
imports) and under ``if TYPE_CHECKING:``. Parsed with :mod:`ast`, nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kgrag"

LAYERS = [
    "foundation",
    "ontology",
    "corpus",
    "index",
    "linking",
    "facts",
    "graph",
    "retrieval",
    "generate",
    "pipeline",
    "api",
    "cli",
]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["serve"] = RANK["cli"]
RANK["service"] = RANK["api"]  # the one case service every entry point calls
FOUNDATION = {"types", "errors", "config", "_text", "tokens", "progress", "_version", "_gc", "_render"}

# Upward edges that exist on main today and that the layering work (the stores and retrieval
# refactor) is removing. Each is (importing module, imported module). Delete a line when its edge
# is gone; the test fails on any upward edge not listed here, and on a listed one that
# no longer exists (so the list only shrinks).
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def layer_of(module: str) -> str:
    """The layer of a ``kgrag.*`` module name (``kgrag`` itself is the facade: api)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    top = parts[1]
    if top in FOUNDATION:
        return "foundation"
    if top in RANK:
        return top
    raise AssertionError(f"{module}: no layer; add {top!r} to LAYERS or FOUNDATION in {__file__}")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every kgrag module ``path`` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "kgrag")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "kgrag":
                continue
            if target != "kgrag":
                found.add(target)
                continue
            for alias in node.names:  # from kgrag import X: the submodule X, or the facade
                if alias.name == "__version__":
                    found.add("kgrag._version")
                elif (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file():
                    found.add(f"kgrag.{alias.name}")
                else:
                    found.add("kgrag")
        elif isinstance(node, ast.Call):  # importlib.import_module("kgrag.x")
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
                value = node.args[0].value
                if isinstance(value, str) and value.startswith("kgrag"):
                    found.add(value)
    return found


def upward_edges() -> set[tuple[str, str]]:
    edges = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        src = module_name(path)
        if src == "kgrag":
            continue  # the facade re-exports every layer, lazily
        for dst in imports_of(path):
            if RANK[layer_of(dst)] > RANK[layer_of(src)]:
                edges.add((src, dst))
    return edges


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_imports_point_down() -> None:
    edges = upward_edges()
    new = sorted(edges - KNOWN_EXCEPTIONS)
    assert not new, "upward imports (layer order in docs/architecture.md):\n" + "\n".join(
        f"  {a} ({layer_of(a)}) -> {b} ({layer_of(b)})" for a, b in new
    )
    gone = sorted(KNOWN_EXCEPTIONS - edges)
    assert not gone, f"these known exceptions are fixed: delete them from KNOWN_EXCEPTIONS: {gone}"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    code = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kgrag.api import link\n"
        "def f():\n    import kgrag.cli.build\n    from . import runner\n"
        "    import importlib\n    importlib.import_module('kgrag.serve')\n"
    )
    fake = PACKAGE / "graph" / "_layers_probe.py"
    fake.write_text(code)
    try:
        found = imports_of(fake)
    finally:
        fake.unlink()
    assert {"kgrag.api", "kgrag.cli.build", "kgrag.graph", "kgrag.serve"} <= found
