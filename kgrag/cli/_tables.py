"""Tables that fit the terminal without breaking a code or a word.

rich shrinks a table that is wider than the console by folding its cells, which cuts codes and
words in the middle (``ICD10CM:G93.4`` / ``5``). :func:`fit_table` never asks rich for less
room than the longest word of a column: on a narrow console (or a pipe, 80 columns unless
``COLUMNS`` says otherwise) it hides the columns that matter least first, and when even the
essential ones do not fit it prints each row as a block of ``label  value`` lines. Cells wrap
at spaces only. Long names are shortened with an ellipsis (:func:`shorten`); ``--json`` always
has every column and the full names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

NAME_LIMIT = 48
"""Characters of a name shown in a table cell before it is shortened with an ellipsis."""

ESSENTIAL = 9
"""A :class:`Col` with ``keep`` at least this is never hidden (the row reads wrong without it)."""


@dataclass(frozen=True)
class Col:
    """One column of a :func:`fit_table`.

    Attributes:
        header: the column's heading.
        keep: how long the column stays as the console narrows: the lowest goes first (the
            rightmost of equals), :data:`ESSENTIAL` or more never goes.
        justify: ``left`` or ``right`` (numbers).
    """

    header: str
    keep: int = 1
    justify: Literal["left", "right"] = "left"


def shorten(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ending in ``…``.

    A text with no space early enough is cut inside its first word (still ending in ``…``).

    Examples:
        >>> shorten("X-linked intellectual disability-psychosis-macroorchidism syndrome", 40)
        'X-linked intellectual…'
        >>> shorten("Asthma")
        'Asthma'
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:>-") + "…"


def longest_word(cell: Text) -> int:
    """Terminal cells of the longest space-separated word of ``cell`` (0 when empty)."""
    return max((cell_len(word) for line in cell.plain.splitlines() for word in line.split()), default=0)


def _longest_line(cell: Text) -> int:
    return max((cell_len(line) for line in cell.plain.splitlines()), default=0)


def _spread(need: list[int], natural: list[int], width: int) -> list[int]:
    """Column widths from ``need`` up to ``natural`` within a table ``width`` cells wide.

    ``need`` is each column's longest word, ``natural`` its longest line; each spare cell goes
    to the narrowest column still short of its longest line, so short cells unwrap first.
    """
    widths = list(need)
    room = width - table_width(widths)
    while room > 0:
        short = [i for i in range(len(widths)) if widths[i] < natural[i]]
        if not short:
            break
        widths[min(short, key=lambda i: widths[i])] += 1
        room -= 1
    return widths


def table_width(widths: Sequence[int]) -> int:
    """Terminal cells a rich table with heavy-head box and 1-cell padding needs for these columns."""
    return sum(widths) + 3 * len(widths) + 1


def fit_table(title: str, columns: Sequence[Col], rows: Sequence[Sequence[str]]) -> FitTable:
    """A table of ``rows`` (rich markup, data already escaped) as wide as the console allows.

    Args:
        title: the table's title (markup).
        columns: the columns, in order; ``rows`` hold one cell per column.
        rows: the cells, each a rich markup string.

    Returns:
        A renderable that lays itself out for the width it is printed at (:class:`FitTable`).
    """
    return FitTable(title, columns, [[Text.from_markup(c) for c in row] for row in rows])


class FitTable:
    """A table laid out when printed, for the width it gets (see the module docstring).

    The columns that fit hold at least their longest word each, at most their longest line;
    a caption names the hidden ones. When even the essential columns are wider than the
    console, each row prints as a small ``header  value`` grid instead.

    Args:
        title: the table's title (markup).
        columns: the columns, in order.
        cells: one row of rich ``Text`` per row, a cell per column.
    """

    def __init__(self, title: str, columns: Sequence[Col], cells: list[list[Text]]) -> None:
        self.title, self.columns, self.cells = title, list(columns), cells
        self.need = [
            max([longest_word(Text(col.header))] + [longest_word(row[i]) for row in cells])
            for i, col in enumerate(columns)
        ]
        self.natural = [
            max([cell_len(col.header)] + [_longest_line(row[i]) for row in cells])
            for i, col in enumerate(columns)
        ]

    def layout(self, width: int) -> RenderableType:
        """The table (or the stacked rows) for a console ``width`` cells wide."""
        columns, need = self.columns, self.need
        shown = list(range(len(columns)))
        while table_width([need[i] for i in shown]) > width:
            optional = [i for i in shown if columns[i].keep < ESSENTIAL]
            if not optional:
                return _stacked(self.title, columns, self.cells)
            shown.remove(min(optional, key=lambda i: (columns[i].keep, -i)))
        widths = _spread([need[i] for i in shown], [self.natural[i] for i in shown], width)
        hidden = [columns[i].header for i in range(len(columns)) if i not in shown]
        caption = f"not shown: {', '.join(hidden)} (narrow terminal; --json has all)" if hidden else None
        out = Table(title=self.title, caption=caption)
        for i, w in zip(shown, widths, strict=True):  # fixed widths: rich's own shrinking folds words
            out.add_column(columns[i].header, justify=columns[i].justify, width=w, overflow="fold")
        for row in self.cells:
            out.add_row(*(row[i] for i in shown))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.layout(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.layout(options.max_width))


def _stacked(title: str, columns: Sequence[Col], cells: list[list[Text]]) -> Group:
    """Each row as ``header  value`` lines, rows apart by a blank line (a very narrow console)."""
    label = max(cell_len(c.header) for c in columns)
    parts: list[RenderableType] = [Text.from_markup(f"[italic]{title}[/italic]")]
    for row in cells:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True, min_width=label)
        grid.add_column(overflow="fold")
        for col, cell in zip(columns, row, strict=True):
            if cell.plain.strip():
                grid.add_row(col.header, cell)
        parts += [Text(""), grid]
    return Group(*parts)
