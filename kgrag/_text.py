"""Text normalization shared by the concept table and the linkers.

``normalize("Alzheimer's  Disease")`` -> ``"alzheimer disease"``: NFKC, diacritics
stripped, case folded, possessive 's dropped, every run of non-alphanumerics turned
into one space.
"""

from __future__ import annotations

import re
import unicodedata

_POSSESSIVE = re.compile(r"(?<=\w)['’`]s\b")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """The comparison key of a name: equal keys mean the same surface term."""
    if not text.isascii():
        text = strip_accents(unicodedata.normalize("NFKC", text))
    folded = _POSSESSIVE.sub("", text.casefold())
    return _NON_ALNUM.sub(" ", folded).strip()
