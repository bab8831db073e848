"""Text normalization shared by the concept table and the linkers.

``normalize("Alzheimer's  Disease")`` -> ``"alzheimer disease"``: NFKC, Greek letters
spelled as words ("α-mannosidosis" -> "alpha mannosidosis", so it stays apart from
"β-mannosidosis"), diacritics stripped, case folded, possessive 's dropped, every run of
non-alphanumerics turned into one space.

:func:`sanitize` makes any ``str`` safe to encode: lone surrogates (from invalid UTF-8
read with ``surrogateescape``, as ``sys.argv`` is) become U+FFFD, one character for one,
so character offsets into the original text stay valid.
"""

from __future__ import annotations

import re
import unicodedata

_GREEK_NAMES = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
]
# lower and upper case letters, final sigma, and the micro sign (NFKC makes it mu)
GREEK: dict[str, str] = {
    **{chr(0x3B1 + i): name for i, name in enumerate(_GREEK_NAMES[:17])},
    **{chr(0x3C3 + i): name for i, name in enumerate(_GREEK_NAMES[17:])},
    **{chr(0x391 + i): name for i, name in enumerate(_GREEK_NAMES[:17])},
    **{chr(0x3A3 + i): name for i, name in enumerate(_GREEK_NAMES[17:])},
    "\u03c2": "sigma",
    "\u00b5": "mu",
}
_GREEK_RE = re.compile("[" + "".join(GREEK) + "]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_POSSESSIVE = re.compile(r"(?<=\w)['’`]s\b")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def spell_greek(text: str) -> str:
    """Greek letters as words between spaces: "TNF-α" -> "TNF- alpha "."""
    return _GREEK_RE.sub(lambda m: f" {GREEK[m.group()]} ", text)


def sanitize(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (same length)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """The comparison key of a name: equal keys mean the same surface term."""
    if not text.isascii():
        text = strip_accents(spell_greek(unicodedata.normalize("NFKC", sanitize(text))))
    folded = _POSSESSIVE.sub("", text.casefold())
    return _NON_ALNUM.sub(" ", folded).strip()


# English function words: a query made only of these (or of single characters) names nothing
FUNCTION_WORDS = frozenset(
    """
a an and are as at be been but by can could did do does for from had has have he her his
i if in into is it its may me might my no nor not of on or our she should so than that the
their them then there these they this those to too us was we were what when where which
while who why will with would you your all any each other some such only also very
""".split()  # noqa: SIM905 - a word list reads better as text
)


def content_words(text: str) -> list[str]:
    """The words of ``normalize(text)`` that can name something.

    Not function words, and longer than one character unless a digit:
    ``content_words("C++") == []``.
    """
    return [
        w for w in normalize(text).split() if w not in FUNCTION_WORDS and (len(w) > 1 or w.isdigit())
    ]
