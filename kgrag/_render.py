"""Notebook rendering: small HTML and Markdown tables and nested lists for the reports.

Jupyter calls ``_repr_html_`` (or ``_repr_markdown_``) on the last value of a cell; the
report models build theirs from these helpers, so every report looks alike. Every cell
is escaped: the text comes from user notes and source documents.
"""

from __future__ import annotations

import html
from collections.abc import Sequence


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def html_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table with a caption.

    Args:
        title: the caption (escaped).
        header: column names.
        rows: one sequence of cell values per row, as long as ``header``.

    Returns:
        ``<table>...</table>`` markup; every value is ``str()``-ed and escaped.
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"<table><caption>{html.escape(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def markdown_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The same table as :func:`html_table`, as GitHub Markdown (``|`` in cells escaped).

    Args:
        title: a bold line above the table.
        header: column names.
        rows: one sequence of cell values per row.

    Returns:
        Markdown text.
    """
    lines = [f"**{_md_cell(title)}**", ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
    lines.append("|" + "---|" * len(header))
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


TreeItem = tuple[str, list["TreeItem"]]  # (label, children); a leaf has no children
Tree = Sequence[TreeItem]


def html_tree(items: Tree) -> str:
    """A nested ``<ul>`` list.

    Args:
        items: ``(label, children)`` pairs; children have the same shape (empty: a leaf).

    Returns:
        ``<ul>...</ul>`` markup (labels escaped), or ``""`` for no items.
    """
    if not items:
        return ""
    inner = "".join(f"<li>{html.escape(label)}{html_tree(children)}</li>" for label, children in items)
    return f"<ul>{inner}</ul>"


def markdown_tree(items: Tree, depth: int = 0) -> str:
    """The same nested list as :func:`html_tree`, as indented Markdown bullets.

    Args:
        items: ``(label, children)`` pairs.
        depth: the indentation level of ``items`` (two spaces per level).

    Returns:
        Markdown text, one bullet per line.
    """
    lines: list[str] = []
    for label, children in items:
        lines.append("  " * depth + "- " + _md_cell(label))
        if children:
            lines.append(markdown_tree(children, depth + 1))
    return "\n".join(lines)
