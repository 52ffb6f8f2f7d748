"""The scorer's boosted-tree settings, chosen by cross-validation: the training sets' candidates
are collected once (with the out-of-fold reader logits `rag train-answerer` caches), then each
setting is cross-validated by document exactly as `rag train-answerer` does it, and its
held-out figures printed (all sets, and per set).

``python -m evals.scorer_sweep --data ../shared/evals/squad2_dev ../shared/evals/coqa_dev
"evals/seed_qa_dev.jsonl=seeds" --target-false-abstention 0.05 [--out out/sweep.jsonl]``
from the repository root; about 5 minutes a setting on 7,113 questions, after 4 minutes of
collecting (one heavy job at a time). The settings it tries are ``SETTINGS`` below."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from evals.answerer_train import SMALL_TREES, TreeParams, cross_validate, held_out_metrics
from evals.settings import TrainSettings
from evals.train import add_training_args, by_source, gather, to_stderr, train_config, training_settings

# (name, sentence model, answer model); the first is the default, the others move one thing
SETTINGS: tuple[tuple[str, TreeParams, TreeParams], ...] = (
    ("default", TreeParams(), SMALL_TREES),
    ("sentence: 600 trees at half the rate", TreeParams(trees=600, learning_rate=0.03), SMALL_TREES),
    ("sentence: 150 trees", TreeParams(trees=150), SMALL_TREES),
    ("sentence: 63 leaves, depth 10", TreeParams(leaves=63, depth=10), SMALL_TREES),
    ("sentence: 15 leaves, depth 6", TreeParams(leaves=15, depth=6), SMALL_TREES),
    ("sentence: leaves of at least 200", TreeParams(min_leaf=200), SMALL_TREES),
    ("answer: 300 trees at half the rate", TreeParams(), replace(SMALL_TREES, trees=300,
                                                                learning_rate=0.03)),
    ("answer: 7 leaves, depth 3", TreeParams(), replace(SMALL_TREES, leaves=7, depth=3)),
)


def sweep(settings: TrainSettings, names: list[str] | None = None, out: Path | None = None,
          say: Callable[[str], None] = to_stderr) -> list[dict]:
    """Cross-validate each of ``SETTINGS`` (or those in ``names``) on one collection of the
    training candidates; each setting's figures also appended to ``out`` as a JSON line."""
    got = gather(settings, say)
    rows = []
    for name, sentence, answer in SETTINGS:
        if names and name not in names:
            continue
        cfg = train_config(settings, trees=sentence, answer_trees=answer)
        t = time.perf_counter()
        held = cross_validate(got.data, settings.folds, cfg, lambda _: None)
        row = {"setting": name, "sentence": asdict(sentence), "answer": asdict(answer),
               "held_out": held_out_metrics(got.data, held),
               "by_source": by_source(got.data, held), "seconds": round(time.perf_counter() - t, 1)}
        m = row["held_out"]
        say(f"{name}: accuracy {m['accuracy']:.3f}, false abstention {m['false_abstention']:.3f}, "
            f"abstained {m['abstention_recall']:.3f}, {m['answer_words']:.1f} words; "
            + "; ".join(f"{s} {v['accuracy']:.3f}/{v['abstention_recall']:.3f}"
                        for s, v in row["by_source"].items()) + f" ({row['seconds']:.0f} s)")
        rows.append(row)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(ap)
    ap.add_argument("--only", nargs="*", help="run only these settings (by name)")
    ap.add_argument("--out", type=Path, help="append each setting's figures to this JSONL file")
    args = ap.parse_args()
    known = {n for n, _, _ in SETTINGS}
    if args.only and not set(args.only) <= known:
        ap.error(f"unknown settings {sorted(set(args.only) - known)}; known: {sorted(known)}")
    sweep(training_settings(args), args.only, args.out)


if __name__ == "__main__":
    main()
