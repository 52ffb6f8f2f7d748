"""The FAISS index: exact inner product, or HNSW above a size threshold.

HNSW keeps its own copy of every vector: float32 (``hnsw_vectors="float32"``, 1,536 bytes a
vector at 384 dimensions) or 8-bit scalar-quantised codes (``"int8"``, 384 bytes, a per-dimension
range learned from the vectors). With int8 codes the graph search is approximate twice over, so
``SearchIndex.dense_search`` re-ranks a wider candidate list with the exact float32 vectors
(read from ``vectors.npy`` by rows: index.rowfile).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

HnswVectors = Literal["float32", "int8"]
TRAIN_SAMPLE = 200_000  # vectors the int8 range is learned from (a seeded sample)
# defaults of the index settings (index.settings.IndexSettings, where the figures are)
HNSW_M = 32
EF_SEARCH = 512
EF_CONSTRUCTION = 96


def int8_training_sample(vectors: np.ndarray) -> np.ndarray:
    """The rows an 8-bit scalar quantiser learns its per-dimension range from: all of them,
    or a seeded sample of TRAIN_SAMPLE (float32, contiguous)."""
    sample = vectors
    if len(vectors) > TRAIN_SAMPLE:
        pick = np.random.default_rng(0).choice(len(vectors), TRAIN_SAMPLE, replace=False)
        sample = vectors[np.sort(pick)]
    return np.ascontiguousarray(sample, dtype=np.float32)


def build_faiss(vectors: np.ndarray, ann_threshold: int, hnsw_m: int = HNSW_M,
                ef_search: int = EF_SEARCH, hnsw_vectors: HnswVectors = "float32",
                ef_construction: int = EF_CONSTRUCTION):  # noqa: ANN201
    """Exact inner product below ``ann_threshold`` rows, else HNSW with ``hnsw_m`` links per
    node, built with search breadth ``ef_construction`` and searched with ``ef_search``."""
    import faiss

    n, dim = vectors.shape
    if n >= ann_threshold:
        if hnsw_vectors == "int8":
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, hnsw_m,
                                      faiss.METRIC_INNER_PRODUCT)
            index.train(int8_training_sample(vectors))
        else:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    for start in range(0, n, 100_000):  # a float32 copy of a slice at a time, not of all rows
        index.add(np.ascontiguousarray(vectors[start:start + 100_000], dtype=np.float32))
    return index


def extend_faiss(index: object, vectors: np.ndarray, ef_search: int = EF_SEARCH):  # noqa: ANN201
    """A copy of ``index`` with ``vectors`` added after its rows (the original is untouched:
    it may still be serving). int8 codes keep the range learned at the full build, and the
    graph its build-time breadth (FAISS saves it with the index)."""
    import faiss

    out = faiss.clone_index(index)
    if isinstance(out, faiss.IndexHNSW):
        out.hnsw.efSearch = ef_search
    if len(vectors):
        out.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return out


def kind_of(index: object) -> str:
    """``flat-ip``, ``hnsw`` (float32 vectors) or ``hnsw-int8``."""
    import faiss

    if isinstance(index, faiss.IndexHNSWSQ):
        return "hnsw-int8"
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat-ip"


def vectors_of(kind: str) -> HnswVectors | None:
    """What an HNSW index of this kind stores (None: not HNSW)."""
    return {"hnsw": "float32", "hnsw-int8": "int8"}.get(kind)  # type: ignore[return-value]


def save_faiss(index: object, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_faiss(path: Path, ef_search: int = EF_SEARCH):  # noqa: ANN201
    # FAISS and torch share one OpenMP runtime here: limiting FAISS's threads would limit
    # torch's too (measured: query embedding 5.8 -> 10.0 ms), so the defaults stay.
    import faiss

    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = ef_search
    return index


def search_faiss(index: object, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    k = min(k, index.ntotal)  # type: ignore[attr-defined]
    if k <= 0:
        return []
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)  # type: ignore[attr-defined]
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def reranked(index: object, vectors: np.ndarray, query: np.ndarray, k: int,
             widen: int = 2) -> list[tuple[int, float]]:
    """The ``k`` best of the index's ``widen * k`` candidates by exact inner product with the
    float32 ``vectors`` (for quantised indexes: their own scores are approximate)."""
    found = search_faiss(index, query, max(k, widen * k))
    if not found:
        return []
    ids = np.fromiter((i for i, _ in found), dtype=np.int64, count=len(found))
    exact = np.asarray(vectors[ids], dtype=np.float32) @ query.astype(np.float32)
    order = np.lexsort((ids, -exact))[:k]
    return [(int(ids[j]), float(exact[j])) for j in order]
