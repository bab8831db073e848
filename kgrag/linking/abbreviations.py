"""Abbreviation definitions in running text, Schwartz & Hearst (2003) style.

``"congestive heart failure (CHF)"`` defines CHF; later uses of CHF in the same document
are linked to what the long form links to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PAREN = re.compile(r"\(([^()]{1,60})\)")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    short: str
    long: str
    short_start: int
    long_start: int
    long_end: int


def _is_short_form(text: str) -> bool:
    words = text.split()
    return (
        1 <= len(words) <= 2
        and 2 <= len(text) <= 10
        and text[0].isalnum()
        and any(c.isalpha() for c in text)
    )


def _best_long_form(short: str, candidate: str) -> int | None:
    """Start index in ``candidate`` of the shortest long form matching ``short``, else None."""
    s = len(short) - 1
    c = len(candidate) - 1
    while s >= 0:
        ch = short[s].lower()
        if not ch.isalnum():
            s -= 1
            continue
        while c >= 0 and (
            candidate[c].lower() != ch or (s == 0 and c > 0 and candidate[c - 1].isalnum())
        ):
            c -= 1
        if c < 0:
            return None
        s -= 1
        c -= 1
    return c + 1


def find_abbreviations(text: str) -> list[Abbreviation]:
    found: list[Abbreviation] = []
    for m in _PAREN.finditer(text):
        short = re.split(r"[;,]", m.group(1))[0].strip()  # "(SJS; also called ...)"
        if not _is_short_form(short):
            continue
        before = text[: m.start()].rstrip()
        words = list(_WORD.finditer(before))
        limit = min(len(short) + 5, len(short) * 2)
        if not words:
            continue
        window_start = words[max(0, len(words) - limit)].start()
        window = before[window_start:]
        start = _best_long_form(short, window)
        if start is None:
            continue
        long_form = window[start:].strip(" ,;:")
        if len(long_form) <= len(short) or (" " not in long_form and len(long_form) < 4):
            continue
        offset = window_start + start
        found.append(
            Abbreviation(
                short=short,
                long=long_form,
                short_start=m.start(1) + m.group(1).index(short),
                long_start=offset,
                long_end=offset + len(long_form),
            )
        )
    return found
