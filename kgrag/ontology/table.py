"""ConceptTable: the unified concepts, looked up by any code, by name or by synonym."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from kgrag._text import content_words, normalize
from kgrag.errors import ConceptNotFound
from kgrag.ontology.curie import canonical
from kgrag.ontology.unify import UnifiedData
from kgrag.tokens import key_of
from kgrag.types import (
    Concept,
    ConceptMatch,
    ConceptTableStats,
    MergeConflict,
    SemanticKind,
    SourceInfo,
    Synonym,
    SynonymScope,
    VocabularyCount,
)

_SCOPE_BONUS = {"preferred": 0.0, "exact": 0.01, "related": 0.04, "narrow": 0.05, "broad": 0.08}
MIN_FUZZY_CHARS = 3  # fuzzy name search needs this many content characters ("tb-" is exact-only)


class ParentLink(NamedTuple):
    """One is_a edge of a concept row: the parent's row and the vocabulary asserting it."""

    row: int
    vocabulary: str


class ConceptRow(NamedTuple):
    """One concept of the table by row number (cheap: no model is built).

    ``codes`` are all member codes (the unified id's included); ``parents`` has one
    :class:`ParentLink` per (parent, vocabulary).
    """

    id: str
    name: str
    kind: str
    definition: str | None
    codes: Sequence[str]
    xrefs: Sequence[str]
    parents: Sequence[ParentLink]


class ConceptSynonym(NamedTuple):
    """One synonym of a concept row, with its linking key (:func:`kgrag.tokens.key_of`)."""

    text: str
    scope: str
    type: str | None
    source: str
    support: int
    key: str


class ConceptTable:
    """Read-only access to a compiled, unified concept table.

    Look-up by any code (:meth:`get`), name search (:meth:`search`), hierarchy (:meth:`ancestors`).

    Examples:
        >>> import kgrag
        >>> table = kgrag.load_concepts()
        >>> table.get("MESH:D003924").name
        'type 2 diabetes mellitus'
    """

    def __init__(self, data: UnifiedData) -> None:
        self._d = data
        self._code_index: dict[str, int] = {}
        for i, codes in enumerate(data.codes):
            for code in codes:
                self._code_index[code] = i
        for i, uid in enumerate(data.ids):
            self._code_index[uid] = i
        self._children: list[list[int]] | None = None
        self._search_keys: list[str] | None = None

    # -- size and provenance -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._d.ids)

    def __iter__(self) -> Iterator[Concept]:
        return (self._concept(i) for i in range(len(self)))

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.index_of(code) is not None

    @property
    def sources(self) -> tuple[SourceInfo, ...]:
        """The vocabularies the table was compiled from, with their versions."""
        return tuple(self._d.sources)

    @property
    def conflicts(self) -> tuple[MergeConflict, ...]:
        """The merges that were refused when vocabularies were unified (for the build report)."""
        return tuple(self._d.conflicts)

    # -- rows: the bulk readers' accessors ---------------------------------------------
    def index_of(self, code: str) -> int | None:
        """The row number of the concept holding ``code``, else None.

        ``code`` may be any member code, alias or retired id, or a unified id. Rows run
        ``0 .. len(table) - 1``.
        """
        i = self._code_index.get(code)
        if i is not None:
            return i
        canon = canonical(code)
        if canon is None:
            return None
        canon = self._d.aliases.get(canon, canon)
        return self._code_index.get(canon)

    def row(self, i: int) -> ConceptRow:
        """The concept in row ``i`` as a :class:`ConceptRow` (raises IndexError past the end)."""
        d = self._d
        return ConceptRow(
            d.ids[i],
            d.names[i],
            d.kinds[i],
            d.definitions[i],
            d.codes[i],
            d.xrefs[i],
            [ParentLink(j, v) for j, v in d.parents[i]],
        )

    def rows(self) -> Iterator[ConceptRow]:
        """Every row in order (``enumerate`` gives the row numbers)."""
        return (self.row(i) for i in range(len(self)))

    def synonyms(self, i: int) -> list[ConceptSynonym]:
        """The synonyms of row ``i``, each with its token key for linking."""
        d = self._d
        syns = d.synonyms[i]
        keys = d.link_keys[i] if d.link_keys else [key_of(s[0]) for s in syns]
        return [
            ConceptSynonym(t, sc, ty, src, sup, k)
            for (t, sc, ty, src, sup), k in zip(syns, keys, strict=True)
        ]

    def stats(self) -> ConceptTableStats:
        """Counts of concepts, synonyms, codes, IS_A edges and conflicts, in all and per vocabulary."""
        d = self._d
        return ConceptTableStats(
            concepts=len(d.ids),
            synonyms=sum(len(s) for s in d.synonyms),
            codes=sum(len(c) for c in d.codes),
            is_a_edges=sum(len({j for j, _ in p}) for p in d.parents),
            conflicts=len(d.conflicts),
            per_source=tuple(
                VocabularyCount(source=name, **counts) for name, counts in d.per_source.items()
            ),
            warnings=dict(d.warnings),
        )

    # -- lookup by code ------------------------------------------------------------------
    def resolve(self, code: str) -> str | None:
        """The unified id for any member code, alias or retired id, else None."""
        i = self.index_of(code)
        return None if i is None else self._d.ids[i]

    def get(self, code: str) -> Concept:
        """The unified concept for a code (``MESH:D003924``, ``MIM:125853``, ``HP:0001250``).

        Raises :class:`~kgrag.errors.ConceptNotFound` (a ``KeyError``) when none has it.
        """
        i = self.index_of(code)
        if i is None:
            raise ConceptNotFound(code)
        return self._concept(i)

    def find_by_xref(self, code: str) -> list[Concept]:
        """Concepts that list ``code`` as a related (non-equivalent) xref."""
        canon = canonical(code) or code
        return [self._concept(i) for i, xs in enumerate(self._d.xrefs) if canon in xs]

    # -- hierarchy -----------------------------------------------------------------------
    def parents(self, code: str) -> list[Concept]:
        """The direct IS_A parents of the concept holding ``code``.

        Raises:
            ConceptNotFound: no concept holds ``code``.
        """
        i = self._require(code)
        return [self._concept(j) for j in self._parent_ids(i)]

    def children(self, code: str) -> list[Concept]:
        """The direct IS_A children of the concept holding ``code`` (inverse map built on first use).

        Raises:
            ConceptNotFound: no concept holds ``code``.
        """
        i = self._require(code)
        if self._children is None:
            kids: list[list[int]] = [[] for _ in self._d.ids]
            for child in range(len(self._d.ids)):
                for parent in self._parent_ids(child):
                    kids[parent].append(child)
            self._children = kids
        return [self._concept(j) for j in self._children[i]]

    def ancestors(self, code: str, *, max_depth: int | None = None) -> list[Concept]:
        """Every concept above ``code`` (breadth first; tolerant of cross-vocabulary cycles)."""
        start = self._require(code)
        seen = {start}
        frontier = [start]
        out: list[int] = []
        depth = 0
        while frontier and (max_depth is None or depth < max_depth):
            depth += 1
            nxt = []
            for i in frontier:
                for j in self._parent_ids(i):
                    if j not in seen:
                        seen.add(j)
                        out.append(j)
                        nxt.append(j)
            frontier = nxt
        return [self._concept(j) for j in out]

    # -- names ---------------------------------------------------------------------------
    def lookup_name(self, name: str) -> list[Concept]:
        """Concepts with a name or synonym equal to ``name`` after normalization."""
        return [self._concept(i) for i in self._d.name_index.get(normalize(name), [])]

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        kinds: Iterable[SemanticKind | str] | None = None,
        min_score: float = 0.6,
    ) -> list[ConceptMatch]:
        """Codes, exact names, then fuzzy names (rapidfuzz), best first."""
        wanted = {SemanticKind(k) for k in kinds} if kinds else None
        best: dict[int, tuple[float, str, str]] = {}

        def offer(i: int, score: float, matched: str, how: str) -> None:
            if wanted and SemanticKind(self._d.kinds[i]) not in wanted:
                return
            if i not in best or score > best[i][0]:
                best[i] = (score, matched, how)

        code_hit = self.index_of(query.strip())
        if code_hit is not None:
            offer(code_hit, 1.0, query.strip(), "code")
        key = normalize(query)
        content = content_words(query)  # relevance floor: "AND", "C++" name nothing
        if key and content and code_hit is None:
            for i in self._d.name_index.get(key, []):
                offer(i, self._exact_score(i, key), self._matched_text(i, key), "exact")
            if len(best) < limit and sum(len(w) for w in content) >= MIN_FUZZY_CHARS:
                self._fuzzy(key, limit, min_score, offer)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], self._d.ids[kv[0]]))[:limit]
        return [
            ConceptMatch(
                concept_id=self._d.ids[i],
                name=self._d.names[i],
                kind=SemanticKind(self._d.kinds[i]),
                codes=tuple(self._d.codes[i]),
                matched=matched,
                match=how,
                score=round(score, 4),
            )
            for i, (score, matched, how) in ranked
        ]

    def _exact_score(self, i: int, key: str) -> float:
        for text, scope, *_ in self._d.synonyms[i]:
            if normalize(text) == key:
                return 1.0 - _SCOPE_BONUS.get(scope, 0.0)
        return 0.95

    def _matched_text(self, i: int, key: str) -> str:
        return next((s[0] for s in self._d.synonyms[i] if normalize(s[0]) == key), self._d.names[i])

    def _fuzzy(self, key: str, limit: int, min_score: float, offer: object) -> None:
        from rapidfuzz import fuzz, process

        if self._search_keys is None:
            self._search_keys = list(self._d.name_index)
        hits = process.extract(
            key,
            self._search_keys,
            scorer=fuzz.WRatio,
            processor=None,
            limit=limit * 5,
            score_cutoff=min_score * 100,
        )
        for text, score, _ in hits:
            for i in self._d.name_index[text]:
                offer(i, score / 100 * 0.99, text, "fuzzy")  # type: ignore[operator]

    # -- materialization -----------------------------------------------------------------
    def _parent_ids(self, i: int) -> list[int]:
        return list(dict.fromkeys(j for j, _ in self._d.parents[i]))

    def _require(self, code: str) -> int:
        i = self.index_of(code)
        if i is None:
            raise ConceptNotFound(code)
        return i

    def _concept(self, i: int) -> Concept:
        d = self._d
        return Concept(
            id=d.ids[i],
            name=d.names[i],
            kind=SemanticKind(d.kinds[i]),
            definition=d.definitions[i],
            synonyms=tuple(
                Synonym(text=t, scope=SynonymScope(s), type=ty, source=src)
                for t, s, ty, src, _support in d.synonyms[i]
            ),
            codes=tuple(d.codes[i]),
            xrefs=tuple(d.xrefs[i]),
            parents=tuple(d.ids[j] for j in self._parent_ids(i)),
            sources=tuple(sorted({row[3] for row in d.synonyms[i]})),
        )
