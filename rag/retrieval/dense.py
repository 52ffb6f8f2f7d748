"""Dense retrieval: the question (plus a weighted conversation context) against FAISS."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from index.search import SearchIndex
from rag.retrieval.fusion import Ranking
from rag.types import Query


class QueryEncoder(Protocol):
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


class DenseRetriever:
    def __init__(self, index: SearchIndex, encoder: QueryEncoder) -> None:
        self.index = index
        self.encoder = encoder

    def query_vector(self, query: Query) -> np.ndarray:
        """The question's vector; a follow-up adds its context's vector, weighted, then renormalises."""
        if query.context and query.context_weight > 0:
            q, c = self.encoder.encode_queries([query.text, query.context])
            v = q + query.context_weight * c
            return v / (np.linalg.norm(v) or 1.0)
        return self.encoder.encode_queries([query.text])[0]

    def search(self, vector: np.ndarray, fetch: int) -> Ranking:
        return self.index.dense_search(vector, fetch)
