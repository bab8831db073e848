"""Rewrites of a mention that often name the same concept.

A multi-pass sieve in the spirit of D'Souza & Ng 2015: order-insensitive keys, disorder-word
synonyms, composite mentions split into their parts, and modifier back-off to the head phrase.
"""

from __future__ import annotations

import re

FUNCTION_WORDS = frozenset(
    {
        "of",
        "the",
        "a",
        "an",
        "in",
        "with",
        "to",
        "and",
        "or",
        "s",
        "nos",
        "for",
        "by",
        "on",
        "due",
        "type",
    }
)
# words that vocabularies use interchangeably for the same kind of disorder
_SWAPS: tuple[tuple[str, ...], ...] = (
    ("cancer", "carcinoma", "neoplasm", "tumor", "malignancy"),
    ("disease", "disorder", "syndrome", "abnormality"),
    ("deficiency", "deficient", "defect"),
    ("hereditary", "familial", "inherited", "genetic"),
    ("kidney", "renal"),
    ("liver", "hepatic"),
    ("heart", "cardiac"),
    ("lung", "pulmonary"),
    ("brain", "cerebral"),
)
_SWAP_OF = {w: group for group in _SWAPS for w in group}
_COMPOSITE = re.compile(r"\s*(?:,\s*and/or|,\s*and|,\s*or|and/or|,|\band\b|\bor\b|/)\s*")


def bag_key(key: str) -> str:
    """Order-insensitive key without function words: 'deficiency of c9' == 'c9 deficiency'."""
    words = sorted({w for w in key.split(" ") if w not in FUNCTION_WORDS})
    return " ".join(words)


def swaps(key: str, limit: int = 12) -> list[str]:
    """Keys with one disorder word replaced by an interchangeable one."""
    words = key.split(" ")
    out: list[str] = []
    for i, w in enumerate(words):
        for alt in _SWAP_OF.get(w, ()):
            if alt != w:
                out.append(" ".join([*words[:i], alt, *words[i + 1 :]]))
    return out[:limit]


def composite_parts(text: str) -> list[str]:
    """'breast and ovarian cancer' -> ['breast cancer', 'ovarian cancer'].

    'colon, breast or lung cancers' -> [... three parts]. Empty when not composite.
    """
    pieces = [p for p in _COMPOSITE.split(text.strip()) if p]
    if len(pieces) < 2:
        return []
    last = pieces[-1].split()
    if len(last) < 2:
        return pieces  # 'anemia and neutropenia': each piece stands alone
    head = last[-1]
    out = [f"{p} {head}" if len(p.split()) == 1 else p for p in pieces[:-1]]
    return [*out, pieces[-1]]


GENERIC_HEADS = frozenset(
    {
        "tumor",
        "cancer",
        "carcinoma",
        "neoplasm",
        "disease",
        "disorder",
        "syndrome",
        "lesion",
        "defect",
        "failure",
        "toxicity",
        "infarct",
        "injury",
        "damage",
        "dysfunction",
        "abnormality",
        "complication",
        "deficiency",
        "symptom",
        "problem",
        "involvement",
        "impairment",
    }
)


def head_swaps(key: str) -> list[str]:
    """'von hippel lindau tumor' -> ['von hippel lindau disease', ..., 'von hippel lindau']."""
    words = key.split(" ")
    if len(words) < 2 or words[-1] not in GENERIC_HEADS:
        return []
    stem = " ".join(words[:-1])
    return [f"{stem} {h}" for h in ("disease", "syndrome", "disorder") if h != words[-1]] + [stem]


def backoffs(key: str, min_chars: int = 4) -> list[str]:
    """Drop leading modifiers one at a time.

    'familial bilateral retinoblastoma' -> ['bilateral retinoblastoma', 'retinoblastoma'].
    """
    words = key.split(" ")
    out = []
    for i in range(1, len(words)):
        rest = " ".join(words[i:])
        if len(rest) >= min_chars and words[i] not in FUNCTION_WORDS and rest not in GENERIC_HEADS:
            out.append(rest)
    return out
