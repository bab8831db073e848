"""scispaCy's char-3gram TF-IDF candidate generator over kgrag's own concept table.

scispaCy ships knowledge bases that it downloads (UMLS, MeSH, ...); kgrag builds one from
its unified concepts instead, with no remote files. ``create_tfidf_ann_index`` refuses to
run on scipy >= 1.11, so the vectorizer and nmslib HNSW index are built here directly with
scispaCy's own settings, and handed to its ``CandidateGenerator``. Ranking follows
scispaCy's ``EntityLinker``: best alias similarity per concept, threshold 0.7, top 5.

Both a :class:`~kgrag.linking.base.Normalizer` and, given a spaCy pipeline with an NER
component (``en_core_sci_sm`` on a user's machine), a :class:`~kgrag.linking.base.Linker`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from kgrag.errors import ConfigError, MissingExtraError
from kgrag.linking.assertion import assign_assertions
from kgrag.linking.dictionary import DictionaryIndex
from kgrag.types import Candidate, Mention, SemanticKind

logger = logging.getLogger(__name__)


class ScispacyLinker:
    """A linker over scispaCy's TF-IDF character n-gram candidate generator (for comparison)."""

    name = "kgrag.ScispacyLinker.v1"

    def __init__(
        self,
        dictionary: DictionaryIndex,
        *,
        threshold: float = 0.7,
        k: int = 30,
        max_entities: int = 5,
        m: int = 100,
        ef_construction: int = 2000,
        ef_search: int = 200,
        min_df: int = 10,
        threads: int = 2,
        spacy_model: str | None = None,
        extra_aliases: dict[int, list[str]] | None = None,
    ) -> None:
        try:
            import nmslib
            import numpy
            from scispacy.candidate_generation import CandidateGenerator
            from scispacy.linking_utils import Entity, KnowledgeBase
            from sklearn.feature_extraction.text import TfidfVectorizer
        except ImportError as e:
            raise MissingExtraError("scispacy", "scispacy", "The scispaCy linker") from e
        self.table = dictionary.table
        table = self.table
        logging.getLogger("nmslib").setLevel(logging.WARNING)
        started = time.perf_counter()
        entities = []
        for i, allowed in enumerate(dictionary.allowed):
            if allowed:
                row = table.row(i)
                names = {s.text for s in table.synonyms(i)} | set((extra_aliases or {}).get(i, ()))
                aliases = sorted(names - {row.name})
                entities.append(
                    Entity(
                        concept_id=row.id,
                        canonical_name=row.name,
                        aliases=aliases,
                        types=[row.kind],
                    )
                )
        kb = KnowledgeBase(entities)
        aliases = list(kb.alias_to_cuis.keys())
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 3), min_df=min_df, dtype=numpy.float32
        )
        vectors = vectorizer.fit_transform(aliases)
        empty = numpy.where(vectors.sum(axis=1) != 0)[0]
        aliases = [aliases[i] for i in empty]
        vectors = vectors[empty]
        index = nmslib.init(
            method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR
        )
        index.addDataPointBatch(vectors)
        index.createIndex(
            {"M": m, "indexThreadQty": threads, "efConstruction": ef_construction, "post": 0},
            print_progress=False,
        )
        index.setQueryTimeParams({"efSearch": ef_search})
        self.generator = CandidateGenerator(
            ann_index=index, tfidf_vectorizer=vectorizer, ann_concept_aliases_list=aliases, kb=kb
        )
        self.build_seconds = time.perf_counter() - started
        self.index_params = {
            "M": m,
            "efConstruction": ef_construction,
            "efSearch": ef_search,
            "min_df": min_df,
            "aliases": len(aliases),
        }
        logger.info("scispaCy index over %d aliases built in %.0fs", len(aliases), self.build_seconds)
        self.threshold = threshold
        self.k = k
        self.max_entities = max_entities
        self._rows = {row.id: i for i, row in enumerate(table.rows())}
        self._nlp: Any = None
        self._spacy_model = spacy_model
        self._capped_logged = False

    def normalize_batch(self, mentions: Sequence[str], k: int = 5) -> list[list[Candidate]]:
        """Candidates for each of ``mentions``, best first.

        Args:
            mentions: the mention strings.
            k: candidates wanted per mention; at most ``max_entities`` (scispaCy's limit, 5 by
                default) come back whatever ``k`` says: a larger ``k`` is logged once at INFO.

        Returns:
            One list per mention, of the candidates with similarity at least ``threshold``
            (0.7 by default); empty when none clears it (the Normalizer contract).
        """
        if k > self.max_entities and not self._capped_logged:
            self._capped_logged = True
            cap = self.max_entities
            logger.info("scispaCy returns at most max_entities=%d candidates (k=%d asked)", cap, k)
        out = []
        for candidates in self.generator(list(mentions), self.k):
            ranked = sorted(((max(c.similarities), c.concept_id) for c in candidates), reverse=True)
            row: list[Candidate] = []
            for sim, cid in ranked:
                if sim < self.threshold or len(row) >= min(k, self.max_entities):
                    continue
                concept = self.table.row(self._rows[cid])
                row.append(
                    Candidate(
                        concept_id=cid,
                        name=concept.name,
                        kind=SemanticKind(concept.kind),
                        codes=tuple(concept.codes),
                        score=round(min(1.0, max(0.0, float(sim))), 4),
                        method="scispacy",
                    )
                )
            out.append(row)
        return out

    def normalize(self, mention: str, context: str | None = None, k: int = 5) -> list[Candidate]:
        """Implements :meth:`Normalizer.normalize` (``context`` unused)."""
        return self.normalize_batch([mention], k)[0] if mention.strip() else []

    def link(self, text: str) -> list[Mention]:
        """NER by the configured spaCy model, then this candidate generator.

        An entity spaCy finds but no concept clears ``threshold`` for is left out (a mention
        always has candidates), as scispaCy's ``EntityLinker`` leaves it unlinked.
        """
        if self._nlp is None:
            if not self._spacy_model:
                raise ConfigError(
                    "ScispacyLinker.link needs spacy_model= (e.g. "
                    "'en_core_sci_sm', installed on your machine)"
                )
            import spacy

            try:
                self._nlp = spacy.load(self._spacy_model)
            except OSError as e:
                raise ConfigError(f"spaCy model {self._spacy_model!r} is not installed") from e
        doc = self._nlp(text)
        spans = [(e.start_char, e.end_char) for e in doc.ents]
        ranked = self.normalize_batch([e.text for e in doc.ents])
        assertions = assign_assertions(text, spans)
        return [
            Mention(start=s, end=e, text=text[s:e], assertion=a, candidates=tuple(c))
            for (s, e), a, c in zip(spans, assertions, ranked, strict=True)
            if c
        ]
