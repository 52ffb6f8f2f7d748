"""The hybrid search: dense (rescored by sentences) and BM25, fused, de-duplicated, as Hits."""

from __future__ import annotations

import numpy as np

from index.search import SearchIndex
from rag.retrieval.dedupe import first_distinct
from rag.retrieval.dense import DenseRetriever, QueryEncoder
from rag.retrieval.fusion import Ranking, fuse
from rag.retrieval.rescore import SentenceRescorer
from rag.retrieval.sparse import BM25Retriever
from rag.settings import Fusion, Mode, RetrievalSettings
from rag.types import Hit, Query


class HybridSearch:
    def __init__(self, index: SearchIndex, encoder: QueryEncoder,
                 settings: RetrievalSettings | None = None) -> None:
        self.settings = settings or RetrievalSettings()
        self.index = index
        self.dense = DenseRetriever(index, encoder)
        self.sparse = BM25Retriever(index)
        self.rescorer = SentenceRescorer(index, self.settings.sentence_weight)

    def query_vector(self, query: Query) -> np.ndarray:
        return self.dense.query_vector(query)

    def search(self, query: Query, k: int | None = None, mode: Mode | str | None = None,
               query_vector: np.ndarray | None = None) -> list[Hit]:
        s = self.settings
        k = s.k if k is None else k
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        mode = Mode(mode if mode is not None else s.mode)
        fetch = max(s.fetch_k, k * 4)
        dense: Ranking = []
        sparse: Ranking = []
        if mode in (Mode.DENSE, Mode.HYBRID):
            vec = query_vector if query_vector is not None else self.query_vector(query)
            dense = self.rescorer.rescore(vec, self.dense.search(vec, fetch), fetch)
        if mode in (Mode.BM25, Mode.HYBRID):
            sparse = self.sparse.search(query, fetch)
        if mode is Mode.DENSE:
            fused = dict(dense)
        elif mode is Mode.BM25:
            fused = dict(sparse)
        else:
            fused = fuse(Fusion(s.fusion), dense, sparse, s.rrf_k, s.dense_weight)
        order = sorted(fused, key=lambda i: (-fused[i], i))
        passages = self.index.passages
        if s.dedupe:
            rows = first_distinct(order, {i: passages[i].text for i in order}, k)
        else:
            rows = order[:k]
        return [Hit(passages[i], float(fused[i]), rank) for rank, i in enumerate(rows, 1)]
