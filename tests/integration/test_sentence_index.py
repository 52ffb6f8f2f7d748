"""Sentence rescoring through the sentence index: the same candidates and scores as scanning
every sentence of the collection, at a cost that does not grow with it."""

from __future__ import annotations

import numpy as np


def full_scan(index, vector: np.ndarray, found: list[tuple[int, float]], fetch: int,  # noqa: ANN001
              weight: float) -> list[tuple[int, float]]:
    """The rescoring as it was: every sentence of the collection scored."""
    best = index.max_sentence_scores(vector)
    by_sentence = np.argsort(-best, kind="stable")[:fetch]
    ids = np.unique(np.concatenate([np.array([i for i, _ in found], dtype=np.int64), by_sentence]))
    mixed = (1 - weight) * (index.vectors[ids] @ vector) + weight * best[ids]
    order = np.lexsort((ids, -mixed))[:fetch]
    return [(int(ids[j]), float(mixed[j])) for j in order]


def test_rescoring_matches_a_full_scan_on_the_dev_questions(assistant, dev_items) -> None:  # noqa: ANN001
    from rag.retrieval.rescore import SentenceRescorer

    index = assistant.index
    assert index.sentence_dense is None  # a small collection: exact sentence search
    weight = assistant.settings.retrieval.sentence_weight
    rescorer = SentenceRescorer(index, weight)
    fetch = 8
    vectors = assistant.embedder.encode_queries([i["question"] for i in dev_items])
    for vector in vectors:
        found = index.dense_search(vector, fetch)
        new = rescorer.rescore(vector, found, fetch)
        old = full_scan(index, vector, found, fetch, weight)
        assert [i for i, _ in new] == [i for i, _ in old]
        assert np.allclose([s for _, s in new], [s for _, s in old], atol=1e-5)


def test_best_sentence_scores_only_for_the_passages_asked(assistant) -> None:  # noqa: ANN001
    index = assistant.index
    vector = assistant.embedder.encode_queries(["When did the talks begin?"])[0]
    every = index.max_sentence_scores(vector)
    ids = np.array([3, 0, len(index.passages) - 1])
    assert np.allclose(index.best_sentence_scores(vector, ids), every[ids], atol=1e-6)
    top = index.sentence_passages(vector, 5)
    assert list(top) == list(np.argsort(-every, kind="stable")[:5]) or np.allclose(
        np.sort(every[top])[::-1], np.sort(every)[::-1][:5], atol=1e-6)  # ties may reorder
