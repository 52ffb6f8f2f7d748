"""The FAISS index: exact inner product, or HNSW above a size threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def build_faiss(vectors: np.ndarray, ann_threshold: int, hnsw_m: int = 32, ef_search: int = 128):  # noqa: ANN201
    import faiss

    n, dim = vectors.shape
    if n >= ann_threshold:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(40, 2 * hnsw_m)
        index.hnsw.efSearch = ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def extend_faiss(index: object, vectors: np.ndarray, ef_search: int = 128):  # noqa: ANN201
    """A copy of ``index`` with ``vectors`` added after its rows (the original is untouched:
    it may still be serving)."""
    import faiss

    out = faiss.clone_index(index)
    if isinstance(out, faiss.IndexHNSWFlat):
        out.hnsw.efSearch = ef_search
    if len(vectors):
        out.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return out


def kind_of(index: object) -> str:
    import faiss

    return "hnsw" if isinstance(index, faiss.IndexHNSWFlat) else "flat-ip"


def save_faiss(index: object, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_faiss(path: Path, ef_search: int = 128):  # noqa: ANN201
    # FAISS and torch share one OpenMP runtime here: limiting FAISS's threads would limit
    # torch's too (measured: query embedding 5.8 -> 10.0 ms), so the defaults stay.
    import faiss

    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = ef_search
    return index


def search_faiss(index: object, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, index.ntotal)  # type: ignore[attr-defined]
    if k <= 0:
        return []
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)  # type: ignore[attr-defined]
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
