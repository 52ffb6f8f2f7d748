"""How retrieval grows with the collection: synthetic passages from 1k up, measured in one
process. Latency of the hybrid search (dense + sentence rescoring + BM25, fused), recall@10 of
the dense index against exact search, and resident memory.

    python -m evals.scale [--sizes 1000 10000 100000] [--queries 200] [--out out/scale]

Vectors are synthetic but clustered like embeddings (unit vectors around 1,000 topic centres);
texts are random words with a Zipf distribution. Each passage has 3 sentences. Nothing is
embedded, so the figures are the index and search costs alone (quality needs real text: see
`rag eval`). For each size the script also times the previous rescoring, which scanned every
sentence vector of the collection, to show what the sentence index saves.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
SENTENCES = 3


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int, spread: float) -> np.ndarray:
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        v = centres[rng.integers(0, len(centres), m)] + spread * rng.standard_normal(
            (m, centres.shape[1]), dtype=np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def synthetic_index(n: int, seed: int, ann_threshold: int) -> tuple[Any, np.ndarray, list[str]]:
    from index.bm25 import BM25Index
    from index.dense import build_faiss
    from index.search import SearchIndex
    from index.types import Passage

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vocab = np.array([f"w{i}" for i in range(30_000)])
    zipf = 1 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf /= zipf.sum()
    words = vocab[rng.choice(len(vocab), size=(n, 40), p=zipf)]
    texts = [" ".join(row) for row in words]
    passages = []
    for i, text in enumerate(texts):
        cut = [0, 80, 160, len(text)]
        passages.append(Passage(f"p{i}", f"d{i // 10}", text, 0, len(text),
                                sentences=tuple((cut[j], cut[j + 1]) for j in range(SENTENCES))))
    vectors = clustered(rng, centres, n, 0.08)
    sentence_vectors = clustered(rng, centres, n * SENTENCES, 0.08)
    rows = {(p.doc_id, p.id, j): i * SENTENCES + j for i, p in enumerate(passages)
            for j in range(SENTENCES)}
    flat = np.arange(n * SENTENCES, dtype=np.int64)
    offsets = np.arange(0, n * SENTENCES, SENTENCES, dtype=np.int64)
    index = SearchIndex(Path("."), {"documents": {}, "count": n}, passages, vectors,
                        build_faiss(vectors, ann_threshold), BM25Index.build(texts),
                        sentence_vectors, rows, flat, offsets)  # type: ignore[arg-type]
    index.attach_sentence_index(build_faiss(sentence_vectors, ann_threshold)
                                if len(sentence_vectors) >= ann_threshold else None)
    queries = clustered(rng, centres, 1000, 0.1)
    qtexts = [" ".join(vocab[rng.choice(len(vocab), 6, p=zipf)]) for _ in range(1000)]
    return index, queries, qtexts


def measure(n: int, queries: int, seed: int, ann_threshold: int | None = None) -> dict[str, Any]:
    from index.settings import IndexSettings
    from rag.retrieval.hybrid import HybridSearch
    from rag.settings import RetrievalSettings
    from rag.types import Query

    if ann_threshold is None:
        ann_threshold = IndexSettings.model_fields["ann_threshold"].default
    synthetic_index(200, seed, ann_threshold)  # libraries loaded before memory is measured
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    index, qvecs, qtexts = synthetic_index(n, seed, ann_threshold)
    built = time.perf_counter() - started
    held = rss_mb() - base
    search = HybridSearch(index, encoder=None, settings=RetrievalSettings())  # type: ignore[arg-type]
    times, scan_times, recall = [], [], []
    for i in range(queries):
        q, text = qvecs[i], qtexts[i]
        t = time.perf_counter()
        search.search(Query(text), k=5, query_vector=q)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.max_sentence_scores(q)  # what every question paid before the sentence index
        scan_times.append(time.perf_counter() - t)
        exact = np.argsort(-(index.vectors @ q))[:10]
        got = [j for j, _ in index.dense_search(q, 10)]
        recall.append(len(set(got) & set(exact.tolist())) / 10)
    ms = np.array(times) * 1000
    row = {"passages": n, "sentences": n * SENTENCES, "dense": type(index.dense).__name__,
           "hybrid_p50_ms": round(float(np.percentile(ms, 50)), 2),
           "hybrid_p95_ms": round(float(np.percentile(ms, 95)), 2),
           "full_sentence_scan_p50_ms": round(float(np.median(scan_times) * 1000), 2),
           "dense_recall_at_10": round(float(np.mean(recall)), 4),
           "index_memory_mb": round(held, 1), "rss_mb": round(rss_mb(), 1),
           "build_s": round(built, 1)}
    del search, index
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["passages"] for r in rows]
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    ax[0].plot(n, [r["hybrid_p95_ms"] for r in rows], "o-", label="hybrid p95")
    ax[0].plot(n, [r["full_sentence_scan_p50_ms"] for r in rows], "s--", label="full sentence scan p50")
    ax[0].set(xscale="log", yscale="log", xlabel="passages", ylabel="ms", title="latency")
    ax[0].legend()
    ax[1].plot(n, [r["index_memory_mb"] for r in rows], "o-")
    ax[1].set(xscale="log", yscale="log", xlabel="passages", ylabel="MB", title="index memory")
    ax[2].plot(n, [r["dense_recall_at_10"] for r in rows], "o-")
    ax[2].set(xscale="log", xlabel="passages", ylabel="recall@10 vs exact", title="dense recall",
              ylim=(0.8, 1.01))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| passages | dense index | hybrid p50 ms | hybrid p95 ms | full sentence scan p50 ms "
             "| dense recall@10 | index MB | RSS MB | build s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['passages']:,} | {r['dense']} | {r['hybrid_p50_ms']} | "
                     f"{r['hybrid_p95_ms']} | {r['full_sentence_scan_p50_ms']} | "
                     f"{r['dense_recall_at_10']} | {r['index_memory_mb']} | {r['rss_mb']} | "
                     f"{r['build_s']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ann-threshold", type=int, default=None,
                        help="passages from which FAISS uses HNSW (default: the index setting)")
    parser.add_argument("--out", type=Path, default=Path("out/scale"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        rows.append(measure(n, min(args.queries, 1000), args.seed, args.ann_threshold))
        print(table(rows)[-1], flush=True)
    print("\n".join(table(rows)))
    (args.out / "scale.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    plot(rows, args.out / "scale.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
