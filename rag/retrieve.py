"""Hybrid retrieval (dense + BM25, fused) as a LangChain BaseRetriever with typed hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index.embed import Embedder
from index.search import SearchIndex
from rag.types import Hit


@dataclass(frozen=True)
class Query:
    """What retrieval searches for: the question, and context carried from the history."""

    text: str
    context: str = ""
    context_weight: float = 0.0


def fuse_rrf(rankings: list[list[tuple[int, float]]], k0: int = 60) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (i, _) in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k0 + rank + 1)
    return fused


def fuse_weighted(dense: list[tuple[int, float]], sparse: list[tuple[int, float]],
                  dense_weight: float) -> dict[int, float]:
    """Convex combination of min-max normalised scores over each list's candidates."""
    def norm(ranking: list[tuple[int, float]]) -> dict[int, float]:
        if not ranking:
            return {}
        vals = np.array([s for _, s in ranking], dtype=np.float64)
        lo, hi = float(vals.min()), float(vals.max())
        span = hi - lo if hi > lo else 1.0
        return {i: (s - lo) / span for i, s in ranking}

    d, s = norm(dense), norm(sparse)
    return {i: dense_weight * d.get(i, 0.0) + (1 - dense_weight) * s.get(i, 0.0)
            for i in set(d) | set(s)}


def _tokens(text: str) -> set[str]:
    import re

    return set(re.findall(r"\w+", text.lower()))


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= threshold


class HybridRetriever(BaseRetriever):
    """Dense (FAISS) and BM25 retrieval over one index, fused by RRF or a weighted sum."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any  # SearchIndex
    embedder: Any  # Embedder
    k: int = 5
    mode: str = "hybrid"
    fusion: str = "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.5
    fetch_k: int = 50
    sentence_weight: float = 0.7
    dedupe: bool = True

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [to_langchain(h) for h in self.search(Query(query))]

    def query_vector(self, query: Query) -> np.ndarray:
        emb: Embedder = self.embedder
        if query.context and query.context_weight > 0:
            q, c = emb.encode_queries([query.text, query.context])
            v = q + query.context_weight * c
            return v / (np.linalg.norm(v) or 1.0)
        return emb.encode_query(query.text)

    def bm25_terms(self, query: Query) -> list[str]:
        index: SearchIndex = self.index
        terms = index.bm25.analyze(query.text)
        if query.context and query.context_weight > 0:
            # the question counts twice, each context term once
            extra = [t for t in dict.fromkeys(index.bm25.analyze(query.context)) if t not in terms]
            terms = terms + terms + extra
        return terms

    def _dense(self, vec: np.ndarray, fetch: int) -> list[tuple[int, float]]:
        """FAISS passage search, rescored with the best sentence of each passage.

        A passage's dense score is a mix of its own cosine and its best sentence's cosine, so
        one sentence that matches a question closely is not diluted by its neighbours.
        """
        index: SearchIndex = self.index
        found = index.dense_search(vec, fetch)
        best = index.max_sentence_scores(vec) if self.sentence_weight > 0 else None
        if best is None:
            return found
        w = self.sentence_weight
        # candidates: FAISS's best passages and the passages holding the best sentences
        by_sentence = np.argpartition(-best, min(fetch, len(best) - 1))[:fetch]
        ids = np.unique(np.concatenate([np.array([i for i, _ in found], dtype=np.int64), by_sentence]))
        own = index.vectors[ids] @ vec
        mixed = (1 - w) * own + w * best[ids]
        order = np.lexsort((ids, -mixed))[:fetch]
        return [(int(ids[j]), float(mixed[j])) for j in order]

    def search(self, query: Query, k: int | None = None, mode: str | None = None,
               query_vector: np.ndarray | None = None) -> list[Hit]:
        k = k or self.k
        mode = mode or self.mode
        index: SearchIndex = self.index
        fetch = max(self.fetch_k, k * 4)
        dense: list[tuple[int, float]] = []
        sparse: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            vec = query_vector if query_vector is not None else self.query_vector(query)
            dense = self._dense(vec, fetch)
        if mode in ("bm25", "hybrid"):
            sparse = index.bm25_search(self.bm25_terms(query), fetch)
        if mode == "dense":
            fused = {i: s for i, s in dense}
        elif mode == "bm25":
            fused = {i: s for i, s in sparse}
        elif self.fusion == "weighted":
            fused = fuse_weighted(dense, sparse, self.dense_weight)
        else:
            fused = fuse_rrf([dense, sparse], self.rrf_k)
        d_scores, s_scores = dict(dense), dict(sparse)
        order = sorted(fused, key=lambda i: (-fused[i], i))
        hits: list[Hit] = []
        for i in order:
            p = index.passages[i]
            if self.dedupe and any(near_duplicate(p.text, h.passage.text) for h in hits):
                continue
            hits.append(Hit(p, float(fused[i]), len(hits) + 1, d_scores.get(i), s_scores.get(i)))
            if len(hits) >= k:
                break
        return hits


def to_langchain(hit: Hit) -> LCDocument:
    p = hit.passage
    return LCDocument(
        page_content=p.text,
        id=p.id,
        metadata={"passage_id": p.id, "doc_id": p.doc_id, "title": p.title, "author": p.author,
                  "start": p.start, "end": p.end, "score": hit.score, "rank": hit.rank},
    )
