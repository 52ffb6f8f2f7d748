"""What the reader costs per answer: the seed dev set answered twice with the bundled scorer,
reading only where its fast stage is unsure (the cascade), always reading (ONNX Runtime fp32
and dynamic int8; bf16 on OpenVINO, else PyTorch traced with oneDNN's fusion), the default
(auto: bf16 where the CPU has AMX, else fp32), and never reading (speed only: that is not a
trained combination). Prints p50/p95,
the share answered unread and how many answers each changes against always reading in fp32.
``python -m evals.reader_latency [--dataset FILE --docs DIR --answerer-path FILE]`` from the
repository root (one heavy job at a time)."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from evals.run_eval import load_items
from rag.assistant import Assistant
from rag.settings import RagSettings

CONFIGS = (  # name, reader precision, cascade, reader at all
    ("always read, fp32", "fp32", False, True),
    ("cascade, fp32", "fp32", True, True),
    ("always read, bf16", "bf16", False, True),
    ("cascade, bf16", "bf16", True, True),
    ("cascade, auto (default)", "auto", True, True),
    ("always read, int8", "int8", False, True),
    ("cascade, int8", "int8", True, True),
    ("never read", "fp32", False, False),
)


def measure(dataset: Path = Path("evals/seed_qa_dev.jsonl"), repeats: int = 2,
            base: RagSettings | None = None, sample: int | None = None) -> dict[str, dict]:
    items = load_items(dataset, sample, 0)
    base = base or RagSettings()
    out: dict[str, dict] = {}
    for name, precision, cascade, reading in CONFIGS:
        answer = base.answer.model_copy(update={"reader_precision": precision, "cascade": cascade})
        a = Assistant(base.model_copy(update={"answer": answer}))
        if not reading:
            a = a.with_scorer(replace(a.extractive.scorer, reader_file=None, fast=None))
        a.warm()
        times, texts, unread = [], [], 0
        for rep in range(repeats):
            for it in items:
                started = time.perf_counter()
                ans = a.answer(it["question"], it["history"])
                times.append((time.perf_counter() - started) * 1000)
                if rep == 0:
                    texts.append(ans.text)
                    unread += ans.reader_used is False
        out[name] = {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
                     "texts": texts, "unread": unread / len(items)}
        same = sum(x == y for x, y in zip(out[CONFIGS[0][0]]["texts"], texts, strict=True))
        print(f"{name}: answer p50 {out[name]['p50']:.1f} ms, p95 {out[name]['p95']:.1f} ms, "
              f"unread {out[name]['unread']:.2f}, {same} of {len(items)} answers as always "
              "reading in fp32", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", type=Path, default=Path("evals/seed_qa_dev.jsonl"))
    ap.add_argument("--docs", type=Path, default=None, help="documents folder (default: seeds)")
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--answerer-path", default="", help="answer scorer JSON (default: the bundled one)")
    args = ap.parse_args()
    base = RagSettings()
    if args.answerer_path:
        base = base.model_copy(update={"answer": base.answer.model_copy(
            update={"answerer_path": args.answerer_path})})
    if args.docs is not None:
        idx = base.index.model_copy(update={"docs_dir": args.docs,
                                            "index_dir": args.index_dir or Path(".rag/latency")})
        from index.build import ensure_index

        ensure_index(idx, progress=True)
        base = base.model_copy(update={"index": idx})
    measure(args.dataset, args.repeats, base, args.sample)


if __name__ == "__main__":
    main()
