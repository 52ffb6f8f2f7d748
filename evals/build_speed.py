"""How long a full index build of a BEIR corpus takes against plain sentence-transformers just
encoding the same documents, in one run (the speed issue's build figure), and where the build's
time goes: passage and sentence embedding, the rest.

    python -m evals.build_speed --beir ../shared/benchmarks/beir/scifact --precision fp32 int8

Each build is a full one into its own folder under ``--out`` (one heavy job at a time: the
figures are wall times on a quiet machine). Writes ``build_speed.json`` there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.beir import load_beir
from evals.settings import beir_defaults
from index.embed import Embedder
from index.load import LoadResult
from index.settings import IndexSettings
from index.types import Document


def plain_encode(texts: list[str], model_path: str) -> dict[str, Any]:
    """sentence-transformers as a user would run it: fp32, its default batch of 32."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    model.encode(texts[:32])
    t = time.perf_counter()
    model.encode(texts, normalize_embeddings=True)
    seconds = time.perf_counter() - t
    return {"seconds": round(seconds, 1), "exact_seconds": seconds, "documents": len(texts),
            "documents_per_s": round(len(texts) / seconds, 1)}


class TimedEmbedder(Embedder):
    """The project's Embedder, keeping the time and the number of texts per encode call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[int, float]] = []

    def encode_documents(self, texts: list[str], progress: bool = False,
                         pieces: Any = None) -> np.ndarray:
        t = time.perf_counter()
        out = super().encode_documents(texts, progress, pieces)
        self.calls.append((len(texts), time.perf_counter() - t))
        return out


def timed_build(docs: list[Document], beir: Path, folder: Path, precision: str) -> dict[str, Any]:
    """A full build of ``docs`` with the model loaded and warm (its ONNX export, or int8
    quantisation, made beforehand), timed whole and per embedding call."""
    from index.build import build_index

    defaults = {k: v for k, v in beir_defaults(beir, folder).items() if k in IndexSettings.model_fields}
    settings = IndexSettings(**{**defaults, "index_dir": folder / "index", "precision": precision})
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    embedder = TimedEmbedder.from_settings(settings)
    embedder.encode_documents(["Loaded and warm, as the plain model is before its clock starts."])
    embedder.calls.clear()
    t = time.perf_counter()
    report = build_index(settings, full=True, embedder=embedder, documents=LoadResult(documents=docs))
    seconds = time.perf_counter() - t
    calls = embedder.calls
    passages = calls[0] if calls else (0, 0.0)
    rest = calls[1:]
    return {"precision": precision, "engine": embedder.document_engine,
            "seconds": round(seconds, 3), "exact_seconds": seconds, "passages": passages[0],
            "passage_embedding_s": round(passages[1], 3),
            "sentences": sum(n for n, _ in rest),
            "sentence_embedding_s": round(sum(s for _, s in rest), 3),
            "other_s": round(seconds - sum(s for _, s in calls), 3),
            "reported_seconds": round(report.seconds, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--beir", type=Path, required=True, help="BEIR-layout folder (corpus.jsonl, ...)")
    ap.add_argument("--precision", nargs="+", default=["fp32", "int8"],
                    choices=["fp32", "bf16", "int8"], help="document precisions to build with")
    ap.add_argument("--out", type=Path, default=Path("out/build-speed"), help="folder for the builds")
    ap.add_argument("--limit", type=int, default=0, help="only the first N documents (0: all)")
    ap.add_argument("--plain-only", action="store_true",
                    help="only time plain encoding (what `rag bench` runs in a fresh process)")
    args = ap.parse_args(argv)
    docs, _, _ = load_beir(args.beir)
    if args.limit:
        docs = docs[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = IndexSettings().model_path
    result: dict[str, Any] = {"dataset": str(args.beir), "documents": len(docs)}
    result["plain"] = plain_encode([d.text for d in docs], model_path)
    print(f"plain sentence-transformers: {len(docs)} documents encoded in "
          f"{result['plain']['seconds']} s", flush=True)
    result["builds"] = []
    for precision in [] if args.plain_only else args.precision:
        b = timed_build(docs, args.beir, args.out / precision, precision)
        b["ratio_to_plain"] = round(b.pop("exact_seconds") / result["plain"]["exact_seconds"], 2)
        result["builds"].append(b)
        print(json.dumps(b), flush=True)
    if not args.plain_only:
        result["plain"].pop("exact_seconds")
    (args.out / "build_speed.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out / 'build_speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
