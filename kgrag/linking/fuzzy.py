"""Fuzzy candidates for mentions with no exact dictionary key.

Character 3-gram TF-IDF nearest keys (sparse cosine, as scispaCy's candidate generator does),
re-ranked with a rapidfuzz edit-distance score.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from kgrag.linking.dictionary import DictionaryIndex, Entry
from kgrag.tokens import key_of


def _grams(key: str) -> list[str]:
    padded = f" {key} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


class FuzzyMatcher:
    """Nearest dictionary keys of a mention by character 3-gram TF-IDF and edit distance."""

    name = "kgrag.FuzzyMatcher.v1"

    def __init__(self, dictionary: DictionaryIndex) -> None:
        from scipy.sparse import csr_matrix

        self.dictionary = dictionary
        self.keys: list[str] = list(dictionary.entries)
        vocab: dict[str, int] = {}
        df: Counter[int] = Counter()
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, key in enumerate(self.keys):
            counts = Counter(vocab.setdefault(g, len(vocab)) for g in _grams(key))
            df.update(counts.keys())
            for c, n in counts.items():
                rows.append(r)
                cols.append(c)
                vals.append(float(n))
        n_keys = len(self.keys)
        idf = np.zeros(len(vocab), dtype=np.float32)
        for c, d in df.items():
            idf[c] = math.log((1 + n_keys) / (1 + d)) + 1.0
        values = np.asarray(vals, dtype=np.float32) * idf[np.asarray(cols, dtype=np.int64)]
        matrix = csr_matrix((values, (rows, cols)), shape=(n_keys, len(vocab)), dtype=np.float32)
        norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
        norms[norms == 0] = 1.0
        from scipy.sparse import diags

        self.matrix = diags(1.0 / norms) @ matrix
        matrix_t = self.matrix.T.tocsr()  # grams x keys
        self._indptr = matrix_t.indptr.astype(np.int64)
        self._indices = matrix_t.indices
        self._data = matrix_t.data
        self._common = max(500, n_keys // 50)
        self.vocab = vocab
        self.idf = idf

    def nearest_keys(self, text: str, k: int = 10, pool: int = 64) -> list[tuple[str, float]]:
        """The ``k`` closest keys with a similarity in [0, 1] (best first)."""
        from rapidfuzz import fuzz

        key = key_of(text)
        if not key:
            return []
        counts = Counter(self.vocab[g] for g in _grams(key) if g in self.vocab)
        if not counts:
            return []
        cols = np.fromiter(counts.keys(), dtype=np.int64)
        weights = np.fromiter(counts.values(), dtype=np.float32) * self.idf[cols]
        weights /= np.linalg.norm(weights) or 1.0
        starts, ends = self._indptr[cols], self._indptr[cols + 1]
        # the rarest grams carry the signal: skip the most common ones when enough remain
        sizes = ends - starts
        order = np.argsort(sizes)
        rare = int(np.count_nonzero(sizes <= self._common))
        order = order[: max(rare, min(3, len(order)))]
        idx = np.concatenate([self._indices[starts[j] : ends[j]] for j in order])
        val = np.concatenate([self._data[starts[j] : ends[j]] * weights[j] for j in order])
        if len(idx) == 0:
            return []
        found, inverse = np.unique(idx, return_inverse=True)
        values = np.bincount(inverse, weights=val)
        if len(found) > pool:
            keep = np.argpartition(-values, pool - 1)[:pool]
            found, values = found[keep], values[keep]
        top = zip(found.tolist(), values.tolist(), strict=True)
        ranked = []
        for i, cosine in top:
            if cosine <= 0:
                continue
            edit = fuzz.ratio(key, self.keys[i]) / 100.0
            ranked.append((self.keys[i], 0.5 * cosine + 0.5 * edit))
        ranked.sort(key=lambda kv: -kv[1])
        return ranked[:k]

    def candidates(self, text: str, k: int = 10) -> list[tuple[Entry, float, str]]:
        """``(entry, similarity, matched key)`` for the nearest keys' concepts, one per concept."""
        out: list[tuple[Entry, float, str]] = []
        seen: set[int] = set()
        for key, sim in self.nearest_keys(text, k=k * 2):
            for entry in self.dictionary.entries[key]:
                if entry.concept not in seen and not entry.case_sensitive:
                    seen.add(entry.concept)
                    out.append((entry, sim, key))
        return out[:k]
