"""Turning a folder of documents into a persisted hybrid (FAISS + BM25) index, and loading it."""
