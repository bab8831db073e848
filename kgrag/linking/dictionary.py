"""Dictionary matching.

Every synonym of the concept table, keyed by its token keys, found in text by longest-match scanning
over a prefix trie (an Aho-Corasick equivalent over tokens, so matches always start and end on token
boundaries).

Short and abbreviation synonyms ("ALL", "MS", "DIL") are case-sensitive: they match only
text that is not all lower case, and an all-caps one not a capitalised word ("All",
"Ms"); in all-capital text, where case says nothing, one that spells a common English
word ("THE", "ALL") does not match. Single common English words are never dictionary
entries. A match never runs across list or clause punctuation (``, ; : ( ) [ ]`` or a
sentence end): "hypertension, pulmonary embolism" is two findings, not "hypertension,
pulmonary".
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kgrag.linking.variants import bag_key
from kgrag.ontology.curie import prefix_of
from kgrag.ontology.table import ConceptTable
from kgrag.tokens import Token, key_of, tokenize
from kgrag.types import SemanticKind

logger = logging.getLogger(__name__)

SCOPE_RANK = {"preferred": 0, "exact": 1, "related": 2, "narrow": 2, "broad": 3}
TRAINING_RANK = 0  # an annotated mention is as strong as a preferred name
MAX_TOKENS = 14
STOPWORDS = frozenset(
    """
a an and are as at be been being but by can could did do does for from had has have he her
his how i if in into is it its may me might more most must my no nor not of on or our out
over she should so some such than that the their them then there these they this those to
too under up us very was we were what when where which while who why will with would you
your all any each few other same only own just also back well even new old one two three
four five six seven eight nine ten first last long great little right big high low large
small next early young important able bad best better free full good hard late left less
major man men woman women case cases patient patients type types left right cell cells
""".split()  # noqa: SIM905 - a word list reads better as text
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One dictionary entry: a name of a concept, its rank, case sensitivity, method and source."""

    concept: int  # index into the concept table
    rank: int  # 0 = preferred name or training mention, 1 = exact, 2 = related/narrow, 3 = broad
    text: str  # the synonym as written in its source
    case_sensitive: bool
    method: str  # "exact" (vocabulary synonym) or "training" (annotated corpus mention)
    source: str = ""  # the vocabulary that gives the synonym
    support: int = 1  # how many member vocabularies give this name for the concept


@dataclass(frozen=True, slots=True)
class Match:
    """A dictionary key found in a text: its token span, character span and entries."""

    start_token: int
    end_token: int  # exclusive
    start: int
    end: int
    key: str
    entries: tuple[Entry, ...]


def _case_sensitive(text: str, kind: str | None) -> bool:
    stripped = text.strip()
    return kind == "abbreviation" or len(stripped) <= 3 or (stripped.isupper() and len(stripped) <= 6)


def _surface_ok(entry: Entry, surface: str) -> bool:
    if not entry.case_sensitive:
        return True
    if surface == surface.lower():
        return False
    # an all-caps abbreviation ("ALL", "MS", "THE") does not match a capitalised word
    return not (surface.istitle() and sum(c.isupper() for c in entry.text) >= 2)


_BREAK = frozenset(",;:()[]{}")
_SENTENCE_END = re.compile(r"[.!?]\s")
CAPS_CONTEXT = 30  # characters each side that decide whether a text is all capitals


def _breaks(text: str, tokens: Sequence[Token]) -> list[bool]:
    """Per token, whether list/clause punctuation or a sentence end separates it from the one before.

    A dictionary match never spans such a gap.
    """
    out = [False] * len(tokens)
    for j in range(1, len(tokens)):
        gap = text[tokens[j - 1].end : tokens[j].start]
        if not gap:
            continue
        if any(c in _BREAK for c in gap):
            out[j] = True
        elif _SENTENCE_END.search(gap):
            before = text[tokens[j - 1].start : tokens[j - 1].end]
            # "St. Louis encephalitis", "Dr. ...": a short capitalised abbreviation
            out[j] = not (len(before) <= 2 and before[:1].isupper() and before.isalpha())
    return out


def _shouted_word(text: str, start: int, end: int) -> bool:
    """An all-caps common English word ("THE", "ALL") inside all-capital text."""
    surface = text[start:end]
    if not surface.isupper() or surface.lower() not in STOPWORDS:
        return False
    around = text[max(0, start - CAPS_CONTEXT) : end + CAPS_CONTEXT]
    return not any(c.islower() for c in around)


class DictionaryIndex:
    """Token-keyed synonyms of (a filtered part of) a concept table."""

    def __init__(
        self,
        table: ConceptTable,
        *,
        kinds: Iterable[SemanticKind | str] | None = None,
        prefixes: Sequence[str] | None = None,
    ) -> None:
        self.table = table
        rows = list(table.rows())
        wanted_kinds = {SemanticKind(k).value for k in kinds} if kinds else None
        wanted_prefixes = set(prefixes) if prefixes else None
        self.target_sources = wanted_prefixes
        self.allowed: list[bool] = [
            (wanted_kinds is None or row.kind in wanted_kinds)
            and (wanted_prefixes is None or any(prefix_of(c) in wanted_prefixes for c in row.codes))
            for row in rows
        ]
        self.prior = [
            math.log1p(len(row.codes)) + (0.5 if row.kind in ("disease", "finding") else 0.0)
            for row in rows
        ]
        self.entries: dict[str, list[Entry]] = {}
        self.bags: dict[str, list[Entry]] = {}
        self.prefixes: set[str] = set()
        for i in range(len(rows)):
            if not self.allowed[i]:
                continue
            for text, scope, kind, source, support, key in table.synonyms(i):
                if not text.isascii():
                    key = key_of(text)  # a table compiled before Greek letters were spelled
                rank = SCOPE_RANK.get(scope, 3)
                if wanted_prefixes and source not in wanted_prefixes:
                    rank += 1  # the target vocabulary's own synonyms are stronger evidence
                entry = Entry(i, rank, text, _case_sensitive(text, kind), "exact", source, support)
                self._add(text, entry, key=key)
        for bucket in (*self.entries.values(), *self.bags.values()):
            bucket.sort(key=self._order)
        logger.info("dictionary: %d keys from %d concepts", len(self.entries), sum(self.allowed))

    def _order(self, e: Entry) -> tuple[int, int, float, int]:
        return (e.rank, -e.support, -self.prior[e.concept], e.concept)

    def _add(self, text: str, entry: Entry, *, replace: bool = False, key: str | None = None) -> bool:
        key = key_of(text) if key is None else key
        if not key or key.isdigit() or len(key) < 2:
            return False
        parts = key.split(" ")
        if len(parts) > MAX_TOKENS or (
            len(parts) == 1 and key in STOPWORDS and not entry.case_sensitive
        ):
            return False
        added = False
        for index, k in ((self.entries, key), (self.bags, bag_key(key))):
            if not k:
                continue
            bucket = index.setdefault(k, [])
            have = next((j for j, e in enumerate(bucket) if e.concept == entry.concept), None)
            if have is None:
                bucket.append(entry)
                added = True
            elif replace and bucket[have].rank > entry.rank:
                bucket[have] = entry
                added = True
        for n in range(1, len(parts)):
            self.prefixes.add(" ".join(parts[:n]))
        return added

    def add_training(self, text: str, concept_index: int, votes: int = 1) -> bool:
        """Add an annotated mention string (BioSyn/SapBERT training-dictionary protocol).

        A training mention is as strong as a preferred name: where the concept already has
        the key, its entry is promoted. ``votes`` (how often annotators gave this concept
        for the string) orders concepts that share the key.
        """
        return self._add_strong(text, concept_index, "training", "training", votes)

    def add_curated(self, text: str, concept_index: int, source: str) -> bool:
        """Add a reviewed synonym from one of kgrag's own tables, as strong as a preferred name."""
        return self._add_strong(text, concept_index, "exact", source, 1)

    def _add_strong(self, text: str, concept_index: int, method: str, source: str, votes: int) -> bool:
        if not self.allowed[concept_index]:
            return False
        entry = Entry(
            concept_index, TRAINING_RANK, text, _case_sensitive(text, None), method, source, votes
        )
        added = self._add(text, entry, replace=True)
        if added:
            key = key_of(text)
            self.entries[key].sort(key=self._order)
            self.bags[bag_key(key)].sort(key=self._order)
        return added

    def lookup(self, text: str) -> list[Entry]:
        """Entries whose key equals the key of ``text`` (case rules applied)."""
        return [e for e in self.entries.get(key_of(text), []) if _surface_ok(e, text)]

    def lookup_key(self, key: str, surface: str, *, bag: bool = False) -> list[Entry]:
        """Entries of a precomputed key (or of its order-insensitive bag key)."""
        index = self.bags if bag else self.entries
        k = bag_key(key) if bag else key
        return [e for e in index.get(k, []) if _surface_ok(e, surface)]

    def scan(self, text: str, tokens: Sequence[Token] | None = None) -> list[Match]:
        """Leftmost-longest, non-overlapping dictionary matches in ``text``."""
        tokens = tokenize(text) if tokens is None else tokens
        breaks = _breaks(text, tokens)
        out: list[Match] = []
        i, n = 0, len(tokens)
        while i < n:
            best: Match | None = None
            key = ""
            for j in range(i, min(n, i + MAX_TOKENS)):
                if j > i and breaks[j]:
                    break
                key = tokens[j].key if j == i else f"{key} {tokens[j].key}"
                entries = self.entries.get(key)
                if entries:
                    surface = text[tokens[i].start : tokens[j].end]
                    ok = tuple(e for e in entries if _surface_ok(e, surface))
                    if ok and j == i and _shouted_word(text, tokens[i].start, tokens[j].end):
                        ok = tuple(e for e in ok if not e.case_sensitive)
                    if ok:
                        best = Match(i, j + 1, tokens[i].start, tokens[j].end, key, ok)
                if key not in self.prefixes:
                    break
            if best is None:
                i += 1
            else:
                out.append(best)
                i = best.end_token
        return out
