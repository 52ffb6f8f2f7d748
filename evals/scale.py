"""How retrieval grows with the collection: synthetic passages from 1k up.

    python -m evals.scale [--sizes 1000 10000 100000] [--hnsw-vectors float32|int8]
                          [--queries 200] [--out out/scale]

Each size is built by one process and written through the project's own index writer (FAISS,
sentence index, BM25, passages, manifest), then served by a fresh process that loads it the way
``rag serve`` does (``SearchIndex.load``: large vector files read by rows) and measures the
hybrid search (dense + sentence index + BM25, fused, with sentence rescoring), recall@10 of the
dense index against exact search, and the serving process's resident memory.

Vectors are synthetic but clustered like embeddings (unit vectors around 1,000 topic centres);
texts are random words with a Zipf distribution. Each passage has 3 sentences. Nothing is
embedded, so the figures are the index and search costs alone (quality needs real text: see
`rag eval`). The serving process also times the rescoring of old, which scanned every sentence
vector of the collection, to show what the sentence index saves (after memory is read: the scan
brings every sentence vector into memory).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
SENTENCES = 3
QUERIES = 1000  # query vectors made (and searched exactly) per size: --queries takes at most these
SCAN_QUERIES = 20  # the old full scan reads every sentence vector: a few queries tell its cost


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def anon_mb() -> float:
    """Resident memory the process owns (RSS less file pages mapped from the index's files,
    which the kernel can drop and read again; Linux)."""
    import psutil

    info = psutil.Process().memory_info()
    return (info.rss - getattr(info, "shared", 0)) / 2**20


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int, spread: float) -> np.ndarray:
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        v = centres[rng.integers(0, len(centres), m)] + spread * rng.standard_normal(
            (m, centres.shape[1]), dtype=np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def synthetic_collection(n: int, seed: int) -> dict[str, Any]:
    """Passages, their texts, passage and sentence vectors, query vectors and query texts."""
    from index.types import Passage

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vocab = np.array([f"w{i}" for i in range(30_000)])
    zipf = 1 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf /= zipf.sum()
    texts: list[str] = []
    for start in range(0, n, 100_000):
        words = vocab[rng.choice(len(vocab), size=(min(100_000, n - start), 40), p=zipf)]
        texts.extend(" ".join(row) for row in words)
    passages = []
    for i, text in enumerate(texts):  # 10 passages a document, each at its own offset
        at = (i % 10) * 1_000
        cut = [at, at + 80, at + 160, at + len(text)]
        passages.append(Passage(f"p{i}", f"d{i // 10}", text, at, at + len(text),
                                sentences=tuple((cut[j], cut[j + 1]) for j in range(SENTENCES))))
    return {"passages": passages, "texts": texts,
            "vectors": clustered(rng, centres, n, 0.08),
            "sentence_vectors": clustered(rng, centres, n * SENTENCES, 0.08),
            "queries": clustered(rng, centres, QUERIES, 0.1),
            "qtexts": [" ".join(vocab[rng.choice(len(vocab), 6, p=zipf)]) for _ in range(QUERIES)]}


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Each query's k best rows by inner product, best first (exact search)."""
    out = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):  # 50 queries at a time: at 1M passages 200 MB
        sims = queries[start:start + 50] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start:start + 50] = np.take_along_axis(top, order, axis=1)
    return out


def synthetic_index(n: int, seed: int, ann_threshold: int, hnsw_vectors: str = "float32"
                    ) -> tuple[Any, np.ndarray, list[str]]:
    """The collection as an in-memory SearchIndex (for tests), its query vectors and texts."""
    from index.bm25 import BM25Index
    from index.dense import build_faiss
    from index.search import SearchIndex

    c = synthetic_collection(n, seed)
    flat = np.arange(n * SENTENCES, dtype=np.int64)
    offsets = np.arange(0, n * SENTENCES, SENTENCES, dtype=np.int64)
    index = SearchIndex(Path("."), {"documents": {}, "count": n}, c["passages"], c["vectors"],
                        build_faiss(c["vectors"], ann_threshold, hnsw_vectors=hnsw_vectors),
                        BM25Index.build(c["texts"]), c["sentence_vectors"], flat, offsets)
    sv = c["sentence_vectors"]
    index.attach_sentence_index(build_faiss(sv, ann_threshold, hnsw_vectors=hnsw_vectors)
                                if len(sv) >= ann_threshold else None)
    return index, c["queries"], c["qtexts"]


def _settings(folder: Path, ann_threshold: int, hnsw_vectors: str) -> Any:
    from index.settings import IndexSettings

    return IndexSettings(index_dir=folder / "index", ann_threshold=ann_threshold,
                         hnsw_vectors=hnsw_vectors)  # type: ignore[arg-type]


def build(folder: Path, n: int, seed: int, ann_threshold: int, hnsw_vectors: str) -> dict[str, Any]:
    """Write the synthetic collection as an index version in ``folder`` (with the queries and
    their exact top 10), through the project's writer."""
    from types import SimpleNamespace

    from index.build import BuildReport, write_version
    from index.embed import model_fingerprint

    settings = _settings(folder, ann_threshold, hnsw_vectors)
    c = synthetic_collection(n, seed)
    started = time.perf_counter()
    report = BuildReport(settings.index_dir)
    kind = write_version(settings, c["passages"], c["vectors"], c["sentence_vectors"], {},
                         model_fingerprint(settings.model_path), SimpleNamespace(precision="fp32"),
                         report)
    seconds = time.perf_counter() - started
    exact = exact_top(c["vectors"], c["queries"])
    np.save(folder / "queries.npy", c["queries"], allow_pickle=False)
    np.save(folder / "exact.npy", exact, allow_pickle=False)
    (folder / "qtexts.json").write_text(json.dumps(c["qtexts"]), encoding="utf-8")
    return {"build_s": round(seconds, 1), "kind": kind}


def serve(folder: Path, queries: int, ann_threshold: int, hnsw_vectors: str) -> dict[str, Any]:
    """Load the index as a server does and measure it (run in a fresh process)."""
    import bm25s  # noqa: F401  (the libraries' own memory is not the index's)
    import faiss  # noqa: F401

    from index.search import SearchIndex
    from rag.retrieval.hybrid import HybridSearch
    from rag.settings import RetrievalSettings
    from rag.types import Query

    qvecs = np.load(folder / "queries.npy")
    exact = np.load(folder / "exact.npy")
    qtexts = json.loads((folder / "qtexts.json").read_text(encoding="utf-8"))
    base = rss_mb()
    started = time.perf_counter()
    index = SearchIndex.load(_settings(folder, ann_threshold, hnsw_vectors), verify=False)
    load_s = time.perf_counter() - started
    search = HybridSearch(index, encoder=None, settings=RetrievalSettings())  # type: ignore[arg-type]
    times, recall = [], []
    for i in range(queries):
        q, text = qvecs[i], qtexts[i]
        t = time.perf_counter()
        search.search(Query(text), k=5, query_vector=q)
        times.append(time.perf_counter() - t)
        got = [j for j, _ in index.dense_search(q, 10)]
        recall.append(len(set(got) & set(exact[i].tolist())) / 10)
    rss, anon = rss_mb(), anon_mb()
    scan_times = []
    for i in range(min(queries, SCAN_QUERIES)):
        t = time.perf_counter()
        index.max_sentence_scores(qvecs[i])  # what every question paid before the sentence index
        scan_times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    n = len(index.passages)
    return {"passages": n, "sentences": index.sentence_count,
            "dense": type(index.dense).__name__,
            "hybrid_p50_ms": round(float(np.percentile(ms, 50)), 2),
            "hybrid_p95_ms": round(float(np.percentile(ms, 95)), 2),
            "full_sentence_scan_p50_ms": round(float(np.median(scan_times) * 1000), 2),
            "dense_recall_at_10": round(float(np.mean(recall)), 4),
            "index_memory_mb": round(rss - base, 1), "rss_mb": round(rss, 1),
            "anon_mb": round(anon, 1),
            "load_s": round(load_s, 1)}


def _child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "evals.scale", *args], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"evals.scale {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(n: int, queries: int, seed: int, ann_threshold: int | None = None,
            hnsw_vectors: str = "float32", keep: Path | None = None) -> dict[str, Any]:
    """Build ``n`` synthetic passages in one process, serve them from another; one table row."""
    from index.settings import IndexSettings

    if ann_threshold is None:
        ann_threshold = IndexSettings.model_fields["ann_threshold"].default
    folder = Path(tempfile.mkdtemp(prefix="rag-scale-", dir=keep))
    common = ["--dir", str(folder), "--ann-threshold", str(ann_threshold),
              "--hnsw-vectors", hnsw_vectors]
    try:
        built = _child(["--build-one", str(n), "--seed", str(seed), *common])
        row = _child(["--serve-one", "--queries", str(min(queries, QUERIES)), *common])
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return {**row, "hnsw_vectors": hnsw_vectors, "build_s": built["build_s"]}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    for kind in sorted({r.get("hnsw_vectors", "float32") for r in rows}):
        part = [r for r in rows if r.get("hnsw_vectors", "float32") == kind]
        n = [r["passages"] for r in part]
        ax[0].plot(n, [r["hybrid_p95_ms"] for r in part], "o-", label=f"hybrid p95 ({kind})")
        ax[1].plot(n, [r["rss_mb"] for r in part], "o-", label=f"serving RSS ({kind})")
        ax[2].plot(n, [r["dense_recall_at_10"] for r in part], "o-", label=kind)
    ax[0].set(xscale="log", yscale="log", xlabel="passages", ylabel="ms", title="latency")
    ax[1].set(xscale="log", yscale="log", xlabel="passages", ylabel="MB", title="memory")
    ax[2].set(xscale="log", xlabel="passages", ylabel="recall@10 vs exact", title="dense recall",
              ylim=(0.8, 1.01))
    for a in ax:
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| passages | dense index | HNSW vectors | hybrid p50 ms | hybrid p95 ms "
             "| full sentence scan p50 ms | dense recall@10 | serving RSS MB | of it owned MB "
             "| index MB | load s | build s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['passages']:,} | {r['dense']} | {r.get('hnsw_vectors', 'float32')} | "
                     f"{r['hybrid_p50_ms']} | {r['hybrid_p95_ms']} | "
                     f"{r['full_sentence_scan_p50_ms']} | {r['dense_recall_at_10']} | "
                     f"{r['rss_mb']} | {r.get('anon_mb', '–')} | {r['index_memory_mb']} | "
                     f"{r['load_s']} | {r['build_s']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ann-threshold", type=int, default=None,
                        help="passages from which FAISS uses HNSW (default: the index setting)")
    parser.add_argument("--hnsw-vectors", choices=("float32", "int8"), nargs="+",
                        default=["float32"], help="what HNSW indexes store (one row per choice)")
    parser.add_argument("--out", type=Path, default=Path("out/scale"))
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build_one or args.serve_one:  # a child process of measure()
        kind = args.hnsw_vectors[0]
        row = (build(args.dir, args.build_one, args.seed, args.ann_threshold, kind) if args.build_one
               else serve(args.dir, args.queries, args.ann_threshold, kind))
        print(json.dumps(row))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        for kind in args.hnsw_vectors:
            rows.append(measure(n, args.queries, args.seed, args.ann_threshold, kind))
            print(table(rows)[-1], flush=True)
    print("\n".join(table(rows)))
    (args.out / "scale.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    plot(rows, args.out / "scale.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
