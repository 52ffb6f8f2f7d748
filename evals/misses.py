"""Where held-out answers go wrong: each answerable question of the training sets, cross-validated
by document as `rag train-answerer` does it (the training command's settings, its cached out-of-fold reader
logits), put in one bin: right; abstained; no candidate sentence holds the answer; one does but
the reader did not read it; the reader read it but another sentence led; or the right sentence
led and the answer still missed (a gold answer the sentence's words do not hold verbatim).

``python -m evals.misses --data ../shared/evals/squad2_dev ../shared/evals/coqa_dev
"evals/seed_qa_dev.jsonl=seeds" --target-false-abstention 0.05`` from the repository root
(about 9 minutes; one heavy job at a time). Prints JSON: the bins per training set, and for
the questions where the reader read a right sentence but another led, how often the reader
itself preferred the one that led and how often the two share a passage, with ``--examples N``
of them drawn at random (seeded); and each set's accuracy and abstention where the threshold
allows 5, 10 and 20% false abstention on its held-out answerable questions."""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from collections.abc import Sequence

import numpy as np

from evals.answerer_train import Example, HeldOut, cross_validate, held_out_rows, outcome, summarise
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


Row = tuple[bool, bool, bool, int]


def misses(data: Sequence[Example], held: HeldOut,
           rows: Sequence[Row] | None = None) -> dict[str, dict[str, int]]:
    """Per training set (the group's prefix): unanswerable questions abstained and answered, and
    each answerable one in its bin. ``rows``: held_out_rows(data, held), when already computed."""
    out: dict[str, Counter] = {}
    rows = held_out_rows(data, held) if rows is None else rows
    for e, (answerable, abstained, right, _), probs in zip(data, rows, held.probs, strict=True):
        c = out.setdefault(e.source, Counter())
        if answerable:
            c["answerable"] += 1
            c[bin_of(e, abstained, right, probs)] += 1
        else:
            c["unanswerable"] += 1
            c["unanswerable, abstained" if abstained else "unanswerable, answered"] += 1
    return {k: dict(v) for k, v in out.items()}


def outranked(data: Sequence[Example], held: HeldOut, examples: int = 0, seed: int = 0,
              rows: Sequence[Row] | None = None) -> dict[str, dict[str, object]]:
    """Per training set, the answerable questions whose right sentence the reader read while
    another led: how many, in how many the reader's own logit was higher for the one that led,
    in how many the two share a passage, and ``examples`` of them (seeded draw). ``rows`` as
    for misses."""
    reader = SENTENCE_FEATURES.index("reader")
    found: dict[str, list[dict[str, object]]] = {}
    preferred: Counter = Counter()
    rows = held_out_rows(data, held) if rows is None else rows
    for e, (answerable, abstained, right, _), probs in zip(data, rows, held.probs, strict=True):
        if not answerable or bin_of(e, abstained, right, probs) != BINS[4]:
            continue
        led = e.cands[int(np.argmax(probs))]
        best = max(np.flatnonzero(e.labels), key=lambda i: probs[i])
        good = e.cands[int(best)]
        # on the logits themselves, not the rounded ones shown; an unread sentence's logit is
        # NaN, and NaN > x is False: counted as not preferred
        preferred[e.source] += bool(led.features[reader] > good.features[reader])
        found.setdefault(e.source, []).append({
            "question": e.item.get("question", ""), "asked": e.query or e.asked,
            "answers": list(e.item.get("answers", []))[:3],
            "led": led.text, "led_probability": round(float(np.max(probs)), 3),
            "led_reader": round(float(led.features[reader]), 2),
            "right": good.text, "right_probability": round(float(probs[int(best)]), 3),
            "right_reader": round(float(good.features[reader]), 2),
            "same_passage": led.hit.passage.id == good.hit.passage.id})
    out: dict[str, dict[str, object]] = {}
    for name, seen in found.items():
        drawn = random.Random(seed).sample(seen, min(examples, len(seen)))
        out[name] = {"questions": len(seen), "reader preferred the one that led": preferred[name],
                     "same passage": sum(bool(r["same_passage"]) for r in seen), "examples": drawn}
    return out


def operating_points(data: Sequence[Example], held: HeldOut,
                     budgets: Sequence[float] = (0.05, 0.10, 0.20)) -> dict[str, list[dict[str, float]]]:
    """Per training set, for each false-abstention budget: one threshold over the held-out answer
    probabilities, the highest below which at most that share of the set's answerable
    questions fall, and the accuracy, false abstention and abstention on unanswerable questions
    it gives (each question answered with its own fold's policy; a question without candidates
    is refused whatever the threshold, so false abstention can pass the budget by those). The
    threshold is set on the held-out questions themselves, so these are the curve's points, a
    little better than a threshold chosen beforehand (answering's, from inner folds) would do."""
    sets: dict[str, list[int]] = {}
    for i, e in enumerate(data):
        sets.setdefault(e.source, []).append(i)
    out: dict[str, list[dict[str, float]]] = {}
    for name, idx in sets.items():
        answerable = [i for i in idx if data[i].answerable]
        if not answerable:
            continue
        pa = np.sort(held.answer_proba[answerable])
        rows = []
        for budget in budgets:
            t = float(pa[int(np.floor(budget * len(pa)))]) if budget < 1 else float("inf")
            m = summarise([(data[i].answerable,
                            *outcome(data[i], held.probs[i], float(held.answer_proba[i]), t,
                                     held.policies[int(held.folds[i])], held.shape)) for i in idx])
            rows.append({"budget": budget, "threshold": round(t, 4), "accuracy": round(m["accuracy"], 4),
                         "false_abstention": round(m["false_abstention"], 4),
                         "abstention": round(m["abstention_recall"], 4)})
        out[name] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_training_args(ap)
    ap.add_argument("--examples", type=int, default=0, metavar="N",
                    help="also print N outranked questions of each set, drawn at random (seeded)")
    args = ap.parse_args()
    if args.examples < 0:
        raise SystemExit("--examples must be 0 or more")
    settings = training_settings(args)
    got = gather(settings, to_stderr)
    held = cross_validate(got.data, settings.folds, train_config(settings), to_stderr)
    rows = held_out_rows(got.data, held)
    print(json.dumps({"bins": misses(got.data, held, rows),
                      "outranked": outranked(got.data, held, args.examples, settings.seed, rows),
                      "operating_points": operating_points(got.data, held)}, indent=1))


if __name__ == "__main__":
    main()
