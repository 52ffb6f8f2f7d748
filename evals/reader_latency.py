"""What the reader costs per answer: the seed dev set answered twice with the bundled scorer's
reader in fp32, in dynamic int8, and without it (speed only: the scorer was trained with its
reader). Prints p50/p95 and how many answers int8 changes. ``python -m evals.reader_latency``
from the repository root (one heavy job at a time)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from evals.run_eval import load_items
from rag.assistant import Assistant
from rag.candidates import SENTENCE_FEATURES
from rag.settings import RagSettings


def measure(dataset: Path = Path("evals/seed_qa_dev.jsonl"), repeats: int = 2) -> dict[str, dict]:
    items = load_items(dataset, None, 0)
    base = RagSettings()
    col = SENTENCE_FEATURES.index("reader")
    out: dict[str, dict] = {}
    for name in ("fp32", "int8", "none"):
        answer = base.answer.model_copy(update={"reader_precision": "int8" if name == "int8" else "fp32"})
        a = Assistant(base.model_copy(update={"answer": answer}))
        if name == "none":
            a = a.with_scorer(replace(a.extractive.scorer, reader_file=None))
        a.warm()
        times, texts = [], []
        for rep in range(repeats):
            for it in items:
                started = time.perf_counter()
                text = a.answer(it["question"], it["history"]).text
                times.append((time.perf_counter() - started) * 1000)
                if rep == 0:
                    texts.append(text)
        logits = [[float(c.features[col]) for c in a.candidates(a.prepare(it["question"], it["history"]))]
                  for it in items] if name != "none" else []
        out[name] = {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
                     "texts": texts, "logits": logits}
        print(f"{name}: answer p50 {out[name]['p50']:.1f} ms, p95 {out[name]['p95']:.1f} ms", flush=True)
    same = sum(x == y for x, y in zip(out["fp32"]["texts"], out["int8"]["texts"], strict=True))
    diff = [abs(x - y) for lx, ly in zip(out["fp32"]["logits"], out["int8"]["logits"], strict=True)
            for x, y in zip(lx, ly, strict=True) if np.isfinite(x)]
    print(f"int8 against fp32: {same} of {len(items)} answers the same; reader logits differ by at "
          f"most {max(diff):.2f} (mean {np.mean(diff):.2f})")
    return out


if __name__ == "__main__":
    measure()
