"""Finding a model's quote in the cited source text.

The normalization, named ``nfkc-casefold-ws-v1`` in every report, is applied to the quote
and to the source alike before comparing:

1. Unicode NFKC, then case folding (``ﬁ`` -> ``fi``, ``ß`` -> ``ss``, ``É`` -> ``é``);
2. typographic quotes and dashes to ASCII (``’`` -> ``'``, ``“`` -> ``"``, ``–`` -> ``-``);
3. every run of whitespace to one space; leading and trailing spaces, quote marks and
   the punctuation ``.,;:`` stripped from the quote.

A quote is found when its normalized form occurs in the normalized source; the match is
mapped back to the source's own characters, and the citation keeps that verbatim text.
A near miss (a model that changed a letter or two) is re-anchored to the closest
window of the source when the edit distance (Levenshtein) is at most
``max(1, 10 %)`` of the quote's length and at most ``MAX_EDITS``; anything further is
not found. Quotes shorter than ``MIN_QUOTE_CHARS`` normalized characters prove nothing
and are refused.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import partial_ratio_alignment

NORMALIZATION = "nfkc-casefold-ws-v1"
MIN_QUOTE_CHARS = 8
MAX_EDITS = 12
EDIT_RATIO = 0.10
_ASCII = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "−": "-",
    }
)
_STRIP = " \"'.,;:"


def normalize(text: str) -> tuple[str, list[int]]:
    """``text`` normalized, with the source index of each character of the result."""
    out: list[str] = []
    where: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            space = bool(out)
            continue
        for c in unicodedata.normalize("NFKC", ch).casefold().translate(_ASCII):
            if c.isspace():
                space = bool(out)
                continue
            if space:
                out.append(" ")
                where.append(i)
                space = False
            out.append(c)
            where.append(i)
    return "".join(out), where


def normalize_quote(quote: str) -> str:
    """A quote normalized for matching, stripped of surrounding punctuation and space."""
    return normalize(quote)[0].strip(_STRIP)


@dataclass(frozen=True)
class QuoteMatch:
    """``source[start:end]`` is the matched text; ``distance`` 0 for an exact match."""

    start: int
    end: int
    distance: int


def find_quote(quote: str, source: str) -> QuoteMatch | None:
    """Where ``quote`` occurs in ``source`` after normalization, or re-anchored within the edit bound.

    ``None`` when it does not (callers check ``MIN_QUOTE_CHARS`` first).
    """
    q = normalize_quote(quote)
    if not q:
        return None
    norm, where = normalize(source)
    pos = norm.find(q)
    if pos >= 0:
        return QuoteMatch(where[pos], where[pos + len(q) - 1] + 1, 0)
    bound = min(MAX_EDITS, max(1, int(len(q) * EDIT_RATIO)))
    if len(q) > len(norm) + bound:
        return None
    align = partial_ratio_alignment(q, norm)
    if align is None or align.dest_end <= align.dest_start:
        return None
    best: tuple[int, int, int] | None = None
    # the alignment window has the quote's length; a deleted or inserted character moves
    # its ends by one, so try the ends within the bound
    for s in range(max(0, align.dest_start - bound), min(len(norm), align.dest_start + bound) + 1):
        for e in range(max(s + 1, align.dest_end - bound), min(len(norm), align.dest_end + bound) + 1):
            d = Levenshtein.distance(q, norm[s:e], score_cutoff=bound)
            if d <= bound and (best is None or d < best[0]):
                best = (d, s, e)
    if best is None:
        return None
    d, s, e = best
    while s < e and norm[s] == " ":
        s += 1
    while e > s and norm[e - 1] == " ":
        e -= 1
    return QuoteMatch(where[s], where[e - 1] + 1, d)
