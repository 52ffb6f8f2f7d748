"""Which pooling a sentence-transformers config asks for (only mean pooling is exported)."""

from __future__ import annotations

import pytest

from index.onnx_encoder import pooling_mode


@pytest.mark.parametrize(("config", "mode"), [
    ({"embedding_dimension": 384, "pooling_mode": "mean", "include_prompt": True}, "mean"),
    ({"pooling_mode": "cls"}, "cls"),
    ({"word_embedding_dimension": 384, "pooling_mode_cls_token": False,
      "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False}, "mean"),
    ({"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}, None),
    ({}, None),
])
def test_pooling_mode_reads_old_and_new_configs(config: dict, mode: str | None) -> None:
    assert pooling_mode(config) == mode
