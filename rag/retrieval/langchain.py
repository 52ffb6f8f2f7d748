"""A thin LangChain ``BaseRetriever`` over the hybrid search, for LangChain chains."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.retrieval.hybrid import HybridSearch
from rag.types import Hit, Query


class LangChainRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridSearch

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return [to_langchain(h) for h in self.search.search(Query(query))]


def to_langchain(hit: Hit) -> LCDocument:
    p = hit.passage
    return LCDocument(
        page_content=p.text,
        id=p.id,
        metadata={"passage_id": p.id, "doc_id": p.doc_id, "title": p.title, "author": p.author,
                  "start": p.start, "end": p.end, "score": hit.score, "rank": hit.rank},
    )
