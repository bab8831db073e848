"""ConceptLinker.

Dictionary detection, abbreviations, lab values and lab phrasing, fuzzy and dense candidates,
assertions and sections; one object that is both a :class:`Linker` and a :class:`Normalizer`.
:meth:`ConceptLinker.link_targets` asserts (and links) spans a caller's own NER found.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from kgrag._text import sanitize
from kgrag.errors import InputTooLarge, InvalidSpan
from kgrag.linking.abbreviations import find_abbreviations
from kgrag.linking.assertion import assess
from kgrag.linking.base import CandidateSource
from kgrag.linking.calibration import Calibration, load_calibration, profile_name
from kgrag.linking.dictionary import DictionaryIndex, Entry, Match
from kgrag.linking.labs import phrasings, read_labs
from kgrag.linking.lay_terms import add_lay_terms
from kgrag.linking.sites import site_phrases
from kgrag.linking.spelling import SpellingIndex
from kgrag.linking.variants import backoffs, composite_parts, head_swaps, swaps
from kgrag.ontology.table import ConceptTable
from kgrag.tokens import Token, key_of, tokenize
from kgrag.types import Assertion, Candidate, Mention, SemanticKind

logger = logging.getLogger(__name__)

DEFAULT_KINDS = (SemanticKind.DISEASE, SemanticKind.FINDING)
MAX_TEXT_CHARS = 5_000_000


@lru_cache(maxsize=256)
def _definitions(context: str) -> dict[str, str]:
    """Abbreviations a document defines (cached: normalization asks once per mention)."""
    return {a.short: a.long for a in find_abbreviations(context)}


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    entries: tuple[Entry, ...]
    method: str
    matched: str
    value: float | None = None
    unit: str | None = None


def _replacing(found: list[_Found], extra: list[_Found]) -> list[_Found]:
    """``extra`` plus the matches of ``found`` that overlap none of them."""
    if not extra:
        return found
    kept = [f for f in found if not any(e.start < f.end and f.start < e.end for e in extra)]
    return kept + extra


class ConceptLinker:
    """Text -> mentions of unified concepts, each with its assertion and ranked candidates.

    ``kinds`` and ``prefixes`` restrict the concepts (``prefixes=("MESH", "OMIM")`` keeps
    concepts that have a MeSH or OMIM code). ``fuzzy`` and ``dense`` add candidates for
    mentions that match no dictionary key exactly (normalization mode). Candidates whose
    calibrated score is below ``nil_threshold`` are dropped: no confident concept.

    Examples:
        >>> import kgrag
        >>> linker = kgrag.ConceptLinker(kgrag.load_concepts(), kinds=["disease"])
        >>> [m.text for m in linker.link("History of asthma.")]
        ['asthma']
    """

    name = "kgrag.ConceptLinker.v1"

    def __init__(
        self,
        table: ConceptTable,
        *,
        kinds: Iterable[SemanticKind | str] | None = DEFAULT_KINDS,
        prefixes: Sequence[str] | None = None,
        fuzzy: bool = True,
        dense: CandidateSource | None = None,
        abbreviations: bool = True,
        assertions: bool = True,
        top_k: int = 5,
        fill: bool = True,
        nil_threshold: float = 0.0,
        calibration: Calibration | None = None,
        on_candidate: Callable[[Candidate, tuple[str, float, int, int]], None] | None = None,
        lay_terms: bool = True,
        spelling: bool = True,
    ) -> None:
        self.table = table
        self.dictionary = DictionaryIndex(table, kinds=kinds, prefixes=prefixes)
        if lay_terms:
            add_lay_terms(self.dictionary, table)
        self._fuzzy_enabled = fuzzy
        self._fuzzy: CandidateSource | None = None
        self._spelling_enabled = spelling
        self._spelling: SpellingIndex | None = None
        self.dense = dense
        self.use_abbreviations = abbreviations
        self.use_assertions = assertions
        self.top_k = top_k
        self.fill = fill  # run fuzzy/dense to fill k candidates even after a sieve hit
        self.nil_threshold = nil_threshold
        self.calibration = calibration or load_calibration(profile_name(prefixes))
        self.on_candidate = on_candidate  # sees (candidate, raw features): calibration fitting
        # keys that a training corpus shows are rarely annotated mentions ("disease",
        # "strain"): detection skips them (see kgrag.linking.training.learn_detection)
        self.rejected_keys: frozenset[str] = frozenset()

    # -- building blocks -----------------------------------------------------------------
    @property
    def fuzzy(self) -> CandidateSource | None:
        """The fuzzy candidate source (built on first use), or None when disabled."""
        if self._fuzzy is None and self._fuzzy_enabled:
            from kgrag.linking.fuzzy import FuzzyMatcher

            self._fuzzy = FuzzyMatcher(self.dictionary)
        return self._fuzzy

    @property
    def spelling(self) -> SpellingIndex | None:
        """The words of the dictionary's keys for respelling (built on first use), or None."""
        if self._spelling is None and self._spelling_enabled:
            self._spelling = SpellingIndex(self.dictionary.entries)
        return self._spelling

    def with_top_k(self, k: int) -> ConceptLinker:
        """This linker giving ``k`` candidates per mention, leaving this one as it is.

        A shallow copy (the dictionary, table and calibration are shared), or ``self`` when
        ``k`` is already its ``top_k``: the CLI's ``-k`` must not change what the shared
        linker of :func:`kgrag.link` answers.
        """
        if k == self.top_k:
            return self
        other = copy.copy(self)
        other.top_k = k
        return other

    def _candidate(
        self, entry: Entry, method: str, raw: float, matched: str, n_alternatives: int = 1
    ) -> Candidate:
        row = self.table.row(entry.concept)
        score = self.calibration.score(method, raw, entry.rank, n_alternatives)
        candidate = Candidate(
            concept_id=row.id,
            name=row.name,
            kind=SemanticKind(row.kind),
            codes=tuple(row.codes),
            score=score,
            method=method,
            matched=matched,
        )
        if self.on_candidate is not None:
            self.on_candidate(candidate, (method, raw, entry.rank, n_alternatives))
        return candidate

    def _ranked(self, found: _Found) -> tuple[Candidate, ...]:
        n = len({e.concept for e in found.entries})
        out = [
            self._candidate(e, found.method if e.method == "exact" else e.method, 1.0, found.matched, n)
            for e in found.entries[: self.top_k]
        ]
        return tuple(c for c in out if c.score >= self.nil_threshold)

    # -- Linker --------------------------------------------------------------------------
    def link(self, text: str) -> list[Mention]:
        """Mentions in ``text``, each with its assertion and section.

        Dictionary matches, defined abbreviations, lab values and lab phrasing.

        Lone surrogates (invalid UTF-8 read with ``surrogateescape``) are replaced by
        U+FFFD first; offsets are unchanged.

        Raises:
            TypeError: ``text`` is not a str.
            InputTooLarge: ``text`` is over ``MAX_TEXT_CHARS``.
        """
        text = self._checked(text)
        if not text.strip():
            return []
        tokens = tokenize(text)
        matches = self.dictionary.scan(text, tokens)
        found = [_Found(m.start, m.end, m.entries, "exact", text[m.start : m.end]) for m in matches]
        if self.use_abbreviations:
            found = self._with_abbreviations(text, tokens, matches, found)
        if self.rejected_keys:
            found = [f for f in found if key_of(text[f.start : f.end]) not in self.rejected_keys]
        found = self._with_labs(text, found)
        found = self._with_sites(text, found)
        found.sort(key=lambda f: f.start)
        return self._mentions(text, found)

    def link_targets(self, text: str, spans: Sequence[tuple[int, int]]) -> list[Mention]:
        """One mention per ``(start, end)`` target span (ConText's targets mode).

        Its assertion and section from kgrag's rules, and its candidates when the span links.

        Args:
            text: the document.
            spans: character offsets into ``text``, e.g. from another NER.

        Returns:
            Mentions in the order of ``spans`` (``candidates`` empty where nothing links).

        Raises:
            InvalidSpan: a span is not inside ``text`` or is empty.
            TypeError / InputTooLarge: as :meth:`link`.
        """
        text = self._checked(text)
        for start, end in spans:
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                raise InvalidSpan(
                    f"target ({start}, {end}) is not inside the text of {len(text)} characters; "
                    "give 0 <= start < end <= len(text) (Python string offsets)"
                )
        judged = (
            assess(text, spans) if self.use_assertions else [(Assertion.PRESENT, None)] * len(spans)
        )
        out = []
        for (start, end), (assertion, section) in zip(spans, judged, strict=True):
            surface = text[start:end]
            out.append(
                Mention(
                    start=start,
                    end=end,
                    text=surface,
                    assertion=assertion,
                    section=section,
                    candidates=tuple(self.normalize(surface, text, self.top_k)),
                )
            )
        return out

    def _checked(self, text: object) -> str:
        if not isinstance(text, str):
            raise TypeError(f"link() needs str, got {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise InputTooLarge(
                f"text of {len(text):,} characters is over the "
                f"{MAX_TEXT_CHARS:,} limit; split it into documents"
            )
        return sanitize(text)

    def _mentions(self, text: str, found: Sequence[_Found]) -> list[Mention]:
        spans = [(f.start, f.end) for f in found]
        judged = assess(text, spans) if self.use_assertions else [(Assertion.PRESENT, None)] * len(spans)
        mentions = []
        for f, (assertion, section) in zip(found, judged, strict=True):
            candidates = self._ranked(f)
            if candidates:
                mentions.append(
                    Mention(
                        start=f.start,
                        end=f.end,
                        text=text[f.start : f.end],
                        assertion=assertion,
                        candidates=candidates,
                        section=section,
                        value=f.value,
                        unit=f.unit,
                    )
                )
        return mentions

    def _with_labs(self, text: str, found: list[_Found]) -> list[_Found]:
        """Lab values outside their range and directional lab phrases, as findings.

        They replace dictionary matches inside their span ("hemoglobin" in "hemoglobin 7.9").
        """
        labs, phrases = read_labs(text)
        extra: list[_Found] = []
        for lab in labs:
            index = self._concept_index(lab.hpo)
            if index is not None:
                entry = Entry(index, 0, lab.analyte, False, "lab", "HP")
                surface = text[lab.start : lab.end]
                extra.append(
                    _Found(lab.start, lab.end, (entry,), "lab", surface, lab.value, lab.unit)
                )
        for phrase in phrases:
            for name in phrasings(phrase):
                entries = self.dictionary.lookup(name)
                if entries:
                    extra.append(_Found(phrase.start, phrase.end, tuple(entries), "lab", name))
                    break
        return _replacing(found, extra)

    def _with_sites(self, text: str, found: list[_Found]) -> list[_Found]:
        """Findings whose body site follows them: "pain in the right knee" is knee pain.

        Each phrase of :func:`~kgrag.linking.sites.site_phrases` whose site + finding names a
        concept ("knee pain", with or without the site's laterality words) replaces the
        dictionary matches inside its span; a coordinated finding ("pain and swelling of the
        knee") keeps its own word as its span.
        """
        extra: list[_Found] = []
        for phrase in site_phrases(text):
            for key in phrase.keys:
                entries = [
                    e for e in self.dictionary.lookup(key) if self.table.row(e.concept).kind == "finding"
                ]
                if entries:
                    extra.append(_Found(phrase.start, phrase.end, tuple(entries), "exact", key))
                    break
        return _replacing(found, extra)

    def _concept_index(self, code: str) -> int | None:
        """The table row of ``code`` when this linker's filters allow it."""
        index = self.table.index_of(code)
        if index is None or not self.dictionary.allowed[index]:
            return None
        return index

    def _with_abbreviations(
        self, text: str, tokens: Sequence[Token], matches: Sequence[Match], found: list[_Found]
    ) -> list[_Found]:
        defined: dict[str, _Found] = {}
        by_span = {(m.start, m.end): m for m in matches}
        for abbr in find_abbreviations(text):
            long_match = by_span.get((abbr.long_start, abbr.long_end)) or next(
                (
                    m
                    for m in matches  # else the head of the long form ("... heart disease")
                    if m.end == abbr.long_end and m.start >= abbr.long_start
                ),
                None,
            )
            entries = long_match.entries if long_match else tuple(self.dictionary.lookup(abbr.long))
            if entries:
                defined[abbr.short] = _Found(0, 0, entries, "abbreviation", abbr.long)
        if not defined:
            return found
        out = []
        covered: set[int] = set()
        for f in found:
            surface = text[f.start : f.end]
            if surface in defined:  # the document's own definition wins
                d = defined[surface]
                f = _Found(f.start, f.end, d.entries, "abbreviation", d.matched)
            out.append(f)
            covered.update(range(f.start, f.end))
        for short, d in defined.items():
            start = text.find(short)
            while start != -1:
                end = start + len(short)
                boundary = (start == 0 or not text[start - 1].isalnum()) and (
                    end == len(text) or not text[end].isalnum()
                )
                if boundary and start not in covered:
                    out.append(_Found(start, end, d.entries, "abbreviation", d.matched))
                    covered.update(range(start, end))
                start = text.find(short, end)
        return out

    # -- Normalizer ----------------------------------------------------------------------
    def normalize(self, mention: str, context: str | None = None, k: int = 5) -> list[Candidate]:
        """Top-``k`` concepts for a mention string, best first.

        Passes, strongest first: exact key (after expanding abbreviations that ``context``
        defines), order-insensitive key, disorder-word swaps, respelled words
        (:mod:`kgrag.linking.spelling`: "Chron's disease" -> Crohn disease, before any pass
        that drops words), composite parts, modifier back-off, fuzzy character n-grams, dense
        embeddings. Later passes only fill up.
        """
        text = sanitize(mention).strip()
        if not text:
            return []
        if context is not None:
            context = sanitize(context)
        texts = [text]
        if context and self.use_abbreviations:
            expanded = self._expand(text, context)
            if expanded != text:
                texts.insert(0, expanded)
        ranked: dict[str, Candidate] = {}

        def offer(entries: Sequence[Entry], method: str, matched: str, raw: float = 1.0) -> None:
            n = len({e.concept for e in entries})
            for e in entries[:k]:
                how = e.method if (e.method == "training" and method == "exact") else method
                c = self._candidate(e, how, raw, matched, n)
                if c.score >= self.nil_threshold and (
                    c.concept_id not in ranked or c.score > ranked[c.concept_id].score
                ):
                    ranked[c.concept_id] = c

        d = self.dictionary
        keys = [(key_of(t), t) for t in texts]
        for key, t in keys:
            offer(d.lookup_key(key, t), "abbreviation" if t is not text else "exact", t)
        if not ranked:
            for key, t in keys:
                offer(d.lookup_key(key, t, bag=True), "bag", t)
        if not ranked:
            for key, t in keys:
                for alt in swaps(key) + head_swaps(key):
                    offer(d.lookup_key(alt, t) or d.lookup_key(alt, t, bag=True), "swap", alt)
        if not ranked:
            self._respelled(text, offer)
        if not ranked:
            self._composite(texts[0], offer)
        if not ranked:
            for key, t in keys:
                for alt in backoffs(key):
                    offer(d.lookup_key(alt, t) or d.lookup_key(alt, t, bag=True), "backoff", alt)
                    if ranked:
                        break
        if not self.fill and ranked:
            return sorted(ranked.values(), key=lambda c: -c.score)[:k]
        if len(ranked) < k and self.fuzzy is not None:
            for entry, sim, key in self.fuzzy.candidates(texts[0], k):
                offer([entry], "fuzzy", key, sim)
        if len(ranked) < k and self.dense is not None:
            for entry, sim, key in self.dense.candidates(texts[0], k):
                offer([entry], "dense", key, sim)
        return sorted(ranked.values(), key=lambda c: -c.score)[:k]

    def _respelled(self, text: str, offer: Callable[..., None]) -> None:
        """Offer the concepts of the first respelling of ``text`` that the dictionary knows."""
        index = self.spelling
        if index is None:
            return
        from rapidfuzz import fuzz

        key = key_of(text)
        last = text.lower().rstrip(" .")
        possessive = " " not in key and last.endswith("s") and not key.endswith("s")
        d = self.dictionary
        acronyms = frozenset(w.lower() for w in re.findall(r"\b[A-Z][A-Z0-9]+s?\b", text))
        for alt in index.respellings(key, possessive=possessive, keep=acronyms):
            entries = d.lookup_key(alt, text) or d.lookup_key(alt, text, bag=True)
            if entries:
                offer(entries, "spelling", alt, fuzz.ratio(key, alt) / 100.0)
                return

    def _composite(self, text: str, offer: Callable[..., None]) -> None:
        d = self.dictionary
        for part in composite_parts(text):
            key = key_of(part)
            entries = d.lookup_key(key, part) or d.lookup_key(key, part, bag=True)
            if not entries:
                for alt in swaps(key):
                    entries = d.lookup_key(alt, part)
                    if entries:
                        break
            if entries:
                offer(entries, "composite", part)

    def _expand(self, mention: str, context: str) -> str:
        """Replace short forms defined in ``context`` by their long forms."""
        defined = _definitions(context)
        if not defined:
            return mention
        if mention in defined:
            return defined[mention]
        for short, long_form in defined.items():  # "MEN1" after "(MEN)" was defined
            if (
                mention.startswith(short)
                and mention[len(short) :].isalnum()
                and len(mention) - len(short) <= 2
            ):
                return f"{long_form} {mention[len(short) :]}"
        out = mention
        for short, long_form in defined.items():
            if short in out:
                tokens = [long_form if w == short else w for w in out.split(" ")]
                out = " ".join(tokens)
        return out
