"""Generated misspellings of specific disease names: the kinds of typo clinicians make.

Each name is misspelled by one operation at several positions: two neighbouring letters swapped,
a letter dropped, a letter doubled, a vowel replaced by another, and, for eponyms, the
possessive or plural written without the apostrophe or with it ("Chron's", "alzheimers").
Only interior letters change (first and last kept, as most typos do).
"""

from __future__ import annotations

from collections.abc import Iterator

NAMES = (
    "Crohn disease",
    "Alzheimer disease",
    "Parkinson disease",
    "rheumatoid arthritis",
    "multiple sclerosis",
    "schizophrenia",
    "pneumonia",
    "asthma",
    "epilepsy",
    "migraine",
    "psoriasis",
    "leukemia",
    "tuberculosis",
    "osteoporosis",
    "hypothyroidism",
    "endometriosis",
    "glaucoma",
    "emphysema",
    "bronchitis",
    "diabetes mellitus",
    "Hodgkin lymphoma",
    "Graves disease",
    "Addison disease",
    "Huntington disease",
)
EPONYMS = ("Crohn", "Alzheimer", "Parkinson", "Hodgkin", "Addison", "Huntington")
VOWELS = "aeiou"


def _longest_word(name: str) -> tuple[int, str]:
    words = name.split(" ")
    i = max(range(len(words)), key=lambda j: len(words[j]))
    return i, words[i]


def typos(word: str) -> Iterator[str]:
    """One-edit misspellings of ``word`` (interior letters only), a few positions each."""
    n = len(word)
    positions = sorted({1, n // 2, n - 3}) if n >= 6 else [1]
    for p in positions:
        if 0 < p < n - 2:
            yield word[:p] + word[p + 1] + word[p] + word[p + 2 :]  # transposition
        if 0 < p < n - 1:
            yield word[:p] + word[p + 1 :]  # deletion
            yield word[:p] + word[p] + word[p:]  # doubling
        if 0 < p < n - 1 and word[p] in VOWELS:
            other = next(v for v in VOWELS if v != word[p])
            yield word[:p] + other + word[p + 1 :]  # vowel substitution


def misspellings() -> Iterator[tuple[str, str]]:
    """``(misspelled mention, correct name)`` pairs, each misspelling different from its name."""
    seen: set[str] = set()
    for name in NAMES:
        i, word = _longest_word(name)
        words = name.split(" ")
        for typo in typos(word):
            mention = " ".join([*words[:i], typo, *words[i + 1 :]])
            if mention.lower() != name.lower() and mention not in seen:
                seen.add(mention)
                yield mention, name
    for eponym in EPONYMS:
        name = f"{eponym} disease" if f"{eponym} disease" in NAMES else f"{eponym} lymphoma"
        head = name.split(" ", 1)[1]
        forms = (f"{eponym}'s {head}", f"{eponym}s {head}")
        if head == "disease":
            forms += (f"{eponym}s", f"{eponym.lower()}'s")
        swapped = eponym[0] + eponym[2] + eponym[1] + eponym[3:]  # "Crohn" -> "Cohrn"
        forms += (f"{swapped}'s {head}",)
        for form in forms:
            yield form, name
    yield "Chron's disease", "Crohn disease"  # the issue's own instance, among the kind
