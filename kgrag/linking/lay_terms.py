"""Lay phrasings of common findings ("increased thirst", "pain with urination").

Patients and consumer-health pages (MedQuAD) name findings in words the clinical
vocabularies often lack; those phrases are read from the versioned table
``data/lay_terms.tsv`` (written for kgrag, each row reviewed and tested) and added to the
dictionary as strong synonyms of their HPO concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from kgrag.linking.dictionary import DictionaryIndex
from kgrag.ontology.table import ConceptTable


@dataclass(frozen=True)
class LayTerm:
    """One row of ``data/lay_terms.tsv``."""

    phrase: str
    code: str  # an HPO code
    label: str  # the code's HPO label, for review


@cache
def lay_terms() -> tuple[LayTerm, ...]:
    """The rows of ``data/lay_terms.tsv``.

    Raises:
        ValueError: a row without its three tab-separated columns.
    """
    text = files("kgrag.linking").joinpath("data/lay_terms.tsv").read_text(encoding="utf-8")
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise ValueError(f"lay_terms.tsv line {n}: expected 3 columns: {line!r}")
        out.append(LayTerm(*cols))
    return tuple(out)


def add_lay_terms(dictionary: DictionaryIndex, table: ConceptTable) -> int:
    """Add every lay phrase whose concept is in ``table`` and allowed by the dictionary.

    Returns:
        How many phrases were added.
    """
    added = 0
    for term in lay_terms():
        i = table.index_of(term.code)
        if i is not None:
            added += dictionary.add_curated(term.phrase, i, "kgrag-lay-terms")
    return added
