"""Dense recall of the HNSW passage index against exact search, by build-time breadth
(efConstruction) and search breadth (efSearch), on evals.scale's synthetic collection.

    python -m evals.hnsw_sweep --passages 1000000 --ef-construction 64 96 160 \
        --ef-search 128 256 512 1024 [--hnsw-vectors int8] [--out out/hnsw-sweep]

One graph is built per build-time breadth (with the project's own index.dense.build_faiss) and
searched as the server does (int8 codes re-ranked with the exact vectors). Also printed: the
recall of an exhaustive search of the same int8 codes, re-ranked from 2 x k, which tells the
graph's losses from the codes'. Figures feed the choice of ``hnsw_ef_construction``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.scale import exact_top, synthetic_collection

K = 10


def recall(found: list[list[int]], exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e.tolist())) / exact.shape[1]
                          for f, e in zip(found, exact, strict=True)]))


def sweep(vectors: np.ndarray, queries: np.ndarray, ef_constructions: list[int],
          ef_searches: list[int], hnsw_vectors: str = "int8", hnsw_m: int = 32
          ) -> list[dict[str, Any]]:
    """One row per (build-time breadth, search breadth)."""
    import faiss

    from index.dense import build_faiss, int8_training_sample, reranked, search_faiss

    exact = exact_top(vectors, queries, K)
    rows: list[dict[str, Any]] = []
    if hnsw_vectors == "int8":  # the codes alone, searched exhaustively
        codes = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_8bit,
                                           faiss.METRIC_INNER_PRODUCT)
        codes.train(int8_training_sample(vectors))  # the range build_faiss learns
        codes.add(vectors)
        found = [[i for i, _ in reranked(codes, vectors, q, K)] for q in queries]
        rows.append({"ef_construction": None, "ef_search": None, "recall_at_10": recall(found, exact),
                     "search_ms": None, "build_s": None, "what": "exhaustive int8 codes"})
        del codes
    for efc in ef_constructions:
        started = time.perf_counter()
        index = build_faiss(vectors, 1, hnsw_m, ef_searches[0], hnsw_vectors,  # type: ignore[arg-type]
                            ef_construction=efc)
        build_s = time.perf_counter() - started
        for ef in ef_searches:
            index.hnsw.efSearch = ef
            started = time.perf_counter()
            found = [[i for i, _ in (reranked(index, vectors, q, K) if hnsw_vectors == "int8"
                                     else search_faiss(index, q, K))] for q in queries]
            ms = (time.perf_counter() - started) * 1000 / len(queries)
            rows.append({"ef_construction": efc, "ef_search": ef,
                         "recall_at_10": round(recall(found, exact), 4),
                         "search_ms": round(ms, 2), "build_s": round(build_s, 1), "what": "hnsw"})
            print(json.dumps(rows[-1]), flush=True)
        del index
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, nargs="+", default=[64, 96, 160])
    parser.add_argument("--ef-search", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--hnsw-vectors", choices=("float32", "int8"), default="int8")
    parser.add_argument("--out", type=Path, default=Path("out/hnsw-sweep"))
    args = parser.parse_args(argv)
    c = synthetic_collection(args.passages, args.seed)
    vectors, queries = c["vectors"], c["queries"][:args.queries]
    del c
    rows = sweep(vectors, queries, args.ef_construction, args.ef_search, args.hnsw_vectors,
                 args.hnsw_m)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print("| build breadth | search breadth | recall@10 | ms a search | build s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['ef_construction'] or r['what']} | {r['ef_search'] or '–'} | "
              f"{r['recall_at_10']} | {r['search_ms'] or '–'} | {r['build_s'] or '–'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
