"""Misspelled words of a mention, respelled to the dictionary's own words.

A mention whose key has a word the dictionary never uses ("chron disease", "diabety",
"rhuematoid arthritis") is respelled word by word to the nearest dictionary words with the
same first letter by optimal-string-alignment distance (a transposition counts as one edit),
closest first, then same length, then most letters in common (a swap beats two
replacements), then most used; each respelled key is tried against the dictionary and the first
that names a concept wins. This runs before the tiers that drop words (composite parts,
modifier back-off) and before character n-gram search, so a near miss of a specific name
("Chron's disease" -> Crohn disease) beats an exact match of a generic head ("chronic
disease", "arthritis"). A lone eponym in the possessive or plural ("alzheimers",
"parkinson's") stands for its disease: "<name> disease" and "<name> syndrome" are tried.
Acronyms ("PTLD", "RPGN": written in capitals) are never respelled: they are short forms of
other words, not misspellings.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator

MIN_WORD = 4  # shorter words are abbreviations or too ambiguous to respell
MAX_WORDS_RESPELLED = 2  # a mention with more unknown words is not a misspelling of a name
CHOICES_PER_WORD = 6
EPONYM_HEADS = ("disease", "syndrome")


def max_edits(word: str) -> int:
    """Edits allowed for a word: 1 up to 4 letters, else 2 ("chron" -> "crohn" is 2)."""
    return 1 if len(word) <= 4 else 2


class SpellingIndex:
    """The words of a dictionary's keys with how many keys use each.

    Args:
        keys: dictionary keys (lower-case words joined by single spaces, as ``key_of`` makes).
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.counts: Counter[str] = Counter(w for k in keys for w in k.split(" "))
        # by first letter and length: a typo rarely changes the first letter, and a word
        # within 2 edits is within 2 letters of the length
        self._buckets: dict[tuple[str, int], list[str]] = {}
        for w in self.counts:
            if w.isalpha() and len(w) >= MIN_WORD - 1:
                self._buckets.setdefault((w[0], len(w)), []).append(w)
        self._cache: dict[str, list[str]] = {}

    def choices(self, word: str) -> list[str]:
        """Dictionary words within :func:`max_edits` of ``word`` with its first letter, best first."""
        from rapidfuzz import fuzz, process
        from rapidfuzz.distance import OSA

        if word in self._cache:
            return self._cache[word]
        limit = max_edits(word)
        pool = [
            w
            for n in range(len(word) - limit, len(word) + limit + 1)
            for w in self._buckets.get((word[:1], n), ())
        ]
        found = process.extract(word, pool, scorer=OSA.distance, score_cutoff=limit, limit=64)
        ranked = sorted(
            (dist, abs(len(w) - len(word)), -fuzz.ratio(word, w), -self.counts[w], w)
            for w, dist, _ in found
        )
        out = [w for *_, w in ranked[:CHOICES_PER_WORD]]
        if len(self._cache) < 50_000:
            self._cache[word] = out
        return out

    def _possessive(self, word: str) -> bool:
        """A word that is a known word plus "s" ("alzheimers" in "alzheimers disease")."""
        return word.endswith("s") and word[:-1] in self.counts and len(word) > MIN_WORD

    def respellings(
        self, key: str, possessive: bool = False, keep: frozenset[str] = frozenset()
    ) -> Iterator[str]:
        """Keys that ``key`` may be a misspelling of, most likely first.

        Args:
            key: the mention's key (``key_of``).
            possessive: the mention ended in "'s" or "s" that the key dropped (an eponym).
            keep: words never respelled (the mention's acronyms: "PTLD", "RPGN").

        Yields:
            Respelled keys (never ``key`` itself); nothing when every word is known or too
            many are unknown.
        """
        words = key.split(" ")
        unknown = [
            i
            for i, w in enumerate(words)
            if w.isalpha()
            and len(w) >= MIN_WORD
            and w not in keep
            and (w not in self.counts or self._possessive(w))
        ]
        if len(unknown) <= MAX_WORDS_RESPELLED:
            options = [
                ([words[i][:-1]] if self._possessive(words[i]) else []) + self.choices(words[i])
                for i in unknown
            ]
            combos = sorted(
                itertools.product(*(range(len(o)) for o in options)), key=lambda c: (sum(c), c)
            )
            for combo in combos if unknown else ():
                out = list(words)
                for i, j in zip(unknown, combo, strict=True):
                    out[i] = options[unknown.index(i)][j]
                yield " ".join(out)
        if possessive and len(words) == 1:
            stems = [words[0]] if words[0] in self.counts else self.choices(words[0])
            for stem in stems:
                for head in EPONYM_HEADS:
                    yield f"{stem} {head}"
