"""Assertion of mentions (ConText/NegEx style): present, absent, possible, hypothetical,
historical, family.

Triggers open a scope forward ("no", "denies", "history of", "mother") or backward
("... was ruled out", "... cannot be excluded") within the sentence. A scope ends at a
terminator ("but", "however", ";"), at a trigger of another kind, or after a window of
words. Pseudo-triggers ("gram negative", "not only") never open one. When several scopes
cover a mention, family > hypothetical > absent > possible > historical.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kgrag.types import Assertion

A = Assertion
_FORWARD: dict[Assertion, tuple[str, ...]] = {
    A.ABSENT: (
        "no",
        "not",
        "denies",
        "denied",
        "deny",
        "denying",
        "without",
        "negative for",
        "no evidence of",
        "no sign of",
        "no signs of",
        "no history of",
        "absence of",
        "absent",
        "free of",
        "ruled out",
        "rules out",
        "never had",
        "never",
        "neither",
        "nor",
        "no complaints of",
        "fails to reveal",
        "failed to reveal",
        "no new",
        "no further evidence of",
        "resolution of",
        "declines",
    ),
    A.POSSIBLE: (
        "possible",
        "possibly",
        "probable",
        "probably",
        "likely",
        "suspected",
        "suspicion of",
        "suspicious for",
        "suspect",
        "concern for",
        "concerning for",
        "question of",
        "questionable",
        "rule out",
        "r/o",
        "to rule out",
        "may have",
        "might have",
        "could have",
        "could be",
        "may be",
        "suggestive of",
        "suggests",
        "compatible with",
        "cannot rule out",
        "can not rule out",
        "presumed",
        "presumably",
        "worrisome for",
        "evaluate for",
        "evaluation for",
        "differential diagnosis",
        "versus",
        "vs",
    ),
    A.HYPOTHETICAL: (
        "if",
        "in case of",
        "should he",
        "should she",
        "should the patient",
        "return if",
        "return for",
        "call if",
        "as needed for",
        "in the event of",
        "watch for",
        "monitor for",
        "at risk for",
        "risk of",
        "to prevent",
        "prevention of",
        "prophylaxis",
        "prophylaxis for",
        "screening for",
        "unless",
        "whether",
    ),
    A.HISTORICAL: (
        "history of",
        "h/o",
        "hx of",
        "past medical history",
        "pmh",
        "past history of",
        "previous",
        "previously",
        "prior",
        "status post",
        "s/p",
        "in the past",
        "remote history of",
        "childhood",
        "formerly",
    ),
    A.FAMILY: (
        "family history of",
        "family history",
        "fh of",
        "fhx",
        "mother",
        "father",
        "sister",
        "brother",
        "sibling",
        "siblings",
        "aunt",
        "uncle",
        "grandmother",
        "grandfather",
        "cousin",
        "son",
        "daughter",
        "parents",
        "maternal",
        "paternal",
        "mom",
        "dad",
        "relative",
        "relatives",
    ),
}
_BACKWARD: dict[Assertion, tuple[str, ...]] = {
    A.ABSENT: (
        "ruled out",
        "was ruled out",
        "is ruled out",
        "were ruled out",
        "has been ruled out",
        "have been ruled out",
        "was excluded",
        "were excluded",
        "is excluded",
        "was negative",
        "is negative",
        "were negative",
        "are negative",
        "is absent",
        "was absent",
        "were absent",
        "are absent",
        "not seen",
        "not present",
        "not found",
        "not detected",
        "not identified",
        "free",
        "resolved",
        "has resolved",
    ),
    A.POSSIBLE: (
        "cannot be excluded",
        "can not be excluded",
        "cannot be ruled out",
        "not excluded",
        "not ruled out",
        "is suspected",
        "was suspected",
        "is likely",
        "is possible",
        "is probable",
        "unlikely",
        "is questionable",
        "versus",
        "vs",
    ),
    A.HYPOTHETICAL: ("develops", "develop", "recurs", "return", "returns", "occurs"),
}
_PSEUDO = (
    "gram negative",
    "not only",
    "no change",
    "no increase",
    "no significant change",
    "not necessarily",
    "no further",
    "not certain if",
    "not certain whether",
    "without difficulty",
    "not cause",
    "not drain",
    "no suspicious change",
    "not extend",
    "not appear",
    "not be",
    "without any further",
    "no interval change",
)
_TERMINATORS = (
    "but",
    "however",
    "although",
    "though",
    "except",
    "apart from",
    "aside from",
    "yet",
    "whereas",
    "nevertheless",
    "still",
    "which",
    "who",
    "other than",
    "secondary to",
    "due to",
    "cause of",
    "source of",
    "etiology of",
)
# verbs that assert the following findings, ending a negation or possibility scope
_AFFIRMING = (
    "has",
    "have",
    "had",
    "presents with",
    "presented with",
    "complains of",
    "reports",
    "reported",
    "shows",
    "showed",
    "revealed",
    "reveals",
    "developed",
    "is positive for",
    "positive for",
    "notable for",
    "significant for",
    "demonstrates",
    "demonstrated",
    "with",
)
_PRIORITY = (A.FAMILY, A.HYPOTHETICAL, A.ABSENT, A.POSSIBLE, A.HISTORICAL)
FORWARD_WINDOW = 12  # words
BACKWARD_WINDOW = 6

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*•\d])")
_WORDS = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    kind: str  # "forward", "backward", "pseudo", "terminator", "affirming"
    assertion: Assertion | None


def _compile() -> tuple[re.Pattern[str], dict[str, tuple[str, Assertion | None]]]:
    """One case-insensitive alternation of every phrase, longest first, so that
    "family history of" beats "history of" and pseudo-triggers beat "no"/"not"."""
    kinds: dict[str, tuple[str, Assertion | None]] = {}
    for kind, table in (("forward", _FORWARD), ("backward", _BACKWARD)):
        for assertion, phrases in table.items():
            for phrase in phrases:
                kinds.setdefault(phrase, (kind, assertion))
    for kind, phrases in (("pseudo", _PSEUDO), ("terminator", _TERMINATORS), ("affirming", _AFFIRMING)):
        for phrase in phrases:
            kinds[phrase] = (kind, None)  # these override a trigger of the same spelling
    ordered = sorted(kinds, key=len, reverse=True)
    alternation = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)
    return re.compile(r"(?<![\w/])(" + alternation + r")(?![\w/])|(;)", re.IGNORECASE), kinds


_PATTERN, _PHRASE_KIND = _compile()


def _hits(sentence: str, offset: int) -> list[_Hit]:
    out = []
    for m in _PATTERN.finditer(sentence):
        if m.group(2):
            out.append(_Hit(offset + m.start(), offset + m.end(), "terminator", None))
            continue
        phrase = re.sub(r"\s+", " ", m.group(1).lower())
        kind, assertion = _PHRASE_KIND.get(phrase, ("terminator", None))
        out.append(_Hit(offset + m.start(), offset + m.end(), kind, assertion))
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if e > s]


def _words_between(text: str, start: int, end: int) -> int:
    return len(_WORDS.findall(text[start:end])) if end > start else 0


def assign_assertions(text: str, spans: Sequence[tuple[int, int]]) -> list[Assertion]:
    """The assertion of each ``(start, end)`` mention span of ``text``."""
    result = [A.PRESENT] * len(spans)
    if not spans:
        return result
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    k = 0
    for s_start, s_end in sentence_spans(text):
        members = []
        while k < len(order) and spans[order[k]][0] < s_end:
            if spans[order[k]][0] >= s_start:
                members.append(order[k])
            k += 1
        if not members:
            continue
        hits = _hits(text[s_start:s_end], s_start)
        if not any(h.kind in ("forward", "backward") for h in hits):
            continue
        for i in members:
            result[i] = _assert_one(text, spans[i], hits, spans)
    return result


def _blocked(hits: Sequence[_Hit], start: int, end: int, assertion: Assertion) -> bool:
    """Whether something between ``start`` and ``end`` closes a scope of ``assertion``."""
    for h in hits:
        if h.start >= start and h.end <= end:
            if h.kind == "terminator":
                return True
            if h.kind == "affirming" and assertion in (A.ABSENT, A.POSSIBLE):
                return True
            if h.kind == "forward" and h.assertion is not assertion:
                return True
    return False


def _assert_one(
    text: str, span: tuple[int, int], hits: Sequence[_Hit], spans: Sequence[tuple[int, int]]
) -> Assertion:
    found: set[Assertion] = set()
    m_start, m_end = span
    for h in hits:
        if h.assertion is None:
            continue
        if h.start < m_end and h.end > m_start:
            continue  # the trigger is inside the mention itself
        if h.kind == "forward" and h.end <= m_start:
            gap, window = (h.end, m_start), FORWARD_WINDOW
        elif h.kind == "backward" and h.start >= m_end:
            gap, window = (m_end, h.start), BACKWARD_WINDOW
        else:
            continue
        if _words_between(text, *gap) <= window and not _blocked(hits, *gap, h.assertion):
            found.add(h.assertion)
    for assertion in _PRIORITY:
        if assertion in found:
            return assertion
    return A.PRESENT
