"""Fusion of ranked lists, against hand computations."""

from __future__ import annotations

import pytest

from rag.retrieval.fusion import fuse, fuse_rrf, fuse_weighted
from rag.settings import Fusion


def test_rrf_adds_reciprocal_ranks() -> None:
    fused = fuse_rrf([[(1, 9.0), (2, 5.0)], [(2, 0.3), (3, 0.1)]], k0=10)
    assert fused[1] == pytest.approx(1 / 11)
    assert fused[2] == pytest.approx(1 / 12 + 1 / 11)
    assert fused[3] == pytest.approx(1 / 12)
    assert max(fused, key=fused.get) == 2  # in both lists beats first in one


def test_rrf_ignores_score_scales() -> None:
    a = fuse_rrf([[(1, 1000.0), (2, 999.0)], [(2, 0.2), (1, 0.1)]])
    assert a[1] == pytest.approx(a[2])


def test_weighted_fusion_min_max_normalises_each_list() -> None:
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]
    sparse = [(3, 20.0), (2, 10.0)]
    fused = fuse_weighted(dense, sparse, dense_weight=0.25)
    assert fused[1] == pytest.approx(0.25 * 1.0)
    assert fused[2] == pytest.approx(0.25 * 0.5 + 0.75 * 0.0)
    assert fused[3] == pytest.approx(0.25 * 0.0 + 0.75 * 1.0)


def test_weighted_fusion_with_one_empty_list_keeps_the_other_order() -> None:
    fused = fuse_weighted([(4, 3.0), (5, 1.0)], [], 0.5)
    assert fused[4] > fused[5]


def test_fuse_dispatches_on_the_enum_and_rejects_strings() -> None:
    d, s = [(1, 0.9), (2, 0.1)], [(2, 5.0)]
    assert fuse(Fusion.RRF, d, s) == fuse_rrf([d, s])
    assert fuse(Fusion.WEIGHTED, d, s, dense_weight=0.5) == fuse_weighted(d, s, 0.5)
    with pytest.raises(ValueError, match="allowed: rrf, weighted"):
        fuse("borda", d, s)  # type: ignore[arg-type]
