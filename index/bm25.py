"""BM25 over passages (bm25s), English stopwords and Snowball stemming; saved without pickle.

The query analyser (token pattern, stopword list, stemmer, k1 and b) is saved with the index
as ``analyzer.json`` and queries use the saved one, so an upgrade of bm25s cannot silently
change how an old index is queried; a stemmer that now stems differently is an IndexMismatch.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import IndexMismatch

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
ANALYZER_FILE = "analyzer.json"
# words whose stems fingerprint the stemmer's behaviour (plurals, tenses, derivations)
_PROBE = ("running runs ran connection connected connecting generously happiness studies "
          "studying national nationality organisations organization relational conditional "
          "argued arguing easily fairly caresses ponies cats feed agreed plastered motoring "
          "sing conflated troubled sized hopping tanned falling hissing fizzed failing filing "
          "happy sky triplicate formative formalize electriciti electrical hopeful goodness "
          "revival allowance inference airliner gyroscopic adjustable defensible irritant "
          "replacement adjustment dependent adoption homologou communism activate angulariti "
          "homologous effective bowdlerize probate rate cease controll roll").split()


def _default_stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(set(STOPWORDS_EN))


class Analyzer:
    """Lower-case, word tokens of two or more characters, stopwords out, English stems."""

    def __init__(self, stopwords: list[str] | None = None, token_pattern: str = TOKEN_PATTERN,
                 stemmer: str = "english") -> None:
        import Stemmer

        self.stopwords = sorted(set(stopwords)) if stopwords is not None else _default_stopwords()
        self.token_pattern = token_pattern
        self.stemmer_name = stemmer
        self._stop = frozenset(self.stopwords)
        self._token = re.compile(token_pattern)
        self._stemmer = Stemmer.Stemmer(stemmer)

    def __call__(self, text: str) -> list[str]:
        words = [w for w in self._token.findall(text.lower()) if w not in self._stop]
        return self._stemmer.stemWords(words)

    def stem_check(self) -> str:
        """A hash of the stems of fixed probe words: equal hashes, equal stemming."""
        return hashlib.sha256(" ".join(self._stemmer.stemWords(_PROBE)).encode()).hexdigest()[:16]

    def to_json(self, k1: float, b: float) -> dict[str, Any]:
        return {"lowercase": True, "token_pattern": self.token_pattern, "stopwords": self.stopwords,
                "stemmer": self.stemmer_name, "stem_check": self.stem_check(), "k1": k1, "b": b,
                "versions": {p: _version(p) for p in ("bm25s", "PyStemmer")}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Analyzer:
        """The saved analyser; IndexMismatch when this machine's stemmer stems otherwise."""
        try:
            analyzer = cls(list(data["stopwords"]), str(data["token_pattern"]), str(data["stemmer"]))
        except (KeyError, TypeError, re.error) as exc:  # a missing field or an unknown stemmer
            raise IndexMismatch(f"The saved BM25 analyser is unusable ({exc!r}).") from exc
        if analyzer.stem_check() != data.get("stem_check"):
            saved = (data.get("versions") or {}).get("PyStemmer", "?")
            raise IndexMismatch(
                f"The installed stemmer (PyStemmer {_version('PyStemmer')}) stems differently "
                f"from the one that built the BM25 index (PyStemmer {saved}).")
        return analyzer


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


class BM25Index:
    """Scores every passage for a query; the index is bm25s's arrays plus its JSON vocabulary."""

    def __init__(self, retriever: object, analyzer: Analyzer, k1: float = 1.2, b: float = 0.75,
                 avg_length: float | None = None) -> None:
        self._r = retriever
        self.analyze = analyzer
        self.k1, self.b = k1, b
        # mean analysed length of a passage (None: an index saved before it was recorded);
        # documents added later are scored with it (index.bm25_delta)
        self.avg_length = avg_length

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
        avg = float(np.mean([len(t) for t in ids])) if ids else 0.0
        return cls(retriever, analyzer, k1, b, avg)

    def save(self, directory: Path) -> None:
        self._r.save(str(directory), allow_pickle=False)  # type: ignore[attr-defined]
        data = {**self.analyze.to_json(self.k1, self.b), "avg_length": self.avg_length}
        (Path(directory) / ANALYZER_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        """Load; IndexMismatch when the analyser is missing (an older index) or differs."""
        import bm25s

        path = Path(directory) / ANALYZER_FILE
        if not path.is_file():
            raise IndexMismatch("The BM25 index has no saved analyser (built by an older version).")
        data = json.loads(path.read_text(encoding="utf-8"))
        analyzer = Analyzer.from_json(data)
        # memory-mapped: a query reads only its terms' postings
        retriever = bm25s.BM25.load(str(directory), allow_pickle=False, mmap=True)
        avg = data.get("avg_length")
        return cls(retriever, analyzer, float(data.get("k1", 1.2)), float(data.get("b", 0.75)),
                   float(avg) if avg is not None else None)

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

    def weighted_scores(self, weights: dict[int, float]) -> np.ndarray:
        """BM25 of every passage with each term's stored scores (its column) times a weight:
        index.bm25_delta re-weights the base's idf to the whole collection's."""
        stored = self._r.scores  # type: ignore[attr-defined]
        data, indices, indptr = stored["data"], stored["indices"], stored["indptr"]
        out = np.zeros(self.size, dtype=np.float32)
        for term, w in weights.items():
            a, b = int(indptr[term]), int(indptr[term + 1])
            out[indices[a:b]] += data[a:b] * np.float32(w)  # a column holds each row once
        return out

    def document_frequencies(self) -> tuple[dict[str, int], np.ndarray]:
        """The vocabulary and how many passages hold each of its terms (from the stored score
        matrix, one column per term)."""
        indptr = np.asarray(self._r.scores["indptr"])  # type: ignore[attr-defined]
        return self._r.vocab_dict, np.diff(indptr).astype(np.float64)  # type: ignore[attr-defined]

    def idf_table(self) -> tuple[dict[str, int], np.ndarray]:
        """The vocabulary and the BM25 idf of each of its terms."""
        vocab, df = self.document_frequencies()
        return vocab, bm25_idf(df, float(self.size))


def top_k(scores: np.ndarray, k: int, positive_only: bool = False) -> list[tuple[int, float]]:
    k = min(k, len(scores))
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [(int(i), float(scores[i])) for i in idx if not positive_only or scores[i] > 0]


def bm25_idf(df: np.ndarray, n: float) -> np.ndarray:
    """BM25's idf as bm25s computes it (Lucene's): log(1 + (N - df + 0.5) / (df + 0.5))."""
    return np.log(1.0 + (n - df + 0.5) / (df + 0.5))


def idf_table(index: Any) -> tuple[dict[str, int], np.ndarray]:
    """The vocabulary and the BM25 idf of each of its terms (of a BM25Index, or of one with
    added documents: index.bm25_delta.SegmentedBM25)."""
    return index.idf_table()
