"""is_a hierarchy helpers: cycle checks and closures over parent maps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from kgrag.errors import OntologyFormatError

Edges = Mapping[str, Iterable[tuple[str, int]]]  # child -> (parent, line that declares it)


def back_edges(edges: Edges) -> list[tuple[str, str, int, list[str]]]:
    """The is_a edges whose removal leaves the hierarchy acyclic (depth-first back edges).

    Each is ``(child, parent, line, cycle)`` with the cycle the edge closes.
    """
    found: list[tuple[str, str, int, list[str]]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in edges:
        if root in state:
            continue
        stack: list[tuple[str, list[tuple[str, int]]]] = [(root, list(edges.get(root, ())))]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                continue
            parent, line = todo.pop()
            mark = state.get(parent)
            if mark == 1:
                path = [n for n, _ in stack]
                found.append((node, parent, line, [*path[path.index(parent) :], parent]))
            elif mark is None:
                state[parent] = 1
                stack.append((parent, list(edges.get(parent, ()))))
    return found


def check_acyclic(edges: Edges, path: str | Path) -> None:
    """Raise :class:`OntologyFormatError` naming an is_a edge that closes a cycle."""
    cycles = back_edges(edges)
    if cycles:
        _child, _parent, line, cycle = cycles[0]
        raise OntologyFormatError(
            path, line or None, f"is_a cycle: {' -> '.join(cycle)}; remove one of these edges"
        )


def descendants(children: Mapping[str, Iterable[str]], root: str) -> set[str]:
    """``root`` and everything below it."""
    seen = {root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def invert(parents: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Child lists from parent lists: ``{parent: [children]}``."""
    children: dict[str, list[str]] = {}
    for child, ps in parents.items():
        for p in ps:
            children.setdefault(p, []).append(child)
    return children
