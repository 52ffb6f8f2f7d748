"""A loaded index: passages, FAISS, BM25 and (optionally) sentence vectors, all checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import BM25Index
from index.dense import load_faiss, search_faiss
from index.embed import model_fingerprint
from index.errors import IndexCorrupt, IndexMismatch, rebuild_hint
from index.settings import IndexSettings
from index.store import (
    check_compatible,
    live_version,
    load_array,
    read_manifest,
    read_passages,
    verify_files,
)
from index.types import Passage


def sentence_keys(passages: list[Passage]) -> dict[tuple[str, int, int], int]:
    """Row of each distinct sentence, in order of first appearance (build and load agree)."""
    rows: dict[tuple[str, int, int], int] = {}
    for p in passages:
        for s, e in p.sentences:
            rows.setdefault((p.doc_id, s, e), len(rows))
    return rows


@dataclass
class SearchIndex:
    directory: Path
    manifest: dict[str, Any]
    passages: list[Passage]
    vectors: np.ndarray
    dense: Any
    bm25: BM25Index
    sentence_vectors: np.ndarray | None = None
    sentence_rows: dict[tuple[str, int, int], int] = field(default_factory=dict)
    # each passage's sentence rows, flattened, and where each passage's run starts
    flat_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def load(cls, settings: IndexSettings, verify: bool = True) -> SearchIndex:
        index_dir = settings.index_dir
        version = live_version(index_dir)
        manifest = read_manifest(version, index_dir)
        check_compatible(
            manifest, model_fingerprint(settings.model_path), settings.chunk_fingerprint(), index_dir
        )
        if verify:
            verify_files(version, manifest, index_dir)
        passages = read_passages(version / "passages.jsonl", index_dir)
        vectors = load_array(version / "vectors.npy", index_dir)
        try:
            dense = load_faiss(version / "dense.faiss", settings.hnsw_ef_search)
        except RuntimeError as exc:
            raise IndexCorrupt(f"dense.faiss is unreadable ({exc}). {rebuild_hint(index_dir)}") from exc
        try:
            bm25 = BM25Index.load(version / "bm25")
        except IndexMismatch as exc:
            raise IndexMismatch(f"{exc} {rebuild_hint(index_dir)}") from exc
        except (OSError, ValueError, KeyError) as exc:
            msg = f"The BM25 index is unreadable ({exc}). {rebuild_hint(index_dir)}"
            raise IndexCorrupt(msg) from exc
        n = len(passages)
        if not (n == manifest["count"] == dense.ntotal == bm25.size == len(vectors)):
            raise IndexCorrupt(
                f"The index files disagree on the passage count ({n} passages, "
                f"{dense.ntotal} vectors, {bm25.size} BM25 rows). {rebuild_hint(index_dir)}"
            )
        sent_vecs = None
        rows: dict[tuple[str, int, int], int] = {}
        if (version / "sentences.npy").is_file():
            sent_vecs = load_array(version / "sentences.npy", index_dir)
            rows = sentence_keys(passages)
            if len(rows) != len(sent_vecs):
                raise IndexCorrupt(f"sentences.npy does not match the passages. {rebuild_hint(index_dir)}")
        flat: list[int] = []
        offsets: list[int] = []
        if rows:
            for p in passages:
                offsets.append(len(flat))
                flat.extend(rows[(p.doc_id, s, e)] for s, e in p.sentences)
        return cls(version, manifest, passages, vectors, dense, bm25, sent_vecs, rows,
                   np.asarray(flat, dtype=np.int64), np.asarray(offsets, dtype=np.int64))

    def dense_search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return search_faiss(self.dense, query_vector, k)

    def bm25_search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        return self.bm25.search(query, k)

    def max_sentence_scores(self, query_vector: np.ndarray) -> np.ndarray | None:
        """Per passage, the best cosine of any of its sentences with the query."""
        if self.sentence_vectors is None or not self.passages:
            return None
        sims = self.sentence_vectors @ query_vector
        return np.maximum.reduceat(sims[self.flat_rows], self.row_offsets)

    def sentence_vectors_of(self, passage: Passage) -> np.ndarray | None:
        if self.sentence_vectors is None:
            return None
        rows = [self.sentence_rows.get((passage.doc_id, s, e)) for s, e in passage.sentences]
        if any(r is None for r in rows):
            return None
        return self.sentence_vectors[rows]

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        return self.manifest["documents"]
