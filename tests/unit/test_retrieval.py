"""Hybrid search over a tiny in-memory index with a stand-in query encoder (no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.bm25 import BM25Index
from index.dense import build_faiss
from index.search import SearchIndex, sentence_keys
from index.types import Passage
from rag.retrieval.hybrid import HybridSearch
from rag.retrieval.rescore import SentenceRescorer
from rag.settings import Fusion, Mode, RetrievalSettings
from rag.types import Query

TEXTS = [
    "Sourdough needs a starter. The starter ferments flour and water for days.",
    "Comets have icy nuclei. Their tails point away from the sun.",
    "The goalkeeper saved a penalty. The club won the cup final.",
    "Sourdough needs a starter. The starter ferments flour and water for many days.",
]
# one axis per topic; the 4th passage repeats the 1st
VECS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.98, 0.2, 0]], dtype=np.float32)


class AxisEncoder:
    """Maps a query to the axis of the topic word it contains."""

    words = {"bread": 0, "sourdough": 0, "comet": 1, "sun": 1, "goal": 2, "cup": 2}

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for i, t in enumerate(texts):
            for w, axis in self.words.items():
                if w in t.lower():
                    out[i, axis] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1
        return out / norms


def make_index(sentence_vectors: bool = False) -> SearchIndex:
    passages = []
    for n, text in enumerate(TEXTS):
        doc = f"doc{n}.txt"
        cut = text.index(". ") + 1
        passages.append(Passage(f"p{n}", doc, text, 0, len(text), f"Doc {n}", "",
                                ((0, cut), (cut + 1, len(text)))))
    vecs = VECS / np.linalg.norm(VECS, axis=1, keepdims=True)
    index = SearchIndex(Path("."), {}, passages, vecs, build_faiss(vecs, ann_threshold=10**6),
                        BM25Index.build(TEXTS))
    if sentence_vectors:
        rows = sentence_keys(passages)
        sv = np.repeat(vecs, 2, axis=0)
        sv[3] = [0, 1, 0]  # second sentence of the comet passage: only about the sun
        flat = [rows[(p.doc_id, s, e)] for p in passages for s, e in p.sentences]
        index.sentence_vectors = sv
        index.flat_rows = np.asarray(flat, dtype=np.int64)
        index.row_offsets = np.arange(0, len(flat), 2, dtype=np.int64)
        index.attach_sentence_index()
    return index


def test_each_mode_finds_the_topic_and_ranks_from_one() -> None:
    search = HybridSearch(make_index(), AxisEncoder(), RetrievalSettings(k=2))
    for mode in Mode:
        hits = search.search(Query("How long do comets keep their tails near the sun?"), mode=mode)
        assert hits[0].passage.doc_id == "doc1.txt", mode
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_near_duplicates_are_dropped_unless_turned_off() -> None:
    q = Query("sourdough starter ferments flour")
    on = HybridSearch(make_index(), AxisEncoder(), RetrievalSettings(k=3))
    docs = [h.passage.doc_id for h in on.search(q)]
    assert ("doc0.txt" in docs) != ("doc3.txt" in docs)
    off = HybridSearch(make_index(), AxisEncoder(), RetrievalSettings(k=3, dedupe=False))
    docs = [h.passage.doc_id for h in off.search(q)]
    assert "doc0.txt" in docs and "doc3.txt" in docs


def test_bad_k_and_mode_are_errors() -> None:
    search = HybridSearch(make_index(), AxisEncoder())
    with pytest.raises(ValueError):
        search.search(Query("comet"), k=0)
    with pytest.raises(ValueError):
        search.search(Query("comet"), mode="nonsense")


def test_weighted_fusion_runs_and_differs_from_rrf_in_scores() -> None:
    q = Query("goal keeper cup")
    rrf = HybridSearch(make_index(), AxisEncoder(), RetrievalSettings(k=3)).search(q)
    weighted = HybridSearch(make_index(), AxisEncoder(),
                            RetrievalSettings(k=3, fusion=Fusion.WEIGHTED)).search(q)
    assert rrf[0].passage.doc_id == weighted[0].passage.doc_id == "doc2.txt"
    assert rrf[0].score != weighted[0].score


def test_sentence_rescoring_mixes_own_and_best_sentence_cosines() -> None:
    index = make_index(sentence_vectors=True)
    vec = AxisEncoder().encode_queries(["sun"])[0]
    found = index.dense_search(vec, 4)
    mixed = dict(SentenceRescorer(index, 0.7).rescore(vec, found, 4))
    own = float(index.vectors[1] @ vec)
    assert mixed[1] == pytest.approx(0.3 * own + 0.7 * 1.0)
    assert dict(SentenceRescorer(index, 0.0).rescore(vec, found, 4)) == dict(found)


def test_context_weighs_into_the_query_vector_and_bm25_terms() -> None:
    search = HybridSearch(make_index(), AxisEncoder())
    plain = search.query_vector(Query("what about it?"))
    with_ctx = search.query_vector(Query("what about it?", context="the comet", context_weight=0.5))
    assert not plain.any() and with_ctx[1] > 0.99
    terms = search.sparse.terms(Query("tails", context="comet tails", context_weight=0.5))
    assert terms.count("tail") == 2 and terms.count("comet") == 1
