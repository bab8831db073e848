"""Assertion of mentions (ConText style): present, absent, possible, hypothetical, historical, family.

The rules are data: ``data/assertion_triggers.tsv`` (phrase, direction, scope, category;
see its header). A *forward* trigger ("no", "denies", "history of", "mother") covers the
findings after it up to the end of its clause: through lists ("denies fever, chills, ...
or rash"), stopped by a terminator ("but", "however", "and he"), by an affirming verb
("has", "presents with") for absent/possible scopes, or by a trigger of another
category. A *backward* trigger ("... was ruled out", "... cannot be excluded") covers
the findings before it in its clause, within a few words not counting the other
findings of a list; a *final* cue ("Chills: none.", "Cough: no.") does the same only when
it closes its clause, within two words. Pseudo-triggers ("gram negative", "2-day history
of") never open a scope.

Sentences end at ``.!?``, blank lines, bullets, enumerations ("2) ...") and section
headings (:mod:`kgrag.linking.sections`); a section can set the assertion of its
findings (Past Medical History -> historical, Family History -> family) and its heading
is never read as a trigger. When several categories cover a mention, family >
hypothetical > absent > historical > possible (a possible past event is still past).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from kgrag.linking.sections import Section, SectionMap, find_sections, section_assertion
from kgrag.types import Assertion

A = Assertion
DIRECTIONS = ("forward", "backward", "both", "pseudo", "terminate", "affirm")
SCOPES = ("clause", "final", "-")
BACKWARD_WINDOW = 6  # words between a finding and a backward trigger, list items not counted
FINAL_WINDOW = 2  # words between a finding and a clause-final cue ("Chest pain: denies.")
_PRIORITY = (A.FAMILY, A.HYPOTHETICAL, A.ABSENT, A.HISTORICAL, A.POSSIBLE)

_PLACEHOLDERS = {
    "<n>": r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|few|several)",
    "<unit>": r"(?:hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?)",
    "<subj>": r"(?:he|she|they|we|it|the\s+patient|patient)",
}
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*•\d])|(?<=\s)(?=\d{1,2}\)\s)|\*{3,}")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_CONNECTORS = frozenset({"and", "or", "nor", "as", "well", "also", "either", "any", "of"})


@dataclass(frozen=True, slots=True)
class TriggerRule:
    """One row of the trigger table."""

    phrase: str
    direction: str
    scope: str
    category: Assertion | None


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    rules: tuple[TriggerRule, ...]


@lru_cache(maxsize=1)
def trigger_rules() -> tuple[TriggerRule, ...]:
    """The rows of ``data/assertion_triggers.tsv``.

    Raises:
        ValueError: a row with a wrong column count, direction, scope or category.
    """
    text = files("kgrag.linking").joinpath("data/assertion_triggers.tsv").read_text(encoding="utf-8")
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("phrase\t"):
            continue
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) != 4 or cols[1] not in DIRECTIONS or cols[2] not in SCOPES:
            raise ValueError(f"assertion_triggers.tsv line {n}: bad row {line!r}")
        category = None if cols[3] == "-" else Assertion(cols[3])
        if (category is None) != (cols[1] in ("pseudo", "terminate", "affirm")):
            raise ValueError(f"assertion_triggers.tsv line {n}: category does not fit {cols[1]!r}")
        rules.append(TriggerRule(cols[0].lower(), cols[1], cols[2], category))
    return tuple(rules)


def _phrase_regex(phrase: str) -> str:
    parts = []
    for word in re.split(r"[\s-]+", phrase):
        parts.append(_PLACEHOLDERS.get(word, re.escape(word)))
    return r"[\s-]+".join(parts)


def _plain(phrase: str) -> str:
    return " ".join(re.split(r"[\s-]+", phrase.lower()))


@lru_cache(maxsize=1)
def _compiled() -> tuple[
    re.Pattern[str],
    dict[str, tuple[TriggerRule, ...]],
    list[tuple[re.Pattern[str], tuple[TriggerRule, ...]]],
]:
    """One case-insensitive alternation of every phrase, longest first.

    So "family history of" beats "history of" and pseudo-triggers beat "no". Per plain phrase its
    rules, and per phrase with placeholders ("<n> <unit> history of") its pattern and rules.
    """
    by_phrase: dict[str, list[TriggerRule]] = {}
    for rule in trigger_rules():
        by_phrase.setdefault(rule.phrase, []).append(rule)
    ordered = sorted(by_phrase, key=lambda p: (len(p) + 20 * p.count("<"), p), reverse=True)
    alternation = "|".join(f"(?:{_phrase_regex(p)})" for p in ordered)
    pattern = re.compile(r"(?<![\w/])(?:" + alternation + r")(?![\w/])|;", re.IGNORECASE)
    plain = {_plain(p): tuple(r) for p, r in by_phrase.items() if "<" not in p}
    templated = [
        (re.compile(_phrase_regex(p) + r"\Z", re.IGNORECASE), tuple(by_phrase[p]))
        for p in ordered
        if "<" in p
    ]
    return pattern, plain, templated


_TERMINATE = (TriggerRule(";", "terminate", "-", None),)


def _hits(text: str, start: int, end: int, sections: SectionMap) -> list[_Hit]:
    pattern, plain, templated = _compiled()
    out = []
    for m in pattern.finditer(text, start, end):
        if sections.in_heading(m.start(), m.end()):
            continue  # "HISTORY OF PRESENT ILLNESS:" is a heading, not a trigger
        found = m.group()
        if found == ";":
            out.append(_Hit(m.start(), m.end(), _TERMINATE))
            continue
        rules = plain.get(_plain(found)) or next((r for p, r in templated if p.match(found)), ())
        if rules:
            out.append(_Hit(m.start(), m.end(), rules))
    return out


def sentence_spans(text: str, sections: Sequence[Section] = ()) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence; section headings end sentences too."""
    cuts: list[tuple[int, int]] = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]
    cuts += [(s.heading_start, s.heading_end) for s in sections]
    cuts.sort()
    spans, start = [], 0
    for cut_start, cut_end in cuts:
        if cut_start >= start:
            spans.append((start, cut_start))
        start = max(start, cut_end)
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if e > s]


def assign_assertions(text: str, spans: Sequence[tuple[int, int]]) -> list[Assertion]:
    """The assertion of each ``(start, end)`` mention span of ``text``."""
    return [a for a, _ in assess(text, spans)]


def assess(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[Assertion, str | None]]:
    """Per ``(start, end)`` span of ``text``: its assertion and the name of its section.

    Args:
        text: the document.
        spans: character offsets of the findings (any order; overlaps allowed).

    Returns:
        One ``(assertion, section name or None)`` per span, in the order given.
    """
    result: list[tuple[Assertion, str | None]] = [(A.PRESENT, None)] * len(spans)
    if not spans:
        return result
    sections = find_sections(text)
    smap = SectionMap(sections)
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    k = 0
    for s_start, s_end in sentence_spans(text, sections):
        members = []
        while k < len(order) and spans[order[k]][0] < s_end:
            if spans[order[k]][0] >= s_start:
                members.append(order[k])
            k += 1
        if not members:
            continue
        hits = _hits(text, s_start, s_end, smap)
        for i in members:
            section = smap.at(spans[i][0])
            found = _covering(text, spans[i], hits, spans, s_end) if hits else set()
            from_section = section_assertion(section)
            if from_section is not None:
                found.add(from_section)
            assertion = next((a for a in _PRIORITY if a in found), A.PRESENT)
            result[i] = (assertion, section.name if section else None)
    for i in order[k:]:  # spans past the last sentence (whitespace-only tails)
        section = smap.at(spans[i][0])
        result[i] = (A.PRESENT, section.name if section else None)
    return result


def _blocks(hit: _Hit, category: Assertion) -> bool:
    """Whether ``hit`` closes a scope of ``category``."""
    for rule in hit.rules:
        if rule.direction == "terminate":
            return True
        if rule.direction == "affirm" and category in (A.ABSENT, A.POSSIBLE):
            return True
        if (
            rule.direction in ("forward", "both")
            and rule.category is not category
            and rule.category is not A.HISTORICAL  # "no history of X": still negated
        ):
            return True
    return False


def _gap_words(text: str, start: int, end: int, spans: Sequence[tuple[int, int]]) -> int:
    """Words in ``text[start:end]`` outside other findings, list connectors not counted."""
    count = 0
    for m in _WORD.finditer(text, start, end):
        if m.group().lower() in _CONNECTORS:
            continue
        if any(s <= m.start() and m.end() <= e for s, e in spans):
            continue
        count += 1
    return count


def _closes_clause(text: str, end: int, sentence_end: int) -> bool:
    rest = text[end:sentence_end]
    return re.match(r"\s*(?:[.,;!?)]|$)", rest) is not None


def _covering(
    text: str,
    span: tuple[int, int],
    hits: Sequence[_Hit],
    spans: Sequence[tuple[int, int]],
    sentence_end: int,
) -> set[Assertion]:
    found: set[Assertion] = set()
    m_start, m_end = span
    for h in hits:
        if h.start < m_end and h.end > m_start:
            continue  # the trigger is inside the mention itself
        for rule in h.rules:
            if rule.category is None:
                continue
            if rule.direction in ("forward", "both") and h.end <= m_start:
                between = [x for x in hits if x.start >= h.end and x.end <= m_start]
                if not any(_blocks(x, rule.category) for x in between):
                    found.add(rule.category)
            elif rule.direction in ("backward", "both") and h.start >= m_end:
                if rule.scope == "final" and not _closes_clause(text, h.end, sentence_end):
                    continue
                window = FINAL_WINDOW if rule.scope == "final" else BACKWARD_WINDOW
                between = [x for x in hits if x.start >= m_end and x.end <= h.start]
                if _gap_words(text, m_end, h.start, spans) <= window and not any(
                    _blocks(x, rule.category) for x in between
                ):
                    found.add(rule.category)
    return found
