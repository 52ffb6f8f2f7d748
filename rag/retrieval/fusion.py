"""Merging ranked lists: reciprocal rank fusion, or a weighted sum of min-max scores."""

from __future__ import annotations

import numpy as np

from rag.settings import Fusion

Ranking = list[tuple[int, float]]  # (passage row, score), best first


def fuse_rrf(rankings: list[Ranking], k0: int = 60) -> dict[int, float]:
    """Each list adds 1 / (k0 + rank) to every row it ranks (ranks from 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (i, _) in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + 1.0 / (k0 + rank + 1)
    return fused


def _minmax(ranking: Ranking) -> dict[int, float]:
    if not ranking:
        return {}
    vals = np.array([s for _, s in ranking], dtype=np.float64)
    lo, hi = float(vals.min()), float(vals.max())
    span = hi - lo if hi > lo else 1.0
    return {i: (s - lo) / span for i, s in ranking}


def fuse_weighted(dense: Ranking, sparse: Ranking, dense_weight: float) -> dict[int, float]:
    """Convex combination of min-max normalised scores over each list's candidates."""
    d, s = _minmax(dense), _minmax(sparse)
    return {i: dense_weight * d.get(i, 0.0) + (1 - dense_weight) * s.get(i, 0.0)
            for i in set(d) | set(s)}


def fuse(fusion: Fusion, dense: Ranking, sparse: Ranking, rrf_k: int = 60,
         dense_weight: float = 0.5) -> dict[int, float]:
    if fusion is Fusion.RRF:
        return fuse_rrf([dense, sparse], rrf_k)
    if fusion is Fusion.WEIGHTED:
        return fuse_weighted(dense, sparse, dense_weight)
    raise ValueError(f"unknown fusion {fusion!r}; allowed: {', '.join(f.value for f in Fusion)}")
