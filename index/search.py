"""A loaded index: passages, FAISS, BM25 and (optionally) sentence vectors, all checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import BM25Index
from index.bm25_delta import SegmentedBM25
from index.delta import delta_counts, read_delta
from index.dense import build_faiss, kind_of, load_faiss, reranked, search_faiss
from index.embed import model_fingerprint
from index.errors import IndexCorrupt, IndexMismatch, rebuild_hint
from index.rowfile import RowFile, StackedRows
from index.settings import IndexSettings
from index.store import (
    check_compatible,
    live_version,
    load_rows,
    read_manifest,
    read_passages,
    verify_files,
)
from index.types import Passage, indexed_text


def sentence_keys(passages: list[Passage]) -> dict[tuple[str, int, int], int]:
    """Row of each distinct sentence, in order of first appearance (build and load agree)."""
    rows: dict[tuple[str, int, int], int] = {}
    for p in passages:
        for s, e in p.sentences:
            rows.setdefault((p.doc_id, s, e), len(rows))
    return rows


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, offset: int = 0
              ) -> list[tuple[int, float]]:
    """The ``k`` rows of ``vectors`` with the highest inner product with the query, best first
    (ties by row), numbered from ``offset``."""
    k = min(k, len(vectors))
    if k <= 0:
        return []
    sims = vectors @ query.astype(np.float32)
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.lexsort((top, -sims[top]))]
    return [(int(i) + offset, float(sims[i])) for i in top]


def merged(a: list[tuple[int, float]], b: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """The ``k`` best of two lists of (row, score), best first (ties by row)."""
    return sorted(a + b, key=lambda hit: (-hit[1], hit[0]))[:k]


@dataclass
class SearchIndex:
    directory: Path
    manifest: dict[str, Any]
    passages: list[Passage]
    vectors: np.ndarray | RowFile | StackedRows
    dense: Any
    bm25: BM25Index | SegmentedBM25
    # float32 matrices; from a large index's files (index.rowfile: at least ann_threshold
    # rows) only the rows a search asks for are read
    sentence_vectors: np.ndarray | RowFile | StackedRows | None = None
    # each passage's sentence rows, flattened, and where each passage's run starts
    flat_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # FAISS over the sentence vectors (exact, or HNSW above the size threshold), and for each
    # sentence row the passages that hold it (CSR: owners[owner_offsets[r]:owner_offsets[r+1]])
    sentence_dense: Any = None
    # the Milvus store answers dense and BM25 searches itself (index.milvus_store.MilvusSearch)
    engine: Any = None
    owners: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    owner_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    # the delta segment (index.delta): its passages' and sentences' first rows and vectors,
    # searched exactly beside the base's indexes
    delta_start: int = 0
    delta_vectors: np.ndarray | None = None
    delta_sentence_start: int = 0
    delta_sentence_vectors: np.ndarray | None = None
    _rows: dict[str, int] | None = field(default=None, repr=False)  # row of each passage id

    @classmethod
    def load(cls, settings: IndexSettings, verify: bool = True) -> SearchIndex:
        if settings.store == "milvus":
            return cls._load_milvus(settings)
        index_dir = settings.index_dir
        version = live_version(index_dir)
        manifest = read_manifest(version, index_dir)
        check_compatible(
            manifest, model_fingerprint(settings.model_path), settings.chunk_fingerprint(), index_dir
        )
        if verify:
            verify_files(version, manifest, index_dir)
        passages = read_passages(version / "passages.jsonl", index_dir)
        vectors = load_rows(version / "vectors.npy", index_dir, settings.ann_threshold)
        try:
            dense = load_faiss(version / "dense.faiss", settings.hnsw_ef_search)
        except RuntimeError as exc:
            raise IndexCorrupt(f"dense.faiss is unreadable ({exc}).", rebuild_hint(index_dir)) from exc
        try:
            bm25 = BM25Index.load(version / "bm25")
        except IndexMismatch as exc:
            raise IndexMismatch(exc.reason, rebuild_hint(index_dir)) from exc
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"The BM25 index is unreadable ({exc}).", rebuild_hint(index_dir)) from exc
        n = len(passages)
        n_delta, _ = delta_counts(manifest)
        if not (n == manifest["count"] - n_delta == dense.ntotal == bm25.size == len(vectors)):
            raise IndexCorrupt(
                f"The index files disagree on the passage count ({n} passages, "
                f"{dense.ntotal} vectors, {bm25.size} BM25 rows).", rebuild_hint(index_dir)
            )
        sent_vecs: np.ndarray | RowFile | StackedRows | None = None
        if (version / "sentences.npy").is_file():
            sent_vecs = load_rows(version / "sentences.npy", index_dir, settings.ann_threshold)
        delta = read_delta(version, manifest, index_dir)
        if delta is None:
            return cls._assemble(version, manifest, passages, vectors, dense, bm25, sent_vecs,
                                 settings, saved_sentence_index=version / "sentences.faiss")
        # the delta's rows follow the base's (index.delta)
        base_sentences = len(sent_vecs) if sent_vecs is not None else 0
        if (sent_vecs is None) != (delta.sentence_vectors is None):
            raise IndexCorrupt("The index's delta segment and its base disagree on sentence "
                               "vectors.", rebuild_hint(index_dir))
        if sent_vecs is not None:
            sent_vecs = StackedRows([sent_vecs, delta.sentence_vectors])
        index = cls._assemble(version, manifest, passages + delta.passages,
                              StackedRows([vectors, delta.vectors]), dense,
                              SegmentedBM25(bm25, delta.bm25), sent_vecs, settings,
                              saved_sentence_index=version / "sentences.faiss",
                              base_sentences=base_sentences)
        index.delta_start, index.delta_vectors = n, delta.vectors
        index.delta_sentence_start = base_sentences
        index.delta_sentence_vectors = delta.sentence_vectors
        return index

    @classmethod
    def _load_milvus(cls, settings: IndexSettings) -> SearchIndex:
        from index.milvus_store import MilvusSearch, MilvusStore, connect

        label = f"the Milvus store at {settings.milvus_target}"
        store = MilvusStore(connect(settings.milvus_target, settings.milvus_token),
                            settings.milvus_collection)
        version, manifest, passages, vectors, sent_vecs = store.read()
        check_compatible(manifest, model_fingerprint(settings.model_path),
                         settings.chunk_fingerprint(), label)
        # the analyser and term statistics for query analysis and answer features
        bm25 = BM25Index.build([indexed_text(p, settings.title_context) for p in passages])
        index = cls._assemble(Path(f"milvus:{settings.milvus_collection}:{version}"), manifest,
                              passages, vectors, None, bm25, sent_vecs, settings)
        index.engine = MilvusSearch(store.client, f"{settings.milvus_collection}_p_{version}")
        return index

    @classmethod
    def _assemble(cls, version: Path, manifest: dict[str, Any], passages: list[Passage],
                  vectors: np.ndarray | RowFile | StackedRows, dense: Any,
                  bm25: BM25Index | SegmentedBM25,
                  sent_vecs: np.ndarray | RowFile | StackedRows | None,
                  settings: IndexSettings, saved_sentence_index: Path | None = None,
                  base_sentences: int | None = None) -> SearchIndex:
        """The index over ``passages``; ``base_sentences``: how many of the sentence vectors
        the saved sentence index holds (all of them, unless a delta segment follows)."""
        index_dir = settings.index_dir
        rows: dict[tuple[str, int, int], int] = {}
        if sent_vecs is not None:
            rows = sentence_keys(passages)
            if len(rows) != len(sent_vecs):
                raise IndexCorrupt("The sentence vectors do not match the passages.",
                                   rebuild_hint(index_dir))
        flat: list[int] = []
        offsets: list[int] = []
        if rows:
            for p in passages:
                offsets.append(len(flat))
                flat.extend(rows[(p.doc_id, s, e)] for s, e in p.sentences)
        index = cls(version, manifest, passages, vectors, dense, bm25, sent_vecs,
                    np.asarray(flat, dtype=np.int64), np.asarray(offsets, dtype=np.int64))
        del rows  # a tuple per sentence: rebuilt by sentence_row_map() when a build needs it
        if sent_vecs is not None:
            saved = saved_sentence_index
            sent_dense = None
            try:  # an ANN index above the threshold; indexes built before it get one in memory
                if saved is not None and saved.is_file():
                    sent_dense = load_faiss(saved, settings.hnsw_ef_search)
                elif base_sentences is None and len(sent_vecs) >= settings.ann_threshold:
                    sent_dense = build_faiss(sent_vecs, settings.ann_threshold, settings.hnsw_m,
                                             settings.hnsw_ef_search, settings.hnsw_vectors,
                                             settings.hnsw_ef_construction)
            except RuntimeError as exc:
                raise IndexCorrupt(f"sentences.faiss is unreadable ({exc}).",
                                   rebuild_hint(index_dir)) from exc
            in_graph = len(sent_vecs) if base_sentences is None else base_sentences
            if sent_dense is not None and sent_dense.ntotal != in_graph:
                raise IndexCorrupt("sentences.faiss does not match the sentences.",
                                   rebuild_hint(index_dir))
            index.attach_sentence_index(sent_dense)
        return index

    def attach_sentence_index(self, sentence_dense: Any = None) -> None:
        """Find sentences with ``sentence_dense`` (an ANN index; None: exact, with numpy, which
        is faster than FAISS's exact search below the ANN threshold); work out which passages
        hold each sentence."""
        self.sentence_dense = sentence_dense
        n = len(self.sentence_vectors) if self.sentence_vectors is not None else 0
        owner_of_flat = np.repeat(np.arange(len(self.row_offsets), dtype=np.int64),
                                  np.diff(np.append(self.row_offsets, len(self.flat_rows))))
        order = np.argsort(self.flat_rows, kind="stable")
        self.owners = owner_of_flat[order]
        self.owner_offsets = np.concatenate(
            [[0], np.cumsum(np.bincount(self.flat_rows, minlength=n))]).astype(np.int64)

    def dense_search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.engine is not None:
            return self.engine.dense(query_vector, k)
        if kind_of(self.dense) == "hnsw-int8":  # approximate codes: exact scores decide
            found = reranked(self.dense, self.vectors, query_vector, k)
        else:
            found = search_faiss(self.dense, query_vector, k)
        if self.delta_vectors is not None:
            found = merged(found, exact_top(self.delta_vectors, query_vector, k,
                                            self.delta_start), k)
        return found

    def row_of(self, passage_id: str) -> int | None:
        """The row of a passage (by id), or None."""
        if self._rows is None:
            self._rows = {p.id: i for i, p in enumerate(self.passages)}
        return self._rows.get(passage_id)

    def sentence_row_map(self) -> dict[tuple[str, int, int], int]:
        """Row of each sentence vector by (document, start, end): computed on each call (a
        tuple per sentence is too much to keep while serving a large collection)."""
        return sentence_keys(self.passages) if self.sentence_vectors is not None else {}

    @property
    def sentence_count(self) -> int:
        return len(self.sentence_vectors) if self.sentence_vectors is not None else 0

    def bm25_search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        if self.engine is not None:
            return self.engine.bm25(self.bm25.analyze(query) if isinstance(query, str) else query, k)
        return self.bm25.search(query, k)

    def max_sentence_scores(self, query_vector: np.ndarray) -> np.ndarray | None:
        """Per passage, the best cosine of any of its sentences with the query (every
        sentence of the collection: for tests and small collections; see best_sentence_scores)."""
        if self.sentence_vectors is None or not self.passages:
            return None
        sims = self.sentence_vectors @ query_vector
        return np.maximum.reduceat(sims[self.flat_rows], self.row_offsets)

    def sentence_passages(self, query_vector: np.ndarray, k: int) -> np.ndarray:
        """The ``k`` passages holding the sentences closest to the query, best first (through
        the sentence index: the cost grows with k and the index's search, not the collection)."""
        if self.sentence_vectors is None or k <= 0 or not len(self.sentence_vectors):
            return np.zeros(0, dtype=np.int64)
        want = min(3 * k, len(self.sentence_vectors))
        if self.sentence_dense is not None:
            hits = search_faiss(self.sentence_dense, query_vector, want)
            if self.delta_sentence_vectors is not None:
                hits = merged(hits, exact_top(self.delta_sentence_vectors, query_vector, want,
                                              self.delta_sentence_start), want)
            rows = [row for row, _ in hits]
        else:
            rows = [row for row, _ in exact_top(self.sentence_vectors, query_vector, want)]
        out: dict[int, None] = {}
        for row in rows:
            for p in self.owners[self.owner_offsets[row]:self.owner_offsets[row + 1]]:
                out.setdefault(int(p))
            if len(out) >= k:
                break
        return np.fromiter(out, dtype=np.int64, count=len(out))[:k]

    def best_sentence_scores(self, query_vector: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
        """For the passages ``ids`` only, the best cosine of any of their sentences."""
        if self.sentence_vectors is None or not len(ids):
            return None
        starts, ends = self._sentence_spans(ids)
        lengths = ends - starts
        rows = np.concatenate([self.flat_rows[a:b] for a, b in zip(starts, ends, strict=True)])
        sims = self.sentence_vectors[rows] @ query_vector
        return np.maximum.reduceat(sims, np.concatenate([[0], np.cumsum(lengths)[:-1]]))

    def sentence_vectors_of(self, passage: Passage) -> np.ndarray | None:
        """The vectors of a passage's sentences, in order (None: not this index's passage)."""
        row = self.row_of(passage.id)
        if self.sentence_vectors is None or row is None or self.passages[row] != passage:
            return None
        starts, ends = self._sentence_spans(np.array([row]))
        return np.asarray(self.sentence_vectors[self.flat_rows[starts[0]:ends[0]]], dtype=np.float32)

    def _sentence_spans(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the sentence rows of the passages ``ids`` start and end in ``flat_rows``
        (without copying ``row_offsets``: a question's hot path)."""
        starts = self.row_offsets[ids]
        after = ids + 1
        last = len(self.row_offsets) - 1
        ends = np.where(after > last, len(self.flat_rows), self.row_offsets[np.minimum(after, last)])
        return starts, ends

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        return self.manifest["documents"]
