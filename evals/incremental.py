"""What adding documents to a large collection costs: a synthetic collection of N passages is
built once, then ``rag index build`` (index.build.build_index) adds documents holding about
1,000 more passages (to the delta segment: index.delta), then merges them into the base, and
the time of every step is printed, beside a full rebuild of the same collection, with what the
index's searches cost with the delta and after the merge.

    python -m evals.incremental [--passages 100000] [--add 1000] [--no-full-rebuild]

The documents are real files in a temporary folder, split, cleaned, hashed and indexed by the
project's own build. Only the embedding model is replaced, for the whole collection, by random
unit vectors (embedding 100,000 passages and their sentences takes hours on this CPU): the
figures are the index's own costs. What embedding the added passages costs with the real model
is measured separately, on the same texts, and printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from index.embed import Embedder

PARAGRAPHS = 10  # per document; each paragraph of 3 sentences makes about one passage


class RandomEmbedder(Embedder):
    """Unit vectors from a seeded generator, instead of the model (benchmark only)."""

    def __init__(self, model_path: str, seed: int = 7) -> None:
        super().__init__(model_path, "fp32")
        self.rng = np.random.default_rng(seed)

    @property
    def dimension(self) -> int:
        return 384

    def encode_documents(self, texts: list[str], progress: bool = False,
                         pieces: object = None) -> np.ndarray:
        v = self.rng.standard_normal((len(texts), self.dimension), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def write_documents(folder: Path, first: int, count: int, seed: int) -> None:
    """``count`` documents of PARAGRAPHS paragraphs of 3 sentences of made-up words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnoprstuvw"))
    vocab = ["".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(20_000)]
    zipf = 1 / np.arange(1, len(vocab) + 1) ** 1.1
    zipf /= zipf.sum()
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(first, first + count):
        words = rng.choice(len(vocab), size=(PARAGRAPHS, 3, 14), p=zipf)
        paras = [" ".join(" ".join(vocab[w] for w in s).capitalize() + "." for s in para)
                 for para in words]
        path = folder / f"doc{d:07d}.txt"
        path.write_text(f"Document {d}\n\n" + "\n\n".join(paras), encoding="utf-8")
        old = time.time_ns() - 3600 * 10**9  # written an hour ago, as a collection's files are
        os.utime(path, ns=(old, old))


def timed_build(settings: Any, embedder: Embedder, full: bool = False,
                profile: bool = True) -> tuple[Any, dict[str, float]]:
    """build_index with the time of each step (from its report and a profile of the call). The
    profiler slows Python-heavy steps (reading the folder, writing the manifest) several times
    over; ``profile=False`` times the wall alone."""
    import cProfile
    import pstats

    from index.build import build_index

    if not profile:
        started = time.perf_counter()
        report = build_index(settings, full=full, embedder=embedder)
        return report, {"wall": time.perf_counter() - started}
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    report = build_index(settings, full=full, embedder=embedder)
    prof.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(prof)
    steps = {"wall": wall}
    wanted = {"live_manifest": "read the live manifest",
              "load_folder": "read and hash the files", "_previous": "load and verify the live index",
              "link": "link the base's files into the new version",
              "clean_document": "clean", "split_document": "split",
              "_fill_new_vectors": "embed passages (stand-in)",
              "_sentence_vectors": "sentence vectors (stand-in embedding)",
              "encode_documents": "embedding (the model with --real-update, else stand-in)",
              "build_faiss": "FAISS indexes", "extend_faiss": "FAISS indexes, extended",
              "build": "BM25", "write_passages": "write passages", "write_array": "write vectors",
              "publish": "publish (hash, manifest, switch)"}
    for (_file, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if name in wanted:
            label = wanted[name]
            if name == "build" and "bm25" not in _file:
                continue
            steps[label] = steps.get(label, 0.0) + row[3]  # cumulative time
    return report, steps


def real_embedding_seconds(settings: Any, folder: Path) -> dict[str, float]:
    """The real model embedding the added documents' passages and sentences, as a build would,
    beside plain sentence-transformers ``encode`` (its defaults) of the same passages and of the
    same passages and sentences: the model's own floor for the added text."""
    from index.build import clean_document, split_document
    from index.load import load_folder
    from index.split import token_counter

    docs = load_folder(folder, settings.max_file_bytes).documents
    count = token_counter(settings.model_path)
    passages = [p for d in docs
                for p in split_document(d, clean_document(d, settings.clean), count, settings)]
    sentences = list({(p.doc_id, s, e): p.text[s - p.start : e - p.start]
                      for p in passages for s, e in p.sentences}.values())
    from sentence_transformers import SentenceTransformer

    embedder = Embedder.from_settings(settings)
    embedder.encode_documents(["warm up"])
    started = time.perf_counter()
    embedder.encode_documents([p.text for p in passages])
    embedder.encode_documents(sentences)
    build = time.perf_counter() - started
    plain = SentenceTransformer(settings.model_path, device="cpu")
    plain.encode(["warm up"])
    started = time.perf_counter()
    plain.encode([p.text for p in passages])
    plain_passages = time.perf_counter() - started
    plain.encode(sentences)
    plain_all = time.perf_counter() - started
    return {"build_embedder_s": round(build, 1), "plain_passages_s": round(plain_passages, 1),
            "plain_passages_and_sentences_s": round(plain_all, 1),
            "passages": len(passages), "sentences": len(sentences)}


def search_ms(settings: Any, queries: int = 300, seed: int = 11) -> dict[str, float]:
    """Median milliseconds of the index's own searches (dense, sentences, BM25) for random
    query vectors and three-word queries from the collection's words."""
    from index.search import SearchIndex

    index = SearchIndex.load(settings, verify=False)
    rng = np.random.default_rng(seed)
    # bm25s's vocabulary holds an empty term with no column of scores: not a query term
    vocab = [t for t in index.bm25.idf_table()[0] if t]
    times: dict[str, list[float]] = {"dense": [], "sentences": [], "bm25": []}
    for _ in range(queries):
        v = rng.standard_normal(384).astype(np.float32)
        v /= np.linalg.norm(v)
        terms = [vocab[i] for i in rng.integers(0, len(vocab), 3)]
        for name, call in (("dense", lambda: index.dense_search(v, 50)),  # noqa: B023
                           ("sentences", lambda: index.sentence_passages(v, 50)),  # noqa: B023
                           ("bm25", lambda: index.bm25_search(terms, 50))):  # noqa: B023
            started = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: round(float(np.median(t)), 2) for name, t in times.items()}


def delta_search_ms(sizes: list[int], queries: int = 300, seed: int = 3) -> dict[int, float]:
    """Median milliseconds of the exact searches a delta of each size adds to a question: its
    passages (top 50) and their sentences (3 a passage, top 150), random unit vectors."""
    from index.search import exact_top

    rng = np.random.default_rng(seed)
    out = {}
    for n in sizes:
        passages = rng.standard_normal((n, 384), dtype=np.float32)
        sentences = rng.standard_normal((3 * n, 384), dtype=np.float32)
        times = []
        for _ in range(queries):
            q = rng.standard_normal(384, dtype=np.float32)
            started = time.perf_counter()
            exact_top(passages, q, 50)
            exact_top(sentences, q, 150)
            times.append((time.perf_counter() - started) * 1000)
        out[n] = round(float(np.median(times)), 2)
    return out


def measure(passages: int, add: int, seed: int = 7, full_rebuild: bool = True,
            hnsw_vectors: str = "float32", keep: Path | None = None, merge: bool = True,
            real_embedding: bool = True, graph: dict[str, int] | None = None,
            real_update: bool = False, profile: bool = True) -> dict[str, Any]:
    """Build, add documents (to the delta segment), merge the delta into the base (the update
    with no delta: the HNSW graphs extended, everything else written whole), and optionally
    rebuild everything; the searches' cost with the delta and after the merge.
    ``real_update``: the update embeds the added documents with the real model (loaded and
    warmed before it is timed), as a user's ``rag index build`` does; the base keeps its
    stand-in vectors."""
    from index.settings import IndexSettings

    if keep is not None and keep.exists():
        raise SystemExit(f"{keep} exists: --keep wants a new folder")
    work = keep or Path(tempfile.mkdtemp(prefix="rag-incremental-"))
    try:
        docs, extra = work / "docs", work / "extra"
        write_documents(docs, 0, max(1, passages // PARAGRAPHS), seed)
        write_documents(extra, 10**6, max(1, add // PARAGRAPHS), seed + 1)
        settings = IndexSettings(docs_dir=docs, index_dir=work / "index", cache_dir=work / "cache",
                                 delta_max_passages=max(add * 2, 1), hnsw_vectors=hnsw_vectors,
                                 **(graph or {}))
        embedder = RandomEmbedder(settings.model_path, seed)
        first, base_steps = timed_build(settings, embedder, full=True)
        for f in extra.iterdir():
            shutil.copy(f, docs / f.name)
        update_embedder: Embedder = embedder
        model_load_s = None
        if real_update:
            started = time.perf_counter()
            update_embedder = Embedder.from_settings(settings)
            update_embedder.encode_documents(["warm up"])
            model_load_s = round(time.perf_counter() - started, 2)
        update, steps = timed_build(settings, update_embedder, profile=profile)
        row: dict[str, Any] = {
            "update_embedding": "model" if real_update else "stand-in", "model_load_s": model_load_s,
            "passages_before": sum(d.passages for d in first.documents),
            "passages_added": update.embedded_passages, "reused_passages": update.reused_passages,
            "delta_passages": update.delta_passages, "dense_kind": update.dense_kind,
            "graph": graph or {}, "first_build": base_steps, "update": steps,
            "search_ms_with_delta": search_ms(settings)}
        if merge:
            merged, row["merge"] = timed_build(
                settings.model_copy(update={"delta_max_passages": 0}), embedder)
            row["merge_extended"] = merged.extended
            row["search_ms_merged"] = search_ms(settings)
        if full_rebuild:
            row["full_rebuild"] = timed_build(settings, embedder, full=True)[1]
        if real_embedding:
            row["real_embedding_of_added"] = real_embedding_seconds(settings, extra)
        return row
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--add", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("out/incremental"))
    parser.add_argument("--no-full-rebuild", action="store_true",
                        help="skip the full rebuild (an hour or more at a million passages)")
    parser.add_argument("--hnsw-vectors", choices=("float32", "int8"), default="float32",
                        help="vectors inside the HNSW indexes (int8: a million passages' setting)")
    parser.add_argument("--no-merge", action="store_true", help="skip the merge")
    parser.add_argument("--no-real-embedding", action="store_true",
                        help="skip embedding the added documents with the real model")
    parser.add_argument("--real-update", action="store_true",
                        help="the update embeds the added documents with the real model (the "
                        "base keeps stand-in vectors), so its time is what a user waits")
    parser.add_argument("--no-profile", action="store_true",
                        help="time the update's wall alone: the profiler that splits it into "
                        "steps slows its Python-heavy steps several times over")
    parser.add_argument("--hnsw-m", type=int, default=None,
                        help="HNSW links (default: the setting's); the update does not read the "
                        "graphs, so a cheaper graph times the same update")
    parser.add_argument("--hnsw-ef-construction", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this new folder and keep it (documents and index)")
    parser.add_argument("--delta-sizes", type=int, nargs="*", default=[1_000, 5_000, 10_000],
                        help="delta sizes whose exact search cost is printed")
    parser.add_argument("--delta-search-only", action="store_true",
                        help="print only the delta search cost (seconds, not a build)")
    args = parser.parse_args(argv)
    if args.delta_search_only:
        for n, ms in delta_search_ms(args.delta_sizes).items():
            print(f"a delta of {n:,} passages adds {ms} ms to a question's searches")
        return 0
    row = measure(args.passages, args.add, args.seed, full_rebuild=not args.no_full_rebuild,
                  hnsw_vectors=args.hnsw_vectors, keep=args.keep, merge=not args.no_merge,
                  real_embedding=not args.no_real_embedding, real_update=args.real_update,
                  profile=not args.no_profile,
                  graph={k: v for k, v in (("hnsw_m", args.hnsw_m),
                                           ("hnsw_ef_construction", args.hnsw_ef_construction))
                         if v is not None})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "incremental.json").write_text(json.dumps(row, indent=2), encoding="utf-8")
    print(f"{row['passages_before']:,} passages, {row['passages_added']:,} added "
          f"({row['reused_passages']:,} reused, {row['delta_passages']:,} in the delta), "
          f"dense index {row['dense_kind']}")
    if row["graph"]:
        print(f"HNSW graphs built with {row['graph']}")
    if row["model_load_s"] is not None:
        print(f"the update embeds with the real model (loaded and warmed beforehand in "
              f"{row['model_load_s']} s, not counted below)")
    columns = [c for c in ("update", "merge", "full_rebuild") if c in row]
    print("| step | " + " | ".join(f"{c.replace('_', ' ')} s" for c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for step in dict.fromkeys(s for c in columns for s in row[c]):
        print(f"| {step} | " + " | ".join(f"{row[c].get(step, 0.0):.1f}" for c in columns) + " |")
    print("search ms (median): with the delta "
          + ", ".join(f"{k} {v}" for k, v in row["search_ms_with_delta"].items())
          + ("; merged " + ", ".join(f"{k} {v}" for k, v in row["search_ms_merged"].items())
             if "search_ms_merged" in row else ""))
    for n, ms in delta_search_ms(args.delta_sizes).items():
        print(f"a delta of {n:,} passages adds {ms} ms to a question's searches")
    if "real_embedding_of_added" in row:
        e = row["real_embedding_of_added"]
        print(f"real model embedding of the {e['passages']:,} added passages and their "
              f"{e['sentences']:,} sentences, as the build does: {e['build_embedder_s']} s; plain "
              f"sentence-transformers encode: passages {e['plain_passages_s']} s, passages and "
              f"sentences {e['plain_passages_and_sentences_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
