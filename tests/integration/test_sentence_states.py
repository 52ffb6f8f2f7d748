"""evals.sentence_states on the seed index and dev set: both ways of getting sentence vectors
rank the evidence sentence of its passage first for most questions."""

from __future__ import annotations

import numpy as np

from evals.sentence_states import compare, state_vectors


def test_token_state_sentence_vectors_against_sentences_alone(seed_index, embedder, dev_items) -> None:  # noqa: ANN001
    items = [d for d in dev_items if d.get("answerable") and d.get("evidence") and d.get("docs")]
    got = compare(seed_index, embedder, items)
    assert got["n"] >= 10
    assert got["alone_share"] >= 0.5 and got["states_share"] >= 0.4
    p = next(p for p in seed_index.passages if len(p.sentences) >= 3)
    vecs = state_vectors(embedder._onnx_encoder(), p)
    assert vecs.shape == (len(p.sentences), seed_index.vectors.shape[1])
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vecs[0], vecs[1])  # each sentence its own span
