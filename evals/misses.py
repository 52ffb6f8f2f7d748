"""Where held-out answers go wrong: each answerable question of the training sets, cross-validated
by document as `rag train-answerer` does it (the bundled settings, its cached out-of-fold reader
logits), put in one bin: right; abstained; no candidate sentence holds the answer; one does but
the reader did not read it; the reader read it but another sentence led; or the right sentence
led and the answer still missed (a gold answer the sentence's words do not hold verbatim).

``python -m evals.misses --data ../shared/evals/squad2_dev ../shared/evals/coqa_dev
"evals/seed_qa_dev.jsonl=seeds" --target-false-abstention 0.05`` from the repository root
(about 9 minutes; one heavy job at a time). Prints JSON: the bins per training set."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence

import numpy as np

from evals.answerer_train import Example, HeldOut, cross_validate, held_out_rows
from evals.train import add_training_args, gather, to_stderr, train_config, training_settings
from rag.candidates import SENTENCE_FEATURES

BINS = ("right", "abstained", "no candidate holds the answer", "a candidate holds it, not read",
        "read, another sentence led", "the right sentence led, the answer missed")


def bin_of(e: Example, abstained: bool, right: bool, probs: np.ndarray) -> str:
    """The bin of one answerable question's held-out outcome."""
    if right:
        return BINS[0]
    if abstained:
        return BINS[1]
    if not e.labels.any():
        return BINS[2]
    reader = SENTENCE_FEATURES.index("reader")
    read = [i for i, c in enumerate(e.cands) if not np.isnan(c.features[reader])]
    if not any(e.labels[i] for i in read):
        return BINS[3]
    return BINS[4] if len(probs) and not e.labels[int(np.argmax(probs))] else BINS[5]


def misses(data: Sequence[Example], held: HeldOut) -> dict[str, dict[str, int]]:
    """Per training set (the group's prefix): unanswerable questions abstained and answered, and
    each answerable one in its bin."""
    out: dict[str, Counter] = {}
    for e, (answerable, abstained, right, _), probs in zip(data, held_out_rows(data, held), held.probs,
                                                           strict=True):
        c = out.setdefault(e.group.split("/", 1)[0], Counter())
        if answerable:
            c["answerable"] += 1
            c[bin_of(e, abstained, right, probs)] += 1
        else:
            c["unanswerable"] += 1
            c["unanswerable, abstained" if abstained else "unanswerable, answered"] += 1
    return {k: dict(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(ap)
    settings = training_settings(ap.parse_args())
    got = gather(settings, to_stderr)
    held = cross_validate(got.data, settings.folds, train_config(settings), to_stderr)
    print(json.dumps(misses(got.data, held), indent=1))


if __name__ == "__main__":
    main()
