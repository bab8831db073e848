"""The build pipeline's structure (#25): a registry of source kinds and no import cycle."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from test_layers import PACKAGE, imports_of, module_name

from kgrag.errors import ConfigError
from kgrag.pipeline.recipe import SourceKind
from kgrag.pipeline.sources import SOURCES, source_builder


def test_every_recipe_kind_has_a_builder_and_nothing_else() -> None:
    kinds = set(typing.get_args(SourceKind))
    assert kinds == set(SOURCES)
    for kind in kinds:
        assert source_builder(kind) is SOURCES[kind]


@pytest.mark.parametrize("kind", ["", "Corpus", "corpus ", "pubmed", "vocabulary"])
def test_an_unknown_kind_is_refused_with_the_known_ones(kind: str) -> None:
    with pytest.raises(ConfigError, match="choose one of vocabularies, hpoa"):
        source_builder(kind)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (module -> modules it imports), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _graph(folder: Path) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in folder.rglob("*.py")}
    return {
        # a package's ``from pkg import submodule`` reads as the package itself: no edge
        m: {i for i in imports_of(p) if i in modules and i != m}
        for m, p in modules.items()
    }


def test_the_pipeline_modules_import_without_a_cycle() -> None:
    graph = _graph(PACKAGE / "pipeline")
    # packages import their modules (the registry); a module importing its package back is a cycle
    assert _cycle(graph) is None, f"import cycle in kgrag/pipeline: {_cycle(graph)}"


def test_the_cycle_checker_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _cycle({"a": {"a"}}) == ["a", "a"]


def test_no_module_of_the_pipeline_imports_the_runner() -> None:
    graph = _graph(PACKAGE / "pipeline")
    importers = {m for m, deps in graph.items() if "kgrag.pipeline.runner" in deps}
    assert importers == set(), "the runner is only the loop: nothing below it may import it"
