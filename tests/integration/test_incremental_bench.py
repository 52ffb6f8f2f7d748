"""The incremental-update benchmark (evals.incremental) on a tiny collection: the update goes to
the delta segment, and with ``real_update`` its embedding is the real model's, timed as a step."""

from __future__ import annotations

from evals.incremental import measure


def test_the_update_is_timed_with_the_real_model_and_goes_to_the_delta() -> None:
    # a threshold this low puts the base in HNSW indexes, so the update (10 passages, within a
    # tenth of the base) takes the delta path
    graph = {"ann_threshold": 5, "hnsw_m": 8, "hnsw_ef_construction": 16}
    stand_in = measure(200, 10, full_rebuild=False, merge=False, real_embedding=False, graph=graph)
    real = measure(200, 10, full_rebuild=False, merge=False, real_embedding=False, graph=graph,
                   real_update=True)
    for row in (stand_in, real):
        assert row["dense_kind"].startswith("hnsw") and row["delta_passages"] == row["passages_added"] > 0
        assert row["reused_passages"] == row["passages_before"]
    assert (stand_in["update_embedding"], real["update_embedding"]) == ("stand-in", "model")
    assert stand_in["model_load_s"] is None and real["model_load_s"] > 0
    step = "embedding (the model with --real-update, else stand-in)"
    # the model embeds the same added text far slower than the stand-in draws random vectors
    assert real["update"][step] > 5 * stand_in["update"][step] > 0
