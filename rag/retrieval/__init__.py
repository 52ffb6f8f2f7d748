"""Retrieval in small parts: dense and BM25 retrievers, sentence rescoring, fusion,
de-duplication, the hybrid search that composes them, and a LangChain adapter."""
