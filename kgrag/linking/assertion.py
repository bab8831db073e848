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

An affirming verb right after a negation ("no longer has", "has not had") is the negated
verb, not a new clause. An instruction's conditional ("call for any ...", "return to the ER
if ...") keeps its scope over a negation or hedge inside one of its items ("vomiting that
does not stop"). Causal terminators ("because of", "due to", "owing to") end a negation, so
"does not drive because of epilepsy" leaves epilepsy present; dates before the encounter
("in 2019", "as a child", "10 years ago") are historical both ways.

Sentences end at ``.!?``, blank lines, bullets, enumerations ("2) ...") and section
headings (:mod:`kgrag.linking.sections`); a section can set the assertion of its
findings (Past Medical History -> historical, Family History -> family) and its heading
is never read as a trigger, unless a cue of the present ("now", "currently"; scope
``section`` in the table) comes first in the sentence. A sentence that ends with a colon
hands the scopes open at its end to the bulleted or numbered lines after it ("Past medical
history includes:" / "- asthma" / "- gout"), until a line that is no item or a blank line.
When several categories cover a mention, family > hypothetical > absent > historical >
possible (a possible past event is still past).
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
SCOPES = ("clause", "final", "section", "-")
BACKWARD_WINDOW = 6  # words between a finding and a backward trigger, list items not counted
FINAL_WINDOW = 2  # words between a finding and a clause-final cue ("Chest pain: denies.")
_PRIORITY = (A.FAMILY, A.HYPOTHETICAL, A.ABSENT, A.HISTORICAL, A.POSSIBLE)

_PLACEHOLDERS = {
    "<n>": r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|few|several)",
    "<unit>": r"(?:hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?)",
    "<subj>": r"(?:he|she|they|we|it|the\s+patient|patient)",
    "<date>": r"(?:(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+)?(?:19|20)\d\d",
    "<rel>": r"(?:(?:his|her|the|their)\s+)?(?:(?:grand|step|foster\s+)?(?:mother|father|parents?)|"
    r"mom|dad|wife|husband|daughter|son|sister|brother|family|caregiver|spouse|aunt|uncle|"
    r"guardian|partner|girlfriend|boyfriend)",
    "<place>": r"(?:(?:your|the|his|her|their|a|an)\s+)?(?:doctor|physician|pcp|provider|clinic|"
    r"office|nurse|surgeon|emergency\s+(?:department|room)|er|ed|hospital|911)"
    r"(?:\s+or\s+(?:(?:your|the|his|her|their)\s+)?(?:doctor|physician|pcp|provider|clinic|"
    r"office|emergency\s+(?:department|room)|er|ed|hospital|911))?",
    "<instr>": r"(?:call|return|come\s+back|go\s+back|contact|notify|phone|page|seek\s+(?:immediate\s+)?"
    r"(?:medical\s+)?(?:attention|care|help))(?:\s+(?:to\s+|at\s+)?(?:the\s+nearest\s+)?PLACE)?"
    r"(?:\s+(?:immediately|right\s+away|promptly|at\s+once|urgently))?",
    "<poss>": r"(?:his|her|their|the\s+patient's|the)",
    "<often>": r"(?:(?:quite|very)\s+)?(?:frequently|often|repeatedly|multiple\s+times|many\s+times|"
    r"several\s+times)",
    "<act>": r"(?:work-?up|workup|evaluation|treatment|intervention|testing|tests|imaging|"
    r"management|follow-?up|action|therapy|studies)",
}
_PLACEHOLDERS["<instr>"] = _PLACEHOLDERS["<instr>"].replace("PLACE", _PLACEHOLDERS["<place>"])
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*•\d])|(?<=\s)(?=\d{1,2}\)\s)|\*{3,}")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_ITEM_LINE = re.compile(r"[ \t]*(?:[-*•]|\d{1,2}[.)])\s")
_ITEM_PREFIX = re.compile(r"[ \t]*(?:(?:[-*•]|\d{1,2}[.)])[ \t]*)?")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
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


def _grouped(ordered: Sequence[str]) -> str:
    r"""One alternation of ``ordered`` phrases, factored by their first word.

    ``no(?:[\s-]+(?:further|longer|...))?`` instead of one branch per phrase: the regex tries
    each first word once per position, not each phrase (twice as fast on a long note). Groups
    keep the order of their longest phrase and, inside a group, longer rests come first, so
    the longest phrase still wins.
    """
    groups: dict[str, list[str]] = {}
    for phrase in ordered:
        first, *rest = re.split(r"[\s-]+", phrase)
        groups.setdefault(first, []).append(" ".join(rest))
    branches = []
    for first, rests in groups.items():
        head = _PLACEHOLDERS.get(first, re.escape(first))
        tails = [r for r in rests if r]
        if not tails:
            branches.append(head)
            continue
        tail = "|".join(f"(?:{_phrase_regex(r)})" for r in tails)
        optional = "?" if len(tails) < len(rests) else ""
        branches.append(f"{head}(?:[\\s-]+(?:{tail})){optional}")
    return "|".join(f"(?:{b})" for b in branches)


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
    pattern = re.compile(r"(?<![\w/])(?:" + _grouped(ordered) + r")(?![\w/])|;", re.IGNORECASE)
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
    carry: set[Assertion] = set()  # what a "...history includes:" opener gives its bullets
    previous_end = 0
    for s_start, s_end in sentence_spans(text, sections):
        if carry and not (
            _is_list_item(text, s_start) and not _BLANK_LINE.search(text, previous_end, s_start)
        ):
            carry = set()
        previous_end = s_end
        members = []
        while k < len(order) and spans[order[k]][0] < s_end:
            if spans[order[k]][0] >= s_start:
                members.append(order[k])
            k += 1
        opens_list = text[s_start:s_end].rstrip().endswith(":")
        if not members and not opens_list:
            continue
        hits = _hits(text, s_start, s_end, smap)
        for i in members:
            section = smap.at(spans[i][0])
            found = _covering(text, spans[i], hits, spans, s_end) if hits else set()
            found |= carry
            from_section = section_assertion(section)
            if from_section is not None and not _leaves_section(hits, spans[i][0]):
                found.add(from_section)
            assertion = next((a for a in _PRIORITY if a in found), A.PRESENT)
            result[i] = (assertion, section.name if section else None)
        if opens_list:
            carry = _covering(text, (s_end, s_end), hits, spans, s_end) if hits else set()
    for i in order[k:]:  # spans past the last sentence (whitespace-only tails)
        section = smap.at(spans[i][0])
        result[i] = (A.PRESENT, section.name if section else None)
    return result


def _is_list_item(text: str, start: int) -> bool:
    """Whether the sentence at ``start`` is a bulleted or numbered line ("- gout", "2. asthma")."""
    line = text.rfind("\n", 0, start) + 1
    if line == 0:
        return False
    return (
        _ITEM_LINE.match(text, line) is not None
        and _ITEM_PREFIX.fullmatch(text, line, start) is not None
    )


def _leaves_section(hits: Sequence[_Hit], mention_start: int) -> bool:
    """Whether a cue of the present ("now", "currently") precedes the mention in its sentence.

    A flattened note's "Past medical history: asthma, gout. She now presents with cough." keeps
    the history section to the next heading; "now" brings the sentence back to the encounter.
    """
    return any(h.end <= mention_start and any(r.scope == "section" for r in h.rules) for h in hits)


def _blocks(hit: _Hit, category: Assertion, adjacent: bool = False) -> bool:
    """Whether ``hit`` closes a scope of ``category``.

    Args:
        hit: a trigger between the scope's opener and the finding.
        category: the category of the scope.
        adjacent: ``hit`` follows the opener with only spaces between ("no longer has",
            "has not had"): an affirming verb there is the negated verb, not a new clause.
    """
    for rule in hit.rules:
        if rule.direction == "terminate":
            return True
        if rule.direction == "affirm" and category in (A.ABSENT, A.POSSIBLE) and not adjacent:
            return True
        if (
            rule.direction in ("forward", "both")
            and rule.category is not category
            and rule.category is not A.HISTORICAL  # "no history of X": still negated
            # an instruction ("call for any pain that does not stop, fever, ...") keeps its
            # conditional over a negation or hedge inside one of its items
            and not (category is A.HYPOTHETICAL and rule.category in (A.ABSENT, A.POSSIBLE))
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
                if not any(
                    _blocks(x, rule.category, adjacent=not text[h.end : x.start].strip())
                    for x in between
                ):
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
