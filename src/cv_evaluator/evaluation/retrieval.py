"""Okapi BM25 over chunks, built per evaluation from the documents that job actually uses.

Small enough to write out (no numpy), deterministic (ties broken by document order) and fast for
the few hundred chunks one evaluation has. Terms come from ``analysis.terms_of`` so queries and
chunks share stems, synonyms and lexicon aliases.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Bm25Index", "Hit"]


@dataclass(frozen=True, slots=True)
class Hit:
    index: int
    score: float


class Bm25Index:
    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.5):
        # b below the textbook 0.75: requirements are short and similar in length, and a long
        # bullet usually is a richer requirement, not a padded one.
        self._k1 = k1
        self._b = b
        self._tf = [Counter(doc) for doc in documents]
        self._len = [len(doc) for doc in documents]
        self._avg = (sum(self._len) / len(self._len)) if self._len else 0.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(documents)
        self._idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def __len__(self) -> int:
        return len(self._tf)

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def score(self, index: int, query: Mapping[str, float]) -> float:
        tf = self._tf[index]
        norm = self._k1 * (
            1 - self._b + self._b * (self._len[index] / self._avg if self._avg else 1)
        )
        total = 0.0
        for term, weight in query.items():
            freq = tf.get(term)
            if not freq:
                continue
            total += weight * self._idf[term] * freq * (self._k1 + 1) / (freq + norm)
        return total

    def search(
        self,
        query: Mapping[str, float],
        k: int,
        *,
        allowed: Sequence[int] | None = None,
        min_score: float = 1e-9,
    ) -> list[Hit]:
        candidates = range(len(self._tf)) if allowed is None else allowed
        hits = [Hit(i, s) for i in candidates if (s := self.score(i, query)) > min_score]
        hits.sort(key=lambda hit: (-round(hit.score, 9), hit.index))
        return hits[:k]
