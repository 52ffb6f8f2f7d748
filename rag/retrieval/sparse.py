"""BM25 retrieval with the index's own analyser; a follow-up's context terms count once."""

from __future__ import annotations

from index.search import SearchIndex
from rag.retrieval.fusion import Ranking
from rag.types import Query


class BM25Retriever:
    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    def terms(self, query: Query) -> list[str]:
        analyze = self.index.bm25.analyze
        terms = analyze(query.text)
        if query.context and query.context_weight > 0:
            # the question counts twice, each new context term once
            extra = [t for t in dict.fromkeys(analyze(query.context)) if t not in terms]
            terms = terms + terms + extra
        return terms

    def search(self, query: Query, fetch: int) -> Ranking:
        return self.index.bm25_search(self.terms(query), fetch)
