"""Which cross-references count as equality.

A vocabulary's xrefs are often broader or narrower (Disease Ontology lists five OMIM
susceptibility loci on type 2 diabetes). An xref is taken as an equivalence only when it
is one-to-one within that source: the concept has one xref of that prefix, and no other
concept of the source lists the same code. The rest stay as related xrefs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from kgrag.ontology.curie import prefix_of
from kgrag.ontology.records import Equivalence, SourceConcept


def one_to_one_equivalences(
    concepts: Iterable[SourceConcept], prefixes: Sequence[str], evidence: str
) -> list[Equivalence]:
    """Equivalences from cross-references that are one-to-one per prefix.

    A concept's xref of a ``prefixes`` vocabulary counts only when the concept has one xref of that
    vocabulary and no other concept claims it; ``evidence`` is recorded on each.
    """
    concepts = list(concepts)
    wanted = set(prefixes)
    claimed: Counter[str] = Counter()
    for c in concepts:
        claimed.update({x for x in c.xrefs if prefix_of(x) in wanted})
    out: list[Equivalence] = []
    for c in concepts:
        per_prefix: dict[str, list[str]] = {}
        for x in dict.fromkeys(c.xrefs):
            if prefix_of(x) in wanted:
                per_prefix.setdefault(prefix_of(x), []).append(x)
        for codes in per_prefix.values():
            if len(codes) == 1 and claimed[codes[0]] == 1:
                out.append(Equivalence(c.id, codes[0], evidence))
    return out
