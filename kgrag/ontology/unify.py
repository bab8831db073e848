"""Unification: source concepts declared equal become one UMLS-style concept.

Equivalences are applied strongest evidence first (SSSOM exact matches and UMLS
same-CUI before one-to-one xrefs). A unified concept holds at most one id of each
vocabulary: a merge that would put two MONDO ids (or two OMIM ids, ...) into one
concept is refused and reported as a :class:`~kgrag.types.MergeConflict`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from kgrag._text import normalize
from kgrag.ontology.curie import prefix_of
from kgrag.ontology.records import Equivalence, LoadResult, SourceConcept
from kgrag.tokens import key_of
from kgrag.types import MergeConflict, SemanticKind, SourceInfo, SynonymScope

logger = logging.getLogger(__name__)

# Which member's id becomes the unified id (after a unique UMLS CUI) and which kind wins.
ID_PRIORITY = (
    "MONDO",
    "DOID",
    "HP",
    "MESH",
    "ORPHA",
    "OMIM",
    "OMIMPS",
    "DECIPHER",
    "ICD10CM",
    "NCIT",
    "DDX",
    "DDXE",
    "SYMP",
    "ICD10WHO",
    "ICD11",
    "GARD",
    "UMLS",
)
# Which member's name is shown: uninverted names first; phenotype names for findings.
NAME_PRIORITY = (
    "HP",
    "MONDO",
    "DOID",
    "ORPHA",
    "OMIM",
    "DDX",
    "DDXE",
    "SYMP",
    "DECIPHER",
    "MESH",
    "ICD10CM",
    "NCIT",
    "UMLS",
    "ICD10WHO",
    "ICD11",
    "GARD",
    "OMIMPS",
)
DISEASE_NAME_PRIORITY = ("MONDO", "DOID", "ORPHA", "OMIM", "DDX", "HP", *NAME_PRIORITY[6:])
_SCOPE_RANK = {
    SynonymScope.PREFERRED: 0,
    SynonymScope.EXACT: 1,
    SynonymScope.RELATED: 2,
    SynonymScope.NARROW: 3,
    SynonymScope.BROAD: 4,
}


def _rank(prefix: str, order: Sequence[str]) -> int:
    return order.index(prefix) if prefix in order else len(order)


LEXICAL_EVIDENCE = "lexical: equal preferred names"
_LEXICAL_KINDS = (SemanticKind.DISEASE, SemanticKind.FINDING)


def _strength(eq: Equivalence) -> int:
    if "exactMatch" in eq.evidence or "MRCONSO" in eq.evidence:
        return 0
    return 2 if eq.evidence == LEXICAL_EVIDENCE else 1


def lexical_equivalences(concepts: dict[str, SourceConcept]) -> list[Equivalence]:
    """Weakest evidence.

    Diseases/findings of different vocabularies with the same preferred name (after normalization),
    where that name is unique inside each vocabulary. Applied last, so curated mappings win and the
    one-id-per-vocabulary rule still holds.
    """
    by_name: dict[str, dict[str, list[str]]] = {}
    for c in concepts.values():
        if c.kind in _LEXICAL_KINDS and c.name:
            key = normalize(c.name)
            if len(key) > 3:
                by_name.setdefault(key, {}).setdefault(prefix_of(c.id), []).append(c.id)
    out: list[Equivalence] = []
    for per_prefix in by_name.values():
        if len(per_prefix) < 2 or any(len(ids) > 1 for ids in per_prefix.values()):
            continue
        ids = sorted(
            (ids[0] for ids in per_prefix.values()), key=lambda i: (_rank(prefix_of(i), ID_PRIORITY), i)
        )
        out.extend(Equivalence(ids[0], other, LEXICAL_EVIDENCE) for other in ids[1:])
    return out


@dataclass(slots=True)
class UnifiedData:
    """The columnar concept table, as compiled to disk."""

    sources: list[SourceInfo]
    ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    definitions: list[str | None] = field(default_factory=list)
    codes: list[list[str]] = field(default_factory=list)
    xrefs: list[list[str]] = field(default_factory=list)
    # [text, scope, type, source, support]
    synonyms: list[list[tuple[str, str, str | None, str, int]]] = field(default_factory=list)
    # (parent index, vocabulary asserting the edge): one entry per vocabulary
    parents: list[list[tuple[int, str]]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    name_index: dict[str, list[int]] = field(default_factory=dict)
    # per synonym, its token key (kgrag.tokens.key_of): linkers build dictionaries from it
    link_keys: list[list[str]] = field(default_factory=list)
    conflicts: list[MergeConflict] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, dict[str, str]] = {}  # root -> prefix -> code

    def add(self, code: str) -> None:
        if code not in self.parent:
            self.parent[code] = code
            self.members[code] = {prefix_of(code): code}

    def find(self, code: str) -> str:
        root = code
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[code] != root:
            self.parent[code], code = root, self.parent[code]
        return root

    def union(self, a: str, b: str) -> tuple[str, str] | None:
        """Merge; on a clash return the two codes of one vocabulary that would collide."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        ma, mb = self.members[ra], self.members[rb]
        for prefix, code in mb.items():
            other = ma.get(prefix)
            if other is not None and other != code:
                return other, code
        if len(ma) < len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        self.parent[rb] = ra
        ma.update(mb)
        del self.members[rb]
        return None


def _merge_same_id(results: Sequence[LoadResult]) -> dict[str, SourceConcept]:
    """One record per source id; the first loader that names an id gives its name and kind."""
    merged: dict[str, SourceConcept] = {}
    for result in results:
        for c in result.concepts:
            have = merged.get(c.id)
            if have is None:
                merged[c.id] = SourceConcept(
                    id=c.id,
                    name=c.name,
                    kind=c.kind,
                    source=c.source,
                    synonyms=list(c.synonyms),
                    definition=c.definition,
                    parents=list(c.parents),
                    xrefs=list(c.xrefs),
                )
                continue
            if not have.name:
                have.name = c.name
            elif c.name and c.name != have.name:
                have.synonyms.append((c.name, SynonymScope.EXACT, None))
            have.synonyms.extend(c.synonyms)
            have.definition = have.definition or c.definition
            have.parents.extend([p for p in c.parents if p not in have.parents])
            have.xrefs.extend([x for x in c.xrefs if x not in have.xrefs])
    return merged


def unify(results: Sequence[LoadResult]) -> UnifiedData:
    """Merge the concepts of every source into one table: same ids, then equivalences."""
    concepts = _merge_same_id(results)
    aliases: dict[str, str] = {}
    for result in results:
        for alias, target in result.aliases.items():
            if alias not in concepts:
                aliases.setdefault(alias, target)

    uf = _UnionFind()
    for code in concepts:
        uf.add(code)
    conflicts: list[MergeConflict] = []
    declared = [eq for r in results for eq in r.equivalences]
    equivalences = sorted(declared + lexical_equivalences(concepts), key=_strength)
    for eq in equivalences:
        left = aliases.get(eq.left, eq.left)
        right = aliases.get(eq.right, eq.right)
        uf.add(left)
        uf.add(right)
        clash = uf.union(left, right)
        if clash is not None:
            conflicts.append(
                MergeConflict(
                    left=left,
                    right=right,
                    evidence=eq.evidence,
                    reason=f"would unify {clash[0]} and {clash[1]}, two ids of one vocabulary",
                )
            )

    clusters: dict[str, list[str]] = {}
    for code in uf.parent:
        clusters.setdefault(uf.find(code), []).append(code)

    data = UnifiedData(sources=[r.info for r in results], conflicts=conflicts)
    index_of: dict[str, int] = {}
    member_lists: list[list[SourceConcept]] = []
    for members in clusters.values():
        named = [concepts[m] for m in members if m in concepts and concepts[m].name]
        if not named:
            continue
        members.sort(key=lambda m: (_rank(prefix_of(m), ID_PRIORITY), m))
        cuis = [m for m in members if prefix_of(m) == "UMLS"]
        uid = cuis[0] if len(cuis) == 1 else members[0]
        for m in members:
            index_of[m] = len(data.ids)
        named.sort(key=lambda c: (_rank(prefix_of(c.id), ID_PRIORITY), c.id))
        kind = _kind(named)
        order = DISEASE_NAME_PRIORITY if kind is SemanticKind.DISEASE else NAME_PRIORITY
        display = min(named, key=lambda c: (_rank(prefix_of(c.id), order), c.id))
        data.ids.append(uid)
        data.names.append(display.name)
        data.kinds.append(kind.value)
        data.definitions.append(next((c.definition for c in named if c.definition), None))
        data.codes.append(members)
        member_set = set(members)
        data.xrefs.append(sorted({x for c in named for x in c.xrefs} - member_set))
        keyed = _synonyms(display, named)
        data.synonyms.append([row for _, row in keyed])
        data.link_keys.append([key_of(row[0]) for _, row in keyed])
        for key, _ in keyed:
            data.name_index.setdefault(key, []).append(len(data.ids) - 1)
        member_lists.append(named)

    for alias, target in aliases.items():
        if target in index_of:
            data.aliases[alias] = data.ids[index_of[target]]
    for i, named in enumerate(member_lists):
        pairs: set[tuple[int, str]] = set()  # one entry per (parent, asserting vocabulary)
        for c in named:
            for p in c.parents:
                j = index_of.get(aliases.get(p, p))
                if j is not None and j != i:
                    pairs.add((j, c.source))
        data.parents.append(sorted(pairs))
    data.per_source = _per_source(results)
    for result in results:
        if result.warnings is not None:
            for what, n in result.warnings.counts.items():
                data.warnings[f"{result.info.name}: {what}"] = n
    logger.info(
        "unified %d source concepts into %d concepts (%d conflicts)",
        len(concepts),
        len(data.ids),
        len(conflicts),
    )
    return data


def _kind(named: Sequence[SourceConcept]) -> SemanticKind:
    for c in named:
        if c.kind is not SemanticKind.OTHER:
            return c.kind
    return SemanticKind.OTHER


def _synonyms(
    display: SourceConcept, named: Sequence[SourceConcept]
) -> list[tuple[str, tuple[str, str, str | None, str, int]]]:
    """Names and synonyms of all members, de-duplicated by normalized text (the key).

    Each row is ``(text, scope, type, source, support)``: ``support`` counts the member
    vocabularies that give this name, a sign of how canonical it is for the concept.
    """
    best: dict[str, tuple[int, tuple[str, str, str | None, str]]] = {}
    support: dict[str, set[str]] = {}

    def offer(text: str, scope: SynonymScope, kind: str | None, source: str) -> None:
        key = normalize(text)
        if not key:
            return
        support.setdefault(key, set()).add(source)
        rank = _SCOPE_RANK[scope]
        have = best.get(key)
        if have is None or rank < have[0]:
            best[key] = (rank, (text, scope.value, kind, source))

    offer(display.name, SynonymScope.PREFERRED, None, display.source)
    for c in named:
        offer(c.name, SynonymScope.EXACT, "name", c.source)
        for text, scope, kind in c.synonyms:
            offer(text, scope, kind, c.source)
    ranked = sorted(best.items(), key=lambda kv: kv[1][0])
    return [(key, (*row, len(support[key]))) for key, (_, row) in ranked]


def _per_source(results: Sequence[LoadResult]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in results:
        entry = out.setdefault(r.info.name, {"concepts": 0, "synonyms": 0, "is_a_edges": 0, "xrefs": 0})
        entry["concepts"] += len(r.concepts)
        entry["synonyms"] += sum(len(c.synonyms) for c in r.concepts)
        entry["is_a_edges"] += sum(len(c.parents) for c in r.concepts)
        entry["xrefs"] += sum(len(c.xrefs) for c in r.concepts)
    return out
