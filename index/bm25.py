"""BM25 over passages (bm25s), English stopwords and Snowball stemming; saved without pickle."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

TOKEN = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


class Analyzer:
    """Lower-case, word tokens of two or more characters, stopwords out, English stems."""

    def __init__(self) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        stop = _stopwords()
        words = [w for w in TOKEN.findall(text.lower()) if w not in stop]
        return self._stemmer.stemWords(words)


class BM25Index:
    """Scores every passage for a query; the index is bm25s's arrays plus its JSON vocabulary."""

    def __init__(self, retriever: object, analyzer: Analyzer) -> None:
        self._r = retriever
        self.analyze = analyzer

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        import logging

        import bm25s
        from bm25s.tokenization import Tokenized

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        analyzer = Analyzer()
        vocab: dict[str, int] = {}
        ids = []
        for text in texts:
            ids.append([vocab.setdefault(t, len(vocab)) for t in analyzer(text)])
        if not vocab:
            vocab[""] = 0
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
        return cls(retriever, analyzer)

    def save(self, directory: Path) -> None:
        self._r.save(str(directory), allow_pickle=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        import bm25s

        retriever = bm25s.BM25.load(str(directory), allow_pickle=False, mmap=False)
        return cls(retriever, Analyzer())

    def nbytes(self) -> int:
        scores = self._r.scores  # type: ignore[attr-defined]
        return int(sum(scores[k].nbytes for k in ("data", "indices", "indptr")))

    @property
    def size(self) -> int:
        return int(self._r.scores["num_docs"])  # type: ignore[attr-defined]

    def scores(self, query: str | list[str]) -> np.ndarray:
        """BM25 score of every passage; a query may be text or analysed terms (repeats weigh)."""
        terms = self.analyze(query) if isinstance(query, str) else query
        vocab = self._r.vocab_dict  # type: ignore[attr-defined]
        ids = [vocab[t] for t in terms if t in vocab]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._r.get_scores_from_ids(ids), dtype=np.float32)  # type: ignore[attr-defined]

    def search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        s = self.scores(query)
        return top_k(s, k, positive_only=True)


def top_k(scores: np.ndarray, k: int, positive_only: bool = False) -> list[tuple[int, float]]:
    k = min(k, len(scores))
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx if not positive_only or scores[i] > 0]


def idf_table(index: BM25Index) -> tuple[dict[str, int], np.ndarray]:
    """The vocabulary and the BM25 idf of each of its terms, from the stored score matrix."""
    r = index._r
    indptr = np.asarray(r.scores["indptr"])  # type: ignore[attr-defined]
    df = np.diff(indptr).astype(np.float64)
    n = float(index.size)
    idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
    return r.vocab_dict, idf  # type: ignore[attr-defined]
