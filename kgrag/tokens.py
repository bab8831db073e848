"""Tokens with character spans into the original text, and their match keys.

A token's ``key`` is what dictionary matching compares: case-folded, accents stripped,
split like :func:`kgrag._text.normalize` (Greek letters spelled: "TNF-α" and "TNF alpha"
agree; "α-" and "β-mannosidosis" do not), British
spellings folded (haem/oedema/tumour), and plurals reduced ("seizures" -> "seizure").
Names in the dictionary go through the same function, so both sides always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kgrag._text import spell_greek, strip_accents

_WORD = re.compile(r"[^\W_]+")
_ALNUM = re.compile(r"[0-9a-z]+")
_APOSTROPHES = "'’`"
_NO_PLURAL = ("ss", "us", "is", "ys", "as", "os")
_ROMAN = {
    "i": "1",
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
    "x": "10",
    "xi": "11",
    "xii": "12",
}


@dataclass(frozen=True, slots=True)
class Token:
    """A token of a text: character offsets and its comparison key."""

    start: int
    end: int
    key: str


def fold(word: str) -> str:
    """``word`` folded for comparison: Greek letters spelled out, accents stripped, case-folded."""
    if not word.isascii():
        word = strip_accents(spell_greek(word))
    return word.casefold()


def stem(token: str) -> str:
    """Light, symmetric stemming.

    Plural -> singular, British -> American spelling, roman numerals -> digits (type II -> type 2).
    """
    if len(token) <= 4 and token in _ROMAN:
        return _ROMAN[token]
    if len(token) <= 3 or token.isdigit():
        return token
    if token.endswith("ies") and len(token) > 4:
        token = token[:-3] + "y"
    elif token.endswith(("sses", "xes", "ches", "shes", "zes")):
        token = token[:-2]
    elif token.endswith("s") and not token.endswith(_NO_PLURAL):
        token = token[:-1]
    if "ae" in token:
        token = token.replace("ae", "e")
    if "oe" in token:
        token = token.replace("oe", "e")
    if len(token) > 5 and token.endswith("our"):
        token = token[:-3] + "or"
    return token


def tokenize(text: str) -> list[Token]:
    """Word tokens of ``text``; ``text[t.start:t.end]`` is always the token's source."""
    out: list[Token] = []
    for m in _WORD.finditer(text):
        start, end = m.span()
        if (
            end - start == 1
            and text[start] in "sS"
            and start >= 2
            and text[start - 1] in _APOSTROPHES
            and text[start - 2].isalnum()
        ):
            continue  # possessive 's
        folded = fold(m.group())
        if folded.isascii() and len(folded) == end - start:
            for sub in _ALNUM.finditer(folded):
                out.append(Token(start + sub.start(), start + sub.end(), stem(sub.group())))
        else:  # folding changed the length: sub-tokens share the word's span
            for sub in _ALNUM.finditer(folded):
                out.append(Token(start, end, stem(sub.group())))
    return out


def key_of(name: str) -> str:
    """The dictionary key of a name: its token keys joined by single spaces."""
    return " ".join(t.key for t in tokenize(name))
