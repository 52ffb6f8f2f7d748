"""`rag bench`: build and query speed, memory, scaling, and the plain LangChain pipeline side by side.

Every figure goes to DIR/bench.json; DIR/bench.md is the readable summary. Timings are wall
clock on this machine; the LangChain baseline runs in the same process and run, so the ratios
hold on a noisy machine.
"""

from __future__ import annotations

import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evals.settings import BenchSettings

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "evals" / "seed_qa_dev.jsonl"


def dev_questions(limit: int = 6) -> list[str]:
    """Stand-alone questions of the collection's dev set (nothing written into the code)."""
    items = [json.loads(x) for x in DEV_SET.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [d["question"] for d in items if not d["history"] and d["answerable"]][:limit]


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50": round(statistics.median(s), 2),
            "p95": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], 2),
            "n": len(s)}


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def cold_build(docs: Path, index_dir: Path, extra: list[str] | None = None) -> dict[str, float]:
    """A full build in a fresh process: wall time and the child's peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "ui.cli", "index", "build", "--full", "--json",
                          "--docs", str(docs), "--index-dir", str(index_dir), *(extra or [])],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = json.loads(out.stdout)
    return {"seconds": round(wall, 2), "build_seconds_in_process": round(report["seconds"], 2),
            "passages": sum(d["passages"] for d in report["documents"]),
            "peak_rss_mb": round(max(peak, before) / 1024, 1)}


def seeds_figures(out: Path, repeat: int) -> dict[str, Any]:
    from index.build import build_index
    from index.embed import Embedder
    from index.search import SearchIndex
    from index.settings import IndexSettings
    from rag.assistant import Assistant
    from rag.settings import RagSettings
    from rag.types import Query

    questions = dev_questions()
    idx_dir = out / "seeds-index"
    figures: dict[str, Any] = {"cold_build": cold_build(ROOT / "seeds", idx_dir)}
    settings = IndexSettings(docs_dir=ROOT / "seeds", index_dir=idx_dir)
    embedder = Embedder.from_settings(settings)
    build_index(settings, full=True, embedder=embedder)  # warm the model
    t = time.perf_counter()
    build_index(settings, full=True, embedder=embedder)
    figures["warm_full_build_seconds"] = round(time.perf_counter() - t, 3)
    assistant = Assistant(RagSettings(index=settings), index=SearchIndex.load(settings),
                          embedder=embedder)
    for q in questions:
        assistant.answer(q)
    qs = (questions * (repeat // len(questions) + 1))[:repeat]
    it = iter(qs * 4)
    figures["query_embedding_ms"] = percentiles(timed(lambda: embedder.encode_query(next(it)), repeat))
    for mode in ("dense", "bm25", "hybrid"):
        it = iter(qs)
        figures[f"retrieve_{mode}_ms"] = percentiles(
            timed(lambda m=mode, it=it: assistant.retriever.search(Query(next(it)), mode=m), repeat))
    it = iter(qs)
    figures["answer_ms"] = percentiles(timed(lambda: assistant.answer(next(it)), repeat))
    figures["embedding_breakdown_ms"] = embedding_breakdown(embedder, repeat)
    figures["langchain"] = langchain_baseline(settings.model_path, repeat, questions)
    ours, lc = figures["retrieve_hybrid_ms"]["p50"], figures["langchain"]["query_ms"]["p50"]
    figures["ratios"] = {
        "answer_p50_vs_langchain_query_p50": round(figures["answer_ms"]["p50"] / lc, 2),
        "hybrid_retrieve_p50_vs_langchain_query_p50": round(ours / lc, 2),
        "warm_build_vs_langchain_build": round(
            figures["warm_full_build_seconds"] / figures["langchain"]["build_seconds"], 2),
    }
    return figures


def embedding_breakdown(embedder: Any, repeat: int) -> dict[str, float]:
    """Where one short query's embedding time goes."""
    import torch

    model = embedder.model
    prepare = getattr(model, "preprocess", None) or model.tokenize
    text = dev_questions(1)[0]
    tok = percentiles(timed(lambda: prepare([text]), repeat))["p50"]
    feats = prepare([text])
    with torch.inference_mode():
        fwd = percentiles(timed(lambda: model.forward(dict(feats)), repeat))["p50"]
    total = percentiles(timed(lambda: embedder.encode_query(text), repeat))["p50"]
    via_encode = percentiles(
        timed(lambda: model.encode([text], normalize_embeddings=True), repeat))["p50"]
    torch_query = percentiles(timed(lambda: model_query(embedder, text), repeat))["p50"]
    ref = model.encode([text], normalize_embeddings=True)[0]
    return {"engine": embedder.query_engine, "tokenize": tok, "forward_and_pool": fwd,
            "encode_query": total, "pytorch_encode_query": torch_query,
            "sentence_transformers_encode": via_encode,
            "speedup_vs_sentence_transformers": round(via_encode / total, 2),
            "cosine_to_pytorch": round(float(ref @ embedder.encode_query(text)), 6)}


def model_query(embedder: Any, text: str) -> Any:
    """The PyTorch query path of the same embedder (the ONNX fallback)."""
    engine, embedder.query_encoder = embedder.query_encoder, "torch"
    try:
        return embedder.encode_query(text)
    finally:
        embedder.query_encoder = engine


def langchain_baseline(model_path: str, repeat: int, questions: list[str]) -> dict[str, Any]:
    """The plain LangChain tutorial pipeline on the same seeds and the same bundled model."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    emb = HuggingFaceEmbeddings(model_name=model_path, encode_kwargs={"normalize_embeddings": True})
    emb.embed_query("warm up")
    t = time.perf_counter()
    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
            for p in sorted((ROOT / "seeds").glob("*.txt"))]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = FAISS.from_documents(chunks, emb)
    build = time.perf_counter() - t
    for q in questions:
        store.similarity_search(q, k=4)
    it = iter((questions * (repeat // len(questions) + 1))[:repeat])
    lat = timed(lambda: store.similarity_search(next(it), k=4), repeat)
    quality = _langchain_dev_quality(store)
    return {"chunks": len(chunks), "build_seconds": round(build, 3), "query_ms": percentiles(lat),
            **quality}


def _langchain_dev_quality(store: Any) -> dict[str, float]:
    from evals.metrics import covers

    items = [json.loads(x) for x in DEV_SET.read_text(encoding="utf-8").splitlines() if x.strip()]
    answerable = [d for d in items if d["answerable"]]
    top4 = top1 = 0
    for d in answerable:
        results = store.similarity_search(d["question"], k=4)
        found = [covers(doc.page_content, d["evidence"]) for doc in results]
        top4 += any(found)
        top1 += bool(found and found[0])
    return {"dev_evidence_hit@4": round(top4 / len(answerable), 3),
            "dev_evidence_hit@1": round(top1 / len(answerable), 3)}


def scaling(out: Path, sizes: list[int], repeat: int, kinds: list[str] | None = None
            ) -> list[dict[str, Any]]:
    """Hybrid search latency (with sentence rescoring), dense recall@10 against exact search
    and serving memory as the passage count grows (synthetic passages and vectors; evals.scale),
    for each choice of HNSW vectors."""
    from evals.scale import measure, plot

    rows = []
    for n in sizes:
        for kind in kinds or ["float32"]:
            rows.append(measure(n, repeat, seed=0, hnsw_vectors=kind))
            r = rows[-1]
            print(f"scaling {n:>7}: {r['dense']:14} hybrid p95 {r['hybrid_p95_ms']} ms, recall@10 "
                  f"{r['dense_recall_at_10']}, serving RSS {r['rss_mb']} MB", flush=True)
    plot(rows, out / "scaling.png")
    return rows


def embedding_throughput(beir: Path, n: int = 512) -> dict[str, Any]:
    """Plain sentence-transformers (fp32, its default batch of 32) against the project's Embedder
    (batch 16, precision auto) on the same BEIR documents (title + text)."""
    from sentence_transformers import SentenceTransformer

    from evals.beir import load_beir
    from index.embed import Embedder
    from index.settings import IndexSettings

    docs, _, _ = load_beir(beir)
    texts = [d.text for d in docs[:n]]
    path = IndexSettings.model_fields["model_path"].default_factory()  # type: ignore[misc]
    plain = SentenceTransformer(path, device="cpu")
    plain.encode(texts[:32])
    t = time.perf_counter()
    base = plain.encode(texts, normalize_embeddings=True)
    plain_rate = n / (time.perf_counter() - t)
    out: dict[str, Any] = {"documents": n, "plain_docs_per_s": round(plain_rate, 1)}
    for engine in ("torch", "onnx"):
        ours = Embedder(path, "auto", IndexSettings.model_fields["batch_size"].default,
                        cache_dir=IndexSettings.model_fields["cache_dir"].default,
                        document_encoder=engine)
        ours._model = plain  # the same weights, loaded once
        ours.encode_documents(texts[:32])
        t = time.perf_counter()
        vecs = ours.encode_documents(texts)
        rate = n / (time.perf_counter() - t)
        cos = (np.asarray(base) * vecs).sum(axis=1)
        key = "ours" if engine == "torch" else "onnx"
        out.update({f"{key}_docs_per_s": round(rate, 1), f"{key}_speedup": round(rate / plain_rate, 2),
                    f"{key}_engine": ours.document_engine, f"{key}_cosine_min": round(float(cos.min()), 6)})
    out["speedup"], out["precision"] = out["ours_speedup"], ours.precision
    out["cosine_min"], out["cosine_mean"] = out["ours_cosine_min"], round(float(cos.mean()), 6)
    return out


def beir_figures(beir: Path, out: Path, repeat: int) -> dict[str, Any]:
    """Cold build of a BEIR corpus (time, passages/s, peak memory) and warm query latency."""
    from evals.beir import load_beir
    from index.settings import IndexSettings

    idx_dir = out / "beir-index"
    # a full build each run: an index left by the last run would only be checked and reused
    # (a few seconds), which is not the build this times
    shutil.rmtree(idx_dir, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ui.cli", "eval-retrieval", "--beir", str(beir),
                    "--out", str(out / "beir-eval"), "--index-dir", str(idx_dir)],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    metrics = json.loads((out / "beir-eval" / "metrics.json").read_text())
    passages = metrics["passages"]
    # the speed issue's yardstick: plain encoding of the same corpus, in a fresh process as the
    # build is (in this one, after the answerer's benchmarks, it took 289 s instead of 155)
    subprocess.run([sys.executable, "-m", "evals.build_speed", "--beir", str(beir), "--plain-only",
                    "--out", str(out / "beir-plain")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    plain = json.loads((out / "beir-plain" / "build_speed.json").read_text())["plain"]
    figures = {"build_seconds": metrics["build_seconds"], "passages": passages,
               "passages_per_second": round(passages / metrics["build_seconds"], 1),
               "peak_rss_mb": round(max(peak, before) / 1024, 1), "eval_total_seconds": round(total, 1),
               "plain_encode_seconds": plain["seconds"],
               "build_vs_plain_encode": round(metrics["build_seconds"] / plain["exact_seconds"], 2),
               "retrieval": metrics["results"]}
    from index.embed import Embedder
    from index.search import SearchIndex
    from rag.assistant import Assistant
    from rag.settings import RagSettings
    from rag.types import Query

    settings = IndexSettings(docs_dir=beir, index_dir=idx_dir, clean=False, title_context=True)
    embedder = Embedder.from_settings(settings)
    assistant = Assistant(RagSettings(index=settings), index=SearchIndex.load(settings),
                          embedder=embedder)
    _, queries, _ = load_beir(beir)
    qs = list(queries.values())[:repeat]
    for mode in ("dense", "bm25", "hybrid"):
        it = iter(qs)
        figures[f"retrieve_{mode}_ms"] = percentiles(
            timed(lambda m=mode, it=it: assistant.retriever.search(Query(next(it)), mode=m), len(qs)))
    it = iter(qs)
    figures["answer_ms"] = percentiles(timed(lambda: assistant.answer(next(it)), len(qs)))
    return figures


def write_markdown(data: dict[str, Any], path: Path) -> None:
    s = data["seeds"]
    lines = ["# Benchmarks", "", f"Machine: {data['machine']}", "",
             "## Seeds", "",
             f"- cold-process full build: {s['cold_build']['seconds']} s "
             f"({s['cold_build']['passages']} passages, peak {s['cold_build']['peak_rss_mb']} MB)",
             f"- warm in-process full build: {s['warm_full_build_seconds']} s", "",
             "| operation | p50 ms | p95 ms |", "|---|---|---|"]
    for key in ("query_embedding_ms", "retrieve_dense_ms", "retrieve_bm25_ms", "retrieve_hybrid_ms",
                "answer_ms"):
        lines.append(f"| {key[:-3]} | {s[key]['p50']} | {s[key]['p95']} |")
    lc = s["langchain"]
    lines += ["", "### Plain LangChain tutorial pipeline, same run", "",
              f"- {lc['chunks']} chunks, build {lc['build_seconds']} s, similarity_search(k=4) "
              f"p50 {lc['query_ms']['p50']} ms, p95 {lc['query_ms']['p95']} ms",
              f"- dev evidence hit@4 {lc['dev_evidence_hit@4']}, hit@1 {lc['dev_evidence_hit@1']}",
              f"- ratios (ours / LangChain): {json.dumps(s['ratios'])}",
              "", "### Query embedding breakdown (ms, p50)", "",
              f"{json.dumps(s['embedding_breakdown_ms'])}"]
    if "scaling" in data:
        from evals.scale import table

        lines += ["", "## Scaling (synthetic passages)", "", "![scaling](scaling.png)", "",
                  *table(data["scaling"])]
    if "beir" in data:
        b = data["beir"]
        lines += ["", "## BEIR corpus", "",
                  f"- build {b['build_seconds']} s, {b['passages']} passages, "
                  f"{b['passages_per_second']} passages/s, peak {b['peak_rss_mb']} MB; "
                  f"{b['build_vs_plain_encode']}x the {b['plain_encode_seconds']} s plain "
                  "sentence-transformers takes to encode the corpus in the same run", "",
                  "| mode | nDCG@10 | Recall@100 | MRR@10 |", "|---|---|---|---|"]
        for mode, m in b["retrieval"].items():
            lines.append(f"| {mode} | {m['ndcg@10']} | {m['recall@100']} | {m['mrr@10']} |")
        lines += ["", "| operation | p50 ms | p95 ms |", "|---|---|---|"]
        for key in ("retrieve_dense_ms", "retrieve_bm25_ms", "retrieve_hybrid_ms", "answer_ms"):
            lines.append(f"| {key[:-3]} | {b[key]['p50']} | {b[key]['p95']} |")
    if "embedding_throughput" in data:
        e = data["embedding_throughput"]
        lines += ["", "## Document embedding throughput", "",
                  f"{e['documents']} BEIR documents: plain sentence-transformers {e['plain_docs_per_s']}/s, "
                  f"this project {e['ours_docs_per_s']}/s ({e['speedup']}x, {e['precision']}), "
                  f"cosine to plain min {e['cosine_min']}; on ONNX Runtime "
                  f"({e.get('onnx_engine', '-')}) {e.get('onnx_docs_per_s', '-')}/s "
                  f"({e.get('onnx_speedup', '-')}x), cosine min {e.get('onnx_cosine_min', '-')}"]
    if "load" in data:
        ld = data["load"]
        lines += ["", "## Load", "",
                  f"One client alone through `POST /api/ask`: {ld['single_answer_ms']} ms per answer; "
                  f"with {ld['cores']} cores the compute alone allows "
                  f"{ld['compute_bound_answers_per_second']} answers/s and a p50 of "
                  f"{ld['compute_bound_p50_ms']} ms under 32 sessions.", "",
                  "| route | sessions × turns | errors | other session | answers/s | p50 ms | p95 ms |",
                  "|---|---|---|---|---|---|---|"]
        for key in ("api", "gradio_client"):
            r = ld[key]
            lines.append(f"| {key} | {r['sessions']} × {r['turns']} | {r['errors']} | {r['mixed']} | "
                         f"{r['answers_per_second']} | {r['latency_ms']['p50']} | "
                         f"{r['latency_ms']['p95']} |")
        lines += ["", f"API throughput {ld['throughput_vs_compute_bound']}× the compute bound, "
                  f"p50 {ld['p50_vs_compute_bound']}× the compute-bound p50."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_bench(settings: BenchSettings) -> int:
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    repeat = 30 if settings.quick else 200
    data: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, "
                                       f"{platform.python_version()}",
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    print("seeds …", flush=True)
    data["seeds"] = seeds_figures(out, repeat)
    print("scaling …", flush=True)
    sizes = settings.scale_sizes[:2] if settings.quick else settings.scale_sizes
    data["scaling"] = scaling(out, sizes, repeat, list(settings.scale_hnsw_vectors))
    if settings.load:
        from evals.load import load_test

        print("load …", flush=True)
        data["load"] = load_test(sessions=32, turns=3)
    if settings.beir:
        print("BEIR corpus (long) …", flush=True)
        data["embedding_throughput"] = embedding_throughput(settings.beir)
        print(f"embedding: {data['embedding_throughput']}", flush=True)
        data["beir"] = beir_figures(settings.beir, out, min(repeat, 300))
    (out / "bench.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    write_markdown(data, out / "bench.md")
    print((out / "bench.md").read_text(encoding="utf-8"))
    return 0
