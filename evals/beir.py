"""`rag eval-retrieval`: nDCG@10, Recall@100 and MRR@10 on a BEIR-layout dataset, through the
project's own index build and retrievers (passages, max-passage per document)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from evals.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from evals.settings import BeirSettings
from index.errors import RagError
from index.load import LoadResult
from index.types import Document, sha256_bytes


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_beir(folder: Path, split: str = "test") -> tuple[list[Document], dict[str, str],
                                                             dict[str, dict[str, int]]]:
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / name).is_file():
            raise RagError(f"{folder / name} is missing: not a BEIR-layout folder")
    docs = []
    for row in read_jsonl(folder / "corpus.jsonl"):
        title, body = (row.get("title") or "").strip(), (row.get("text") or "").strip()
        text = f"{title}\n\n{body}\n" if title else f"{body}\n"
        docs.append(Document(doc_id=str(row["_id"]), path=str(folder / "corpus.jsonl"), text=text,
                             sha256=sha256_bytes(text.encode()), kind="beir", title=title))
    queries = {str(r["_id"]): r["text"] for r in read_jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate((folder / f"qrels/{split}.tsv").read_text().splitlines()):
        parts = line.split("\t")
        if n == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # header
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return docs, {q: queries[q] for q in qrels if q in queries}, qrels


def doc_ranking(hits: list[Any], depth: int = 100) -> list[str]:
    """Documents in order of their best passage."""
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(h.passage.doc_id, None)
        if len(seen) >= depth:
            break
    return list(seen)


def evaluate(retriever: Any, queries: dict[str, str], qrels: dict[str, dict[str, int]],
             mode: str, fetch: int = 300) -> dict[str, float]:
    from rag.types import Query

    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    started = time.perf_counter()
    for qid, text in queries.items():
        ranked = doc_ranking(retriever.search(Query(text), k=fetch, mode=mode))
        totals["ndcg@10"] += ndcg_at_k(ranked, qrels[qid], 10)
        totals["recall@100"] += recall_at_k(ranked, qrels[qid], 100)
        totals["mrr@10"] += mrr_at_k(ranked, qrels[qid], 10)
    n = len(queries) or 1
    out = {k: round(v / n, 4) for k, v in totals.items()}
    out["ms_per_query"] = round((time.perf_counter() - started) * 1000 / n, 2)
    return out


def run_beir(settings: BeirSettings) -> dict[str, Any]:
    from index.build import build_index
    from index.embed import Embedder
    from index.search import SearchIndex
    from rag.retrieval.hybrid import HybridSearch
    from rag.settings import Fusion, Mode

    docs, queries, qrels = load_beir(settings.beir)
    if settings.limit_queries:
        queries = dict(list(queries.items())[: settings.limit_queries])
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    isettings = settings.index
    embedder = Embedder.from_settings(isettings)
    report = build_index(isettings, progress=True, embedder=embedder,
                         documents=LoadResult(documents=docs))
    index = SearchIndex.load(isettings)
    print(f"index: {len(docs)} documents, {len(index.passages)} passages, built in "
          f"{report.seconds:.1f} s ({report.embedded_passages} embedded, {report.precision})")
    results: dict[str, Any] = {}
    fetch = settings.retrieval.fetch_k
    runs = [(Mode.DENSE, Fusion.RRF), (Mode.BM25, Fusion.RRF), (Mode.HYBRID, Fusion.RRF),
            (Mode.HYBRID, Fusion.WEIGHTED)]
    for mode, fusion in runs:
        retrieval = settings.retrieval.model_copy(update={"mode": mode, "fusion": fusion})
        search = HybridSearch(index, embedder, retrieval)
        name = mode.value if mode is not Mode.HYBRID else f"hybrid-{fusion.value}"
        results[name] = evaluate(search, queries, qrels, mode, fetch)
        print(f"{name:16} " + "  ".join(f"{k} {v}" for k, v in results[name].items()), flush=True)
    meta = {"dataset": str(settings.beir), "queries": len(queries), "documents": len(docs),
            "passages": len(index.passages), "precision": report.precision,
            "settings": {"index": isettings.chunk_fingerprint(),
                         "retrieval": json.loads(settings.retrieval.model_dump_json())},
            "build_seconds": round(report.seconds, 1), "results": results}
    (out / "metrics.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    print(f"wrote {out / 'metrics.json'}")
    return meta
