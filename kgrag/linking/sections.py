"""Clinical-note sections.

Headings ("Past Medical History:", "FAMILY HISTORY:") found with their spans, and the section each
character of a note belongs to.

Known headings come from the versioned table ``data/sections.tsv`` (heading, section,
effect); an unknown all-capital heading before a colon ("REFERRING DIAGNOSIS:") still
starts a section (named after its words, no effect). A heading counts at the start of the
text or of a line, after a sentence end, or after a run of two or more spaces (notes
flattened to one line keep their layout that way).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from kgrag.types import Assertion

_ANSWER = re.compile(
    r"\s*(?:none|no|yes|negative|positive|denies|denied|absent|present|nil)\b", re.IGNORECASE
)
EFFECTS = ("present", "historical", "family", "hypothetical", "other")


@dataclass(frozen=True, slots=True)
class SectionRule:
    """A section heading rule: the heading, the section it opens and its effect on mentions."""

    heading: str
    section: str
    effect: str


@dataclass(frozen=True, slots=True)
class Section:
    """One section of a note.

    ``text[heading_start:heading_end]`` is its heading (colon included), and it runs to ``end`` (the
    next heading or the end of the text).
    """

    name: str
    effect: str
    heading_start: int
    heading_end: int
    end: int


@lru_cache(maxsize=1)
def section_rules() -> tuple[SectionRule, ...]:
    """The rows of ``data/sections.tsv``.

    Raises:
        ValueError: a row has an unknown effect or the wrong number of columns.
    """
    text = files("kgrag.linking").joinpath("data/sections.tsv").read_text(encoding="utf-8")
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("heading\t"):
            continue
        cols = line.split("\t")
        if len(cols) != 3 or cols[2] not in EFFECTS:
            raise ValueError(f"sections.tsv line {n}: expected heading, section, effect: {line!r}")
        rules.append(SectionRule(cols[0].strip().lower(), cols[1].strip(), cols[2].strip()))
    return tuple(rules)


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, SectionRule]]:
    by_heading = {r.heading: r for r in section_rules()}
    names = sorted(by_heading, key=len, reverse=True)
    alternation = "|".join(re.escape(h).replace(r"\ ", r"\s+") for h in names)
    lead = r"(?:^|(?<=\n)|(?<=[.!?]\s)|(?<=\s\s))[ \t]*"
    known = re.compile(lead + r"(" + alternation + r")\s*(?:\(\w{1,3}\))?\s*:", re.IGNORECASE)
    # an all-caps heading of up to 6 words (letters, digits, &/()'-), before a colon
    caps = re.compile(lead + r"((?:[A-Z][A-Z0-9&/()'-]+ ){0,5}[A-Z][A-Z0-9&/()'-]+)\s*:")
    return known, caps, by_heading


def find_sections(text: str) -> list[Section]:
    """The sections of ``text`` in order (an empty list when it has no heading)."""
    if ":" not in text:
        return []  # every heading ends with a colon
    known, caps, by_heading = _patterns()
    heads: dict[int, tuple[int, str, str]] = {}
    for m in caps.finditer(text):
        words = m.group(1)
        if sum(c.isalpha() for c in words) < 3 or _ANSWER.match(text, m.end()):
            continue  # "CHILLS: NONE." is a finding and its answer, not a heading
        key = re.sub(r"\s+", " ", words.lower())
        rule = by_heading.get(key)
        name = rule.section if rule else re.sub(r"[^a-z0-9]+", "_", key).strip("_")
        heads[m.start(1)] = (m.end(), name, rule.effect if rule else "present")
    for m in known.finditer(text):
        rule = by_heading[re.sub(r"\s+", " ", m.group(1).lower())]
        heads[m.start(1)] = (m.end(), rule.section, rule.effect)
    starts = sorted(heads)
    out: list[Section] = []
    for i, start in enumerate(starts):
        end_heading, name, effect = heads[start]
        if out and start < out[-1].heading_end:
            continue  # inside the previous heading
        nxt = next((s for s in starts[i + 1 :] if s >= end_heading), len(text))
        out.append(Section(name, effect, start, end_heading, nxt))
    return out


class SectionMap:
    """Which section each offset of a text lies in."""

    def __init__(self, sections: Sequence[Section]) -> None:
        self.sections = list(sections)
        self._starts = [s.heading_start for s in self.sections]

    def at(self, offset: int) -> Section | None:
        """The section holding ``offset`` (None before the first heading)."""
        i = bisect_right(self._starts, offset) - 1
        return self.sections[i] if i >= 0 else None

    def in_heading(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` overlaps a heading."""
        return any(s.heading_start < end and start < s.heading_end for s in self.sections)


def section_assertion(section: Section | None) -> Assertion | None:
    """The assertion a section gives its findings, if any (historical / family / hypothetical)."""
    if section is None or section.effect in ("present", "other"):
        return None
    return Assertion(section.effect)
