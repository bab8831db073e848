"""Abbreviation definitions in running text, Schwartz & Hearst (2003) style.

``"congestive heart failure (CHF)"`` defines CHF; later uses of CHF in the same document
are linked to what the long form links to. Of the long forms that spell the short form
(Schwartz & Hearst's character match), the one whose word initials spell most of it
wins, then the shortest: "Systemic sclerosis (SS)" defines SS as "Systemic sclerosis",
not as "sclerosis".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PAREN = re.compile(r"\(([^()]{1,60})\)")
_WORD = re.compile(r"\S+")
_PART = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """A defined abbreviation: the short form, its long form and where each appears in the text."""

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


def _initials_matched(short: str, long_form: str) -> int:
    """How many letters of ``short``, in order, are initials of words of ``long_form``."""
    letters = [c.lower() for c in short if c.isalnum()]
    k = 0
    for word in _PART.findall(long_form):
        if k < len(letters) and word[0].lower() == letters[k]:
            k += 1
    return k


def _choose_start(short: str, window: str) -> int | None:
    """Start in ``window`` of the long form for ``short`` (None when none spells it)."""
    best: tuple[int, int] | None = None
    best_start = None
    for m in _WORD.finditer(window):
        sub = window[m.start() :]
        if sub[0].lower() != short[0].lower() or _best_long_form(short, sub) is None:
            continue
        score = (_initials_matched(short, sub), -len(sub))
        if best is None or score > best:
            best, best_start = score, m.start()
    return best_start if best_start is not None else _best_long_form(short, window)


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Abbreviations defined in ``text`` as "long form (SF)", in text order."""
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
        start = _choose_start(short, window)
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
