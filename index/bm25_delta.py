"""BM25 over the documents added since the base index was built, scored with the statistics
of the whole collection, and the two searched as one (index.delta).

bm25s stores each passage's score per term with the idf and mean length baked in, so adding a
document to it means indexing the whole collection again (18 s at 100,000 passages). The added
passages are kept here instead as term counts, and a query scores them with the collection's
passage count and document frequencies (the base's plus the delta's) and mean length, the
formula bm25s uses. The base's stored scores carry its own idf: a query re-weights each term's
column to the collection's idf, so only their length normalisation keeps the base's mean
length (the delta is at most a tenth of the base: index.delta_update), until a merge rebuilds
them.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from index.bm25 import Analyzer, BM25Index, bm25_idf, top_k

VOCAB_FILE = "vocab.json"
ARRAYS = ("indptr", "docs", "counts", "lengths")


class DeltaBM25:
    """Term counts of a few passages: for each term (a column), the passages holding it and how
    often (``docs``/``counts`` from ``indptr[t]`` to ``indptr[t + 1]``), and each passage's
    analysed length."""

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray, docs: np.ndarray,
                 counts: np.ndarray, lengths: np.ndarray) -> None:
        if (indptr.ndim != 1 or len(indptr) != len(vocab) + 1 or indptr[0] != 0
                or sorted(vocab.values()) != list(range(len(vocab)))
                or len(docs) != len(counts) or indptr[-1] != len(docs)
                or np.any(np.diff(indptr) < 0) or (len(docs) and docs.max() >= len(lengths))):
            raise ValueError("the delta's BM25 arrays disagree with each other")
        self.vocab, self.indptr, self.docs, self.counts = vocab, indptr, docs, counts
        self.lengths = lengths

    @classmethod
    def build(cls, texts: list[str], analyzer: Analyzer) -> DeltaBM25:
        vocab: dict[str, int] = {}
        cells: dict[tuple[int, int], int] = {}
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            terms = analyzer(text)
            lengths[row] = len(terms)
            for t in terms:
                key = (vocab.setdefault(t, len(vocab)), row)
                cells[key] = cells.get(key, 0) + 1
        keys = sorted(cells)
        terms_of = np.fromiter((k[0] for k in keys), dtype=np.int64, count=len(keys))
        docs = np.fromiter((k[1] for k in keys), dtype=np.int64, count=len(keys))
        counts = np.fromiter((cells[k] for k in keys), dtype=np.float32, count=len(keys))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(terms_of, minlength=len(vocab)))])
        return cls(vocab, indptr.astype(np.int64), docs, counts, lengths)

    @property
    def size(self) -> int:
        return len(self.lengths)

    def document_frequencies(self) -> np.ndarray:
        return np.diff(self.indptr).astype(np.float64)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / VOCAB_FILE).write_text(json.dumps(self.vocab, ensure_ascii=False),
                                            encoding="utf-8")
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> DeltaBM25:
        """ValueError or OSError when the files are missing or do not fit together."""
        directory = Path(directory)
        vocab = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        if not isinstance(vocab, dict):
            raise ValueError("the delta's BM25 vocabulary is not a mapping")
        arrays = {n: np.load(directory / f"{n}.npy", allow_pickle=False) for n in ARRAYS}
        return cls(vocab, **arrays)


class SegmentedBM25:
    """The base index and the delta searched as one collection: rows of the delta follow the
    base's. Offers what retrieval and answer features use of a BM25Index."""

    def __init__(self, base: BM25Index, delta: DeltaBM25) -> None:
        self.base, self.delta = base, delta
        self.analyze = base.analyze
        self.k1, self.b = base.k1, base.b
        base_vocab, base_df = base.document_frequencies()
        n = base.size + delta.size
        # terms only the delta holds get ids after the base's (bm25s's vocabulary also holds
        # an empty term with no column, so they start after its highest id)
        first = max(base_vocab.values(), default=-1) + 1
        extra: dict[str, int] = {}
        for t in delta.vocab:
            if t not in base_vocab:
                extra[t] = first + len(extra)
        self._vocab: Mapping[str, int] = ChainMap(base_vocab, extra)  # no copy of the base's
        df = np.zeros(first + len(extra), dtype=np.float64)
        df[: len(base_df)] = base_df
        df_delta = delta.document_frequencies()
        for t, j in delta.vocab.items():
            df[self._vocab[t]] += df_delta[j]
        self._idf = bm25_idf(df, float(n))
        # the base's stored scores carry the idf of the base alone: each term's column is
        # re-weighted to the collection's idf (the mean length stays the base's)
        self._reweight = self._idf[: len(base_df)] / bm25_idf(base_df, float(base.size))
        base_total = (base.avg_length if base.avg_length is not None
                      else float(np.mean(delta.lengths)) if delta.size else 0.0) * base.size
        self.avg_length = (base_total + float(delta.lengths.sum())) / n if n else 0.0

    @property
    def size(self) -> int:
        return self.base.size + self.delta.size

    def idf_table(self) -> tuple[Mapping[str, int], np.ndarray]:
        return self._vocab, self._idf

    def nbytes(self) -> int:
        d = self.delta
        return self.base.nbytes() + sum(int(getattr(d, a).nbytes) for a in ARRAYS)

    def base_scores(self, terms: list[str]) -> np.ndarray:
        """BM25 of the base's passages with the collection's idf."""
        weights: dict[int, float] = {}
        for t in terms:  # a repeated term counts again, as bm25s does
            j = self._vocab.get(t)
            if j is not None and j < len(self._reweight):
                weights[j] = weights.get(j, 0.0) + float(self._reweight[j])
        return self.base.weighted_scores(weights)

    def delta_scores(self, terms: list[str]) -> np.ndarray:
        """BM25 of the delta's passages, with the collection's idf and mean length."""
        d = self.delta
        out = np.zeros(d.size, dtype=np.float32)
        avg = self.avg_length or 1.0
        for t in terms:
            j = d.vocab.get(t)
            if j is None:
                continue
            a, b = d.indptr[j], d.indptr[j + 1]
            docs, tf = d.docs[a:b], d.counts[a:b]
            norm = self.k1 * ((1 - self.b) + self.b * d.lengths[docs] / avg)
            out[docs] += (self._idf[self._vocab[t]] * tf / (norm + tf)).astype(np.float32)
        return out

    def scores(self, query: str | list[str]) -> np.ndarray:
        terms = self.analyze(query) if isinstance(query, str) else query
        return np.concatenate([self.base_scores(terms), self.delta_scores(terms)])

    def search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        return top_k(self.scores(query), k, positive_only=True)
