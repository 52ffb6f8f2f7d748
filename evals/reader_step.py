"""How long one training step of the reader takes on this CPU, in fp32 and in bf16 autocast.

Pairs are cut from a folder of documents (question: the first words of one sentence; second
segment: another sentence and the one before it), so their length is that of real text; the
step time does not depend on what they say. Steps before the first ``--warm`` are not timed.
This is what `rag train-answerer --reader-train-precision auto` decides by: bf16 where the CPU
has AMX tiles. Prints one line per precision and a JSON summary.

    python -m evals.reader_step --docs seeds --steps 100
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from evals.reader_train import Pair, ReaderConfig, train_reader
from evals.train import reader_train_precision
from index.embed import cpu_flags, resolve_precision
from index.load import load_folder
from index.sentences import split_sentences
from index.settings import default_model_path


def sample_pairs(docs: Path, count: int, seed: int = 0) -> list[Pair]:
    """``count`` pairs of real sentences, half labelled right, from the documents in ``docs``."""
    sentences = [d.text[s:e] for d in load_folder(docs).documents
                 for s, e in split_sentences(d.text) if len(d.text[s:e].split()) >= 6]
    if len(sentences) < 3:
        raise SystemExit(f"{docs}: too few sentences to make training pairs from")
    rng = random.Random(seed)
    out = []
    for i in range(count):
        a, b = rng.randrange(len(sentences)), rng.randrange(1, len(sentences))
        question = " ".join(sentences[a].split()[:10]).rstrip(".,;:") + "?"
        out.append(Pair(question, sentences[b], sentences[b - 1], i % 2))
    return out


def step_ms(pairs: list[Pair], model_path: str, precision: str, warm: int, batch: int) -> float:
    """Mean milliseconds per step after the first ``warm`` steps (main checks that the steps
    and ``warm`` are multiples of 50, ``warm`` at least 50 and below the steps)."""
    marks: list[float] = []
    cfg = ReaderConfig(epochs=1.0, batch=batch, train_precision=reader_train_precision(precision),
                       loss="both")
    # train_reader reports every 50 steps: time between the reports, not the model's loading
    train_reader(pairs, model_path, cfg, log=lambda _: marks.append(time.perf_counter()))
    first = warm // 50 - 1  # marks[k] is the report at step 50 * (k + 1)
    return (marks[-1] - marks[first]) / ((len(marks) - 1 - first) * 50) * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=Path("seeds"), help="documents to cut pairs from")
    ap.add_argument("--model-path", default=None, help="base model (default: the bundled MiniLM)")
    ap.add_argument("--steps", type=int, default=100, help="steps per precision (multiple of 50)")
    ap.add_argument("--warm", type=int, default=50, help="steps not timed (a multiple of 50)")
    ap.add_argument("--batch", type=int, default=32, help="pairs per step (training uses 32)")
    args = ap.parse_args(argv)
    if args.steps < 100 or args.steps % 50 or args.warm < 50 or args.warm % 50 or args.warm >= args.steps:
        ap.error("--steps: a multiple of 50, at least 100; --warm: a multiple of 50, at least 50 "
                 "and below --steps")
    model_path = args.model_path or default_model_path()
    pairs = sample_pairs(args.docs, args.steps * args.batch)
    words = sum(len((p.question + " " + p.sentence + " " + p.before).split()) for p in pairs) / len(pairs)
    result: dict[str, object] = {"steps": args.steps, "warm": args.warm, "batch": args.batch,
                                 "words_per_pair": round(words, 1),
                                 "amx": "amx_bf16" in cpu_flags(), "auto": resolve_precision("auto")}
    for precision in ("fp32", "bf16"):
        ms = step_ms(pairs, model_path, precision, args.warm, args.batch)
        result[f"{precision}_ms_per_step"] = round(ms, 1)
        print(f"{precision}: {ms:.1f} ms per step of {args.batch} pairs", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
