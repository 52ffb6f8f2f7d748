"""The delta segment: documents added to a large index since its base was built.

A version of the index is a base (passages, vectors, HNSW graphs, bm25s: index.store) and,
optionally, a delta in ``delta/``: the added documents' passages, their vectors and sentence
vectors, and their BM25 term counts (index.bm25_delta). An update that only adds documents to
an HNSW index links the base's files into the new version unread and writes only the delta
(index.delta_update), so its cost grows with what was added, not with the collection. A loaded
index puts the delta's rows after the base's and searches them exactly (index.search); a build
that cannot append (a document changed or removed, other HNSW settings, the delta past
IndexSettings.delta_max_passages) merges the delta into the base (index.build).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25_delta import DeltaBM25
from index.errors import IndexCorrupt, rebuild_hint
from index.store import read_passages
from index.types import Passage

DELTA = "delta"


@dataclass
class DeltaSegment:
    passages: list[Passage]
    vectors: np.ndarray
    sentence_vectors: np.ndarray | None
    bm25: DeltaBM25


def delta_counts(manifest: dict[str, Any]) -> tuple[int, int]:
    """Passages and sentence vectors in the version's delta (0, 0 without one)."""
    delta = manifest.get("delta") or {}
    return int(delta.get("count", 0)), int(delta.get("sentences", 0))


def is_delta_file(rel: str) -> bool:
    return rel.startswith(DELTA + "/")


def _matrix(path: Path) -> np.ndarray:
    m = np.load(path, allow_pickle=False)
    if m.ndim != 2 or m.dtype != np.float32:
        raise ValueError(f"{path.name} is not a float32 matrix")
    return m


def read_delta(version: Path, manifest: dict[str, Any], index_dir: Path) -> DeltaSegment | None:
    """The version's delta (in memory: it is small), or None; IndexCorrupt when its files are
    unreadable or disagree with the manifest."""
    n, n_sentences = delta_counts(manifest)
    if not n:
        return None
    folder = Path(version) / DELTA
    passages = read_passages(folder / "passages.jsonl", index_dir)
    try:
        vectors = _matrix(folder / "vectors.npy")
        sentences = (_matrix(folder / "sentences.npy") if (folder / "sentences.npy").is_file()
                     else None)
        bm25 = DeltaBM25.load(folder / "bm25")
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"The index's delta segment is unreadable ({exc}).",
                           rebuild_hint(index_dir)) from exc
    dim = int(manifest["model"]["dimension"])
    if not (len(passages) == n == len(vectors) == bm25.size) or vectors.shape[1] != dim or (
            sentences is not None and (len(sentences) != n_sentences or sentences.shape[1] != dim)):
        raise IndexCorrupt("The index's delta segment disagrees with its manifest.",
                           rebuild_hint(index_dir))
    return DeltaSegment(passages, vectors, sentences, bm25)
