"""The scaling benchmark (evals.scale): small synthetic sizes, no model loaded."""

from __future__ import annotations

import numpy as np

from evals.scale import measure, synthetic_index


def test_exact_and_hnsw_indexes_measure_and_keep_recall() -> None:
    flat = measure(2_000, 20, seed=1, ann_threshold=50_000)
    assert flat["dense"] == "IndexFlatIP" and flat["dense_recall_at_10"] == 1.0
    assert flat["hybrid_p95_ms"] >= flat["hybrid_p50_ms"] > 0 and flat["sentences"] == 6_000
    hnsw = measure(2_000, 20, seed=1, ann_threshold=1_000)
    assert hnsw["dense"] == "IndexHNSWFlat" and hnsw["dense_recall_at_10"] >= 0.9
    codes = measure(2_000, 20, seed=1, ann_threshold=1_000, hnsw_vectors="int8")
    assert codes["dense"] == "IndexHNSWSQ" and codes["dense_recall_at_10"] >= 0.9
    # built by one process, served by another from the written files
    assert codes["passages"] == 2_000 and codes["rss_mb"] > codes["index_memory_mb"] > 0


def test_sentence_passages_through_hnsw_find_the_best_sentence_owners() -> None:
    index, queries, _ = synthetic_index(3_000, seed=2, ann_threshold=1_000)
    agree = []
    for q in queries[:20]:
        every = index.max_sentence_scores(q)
        exact = set(np.argsort(-every)[:10].tolist())
        agree.append(len(exact & set(index.sentence_passages(q, 10).tolist())) / 10)
    assert np.mean(agree) >= 0.9


def test_hnsw_sweep_reports_recall_by_build_and_search_breadth() -> None:
    from evals.hnsw_sweep import sweep
    from evals.scale import exact_top, synthetic_collection

    c = synthetic_collection(3_000, 3)
    rows = sweep(c["vectors"], c["queries"][:30], [8, 64], [10, 128])
    codes, *graphs = rows
    assert codes["what"] == "exhaustive int8 codes" and codes["recall_at_10"] >= 0.95
    assert [(r["ef_construction"], r["ef_search"]) for r in graphs] == [(8, 10), (8, 128),
                                                                         (64, 10), (64, 128)]
    assert all(0 <= r["recall_at_10"] <= 1 and r["build_s"] >= 0 for r in graphs)
    # a wider search of the better-built graph finds more of the exact neighbours
    assert graphs[3]["recall_at_10"] > graphs[0]["recall_at_10"]
    top = exact_top(c["vectors"], c["queries"][:2])
    assert np.array_equal(top[0], np.argsort(-(c["vectors"] @ c["queries"][0]))[:10])
