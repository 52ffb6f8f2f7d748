"""The cascade bound of ``rag train-answerer``: from which best-sentence probability the scorer
trained without the reader answers on its own, so most questions skip the reader's cost.

Both scorers are cross-validated by document on the same folds; every question's held-out
outcome (abstained, right, words) is known for each. The bound is the lowest at which the
mix (the fast scorer's answer where its best sentence reaches the bound, the full one's
elsewhere) keeps held-out accuracy, abstention and false abstention within small margins of
the full scorer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evals.answerer_train import Example, HeldOut, held_out_rows, summarise


def best_probability(held: HeldOut) -> np.ndarray:
    return np.asarray([float(p.max()) if len(p) else 0.0 for p in held.probs])


def choose_bound(data: Sequence[Example], full: HeldOut, fast: HeldOut,
                 max_accuracy_loss: float = 0.005, max_abstention_loss: float = 0.01,
                 max_false_abstention_gain: float = 0.005) -> dict[str, Any]:
    """The lowest bound whose mix stays within the margins of the full scorer (held out). The
    figures it returns are those the bound was chosen on: one number chosen over 7,000
    questions, but not a held-out estimate of its own."""
    if not np.array_equal(full.folds, fast.folds):
        raise ValueError("the two scorers were cross-validated on different folds")
    full_rows, fast_rows = held_out_rows(data, full), held_out_rows(data, fast)
    p1 = best_probability(fast)
    base = summarise(full_rows)
    bounds = sorted({*np.round(np.quantile(p1, np.linspace(0, 1, 201)), 6).tolist(), 1.01})
    curve = []
    chosen: tuple[float, dict[str, float]] | None = None
    for b in bounds:
        skip = p1 >= b
        m = summarise([f if s else r for f, r, s in zip(fast_rows, full_rows, skip, strict=True)])
        curve.append({"min_p1": b, "unread": float(skip.mean()), **{k: m[k] for k in (
            "accuracy", "false_abstention", "abstention_recall", "answer_words")}})
        if chosen is None and (m["accuracy"] >= base["accuracy"] - max_accuracy_loss
                               and m["abstention_recall"] >= base["abstention_recall"] - max_abstention_loss
                               and m["false_abstention"] <= base["false_abstention"]
                               + max_false_abstention_gain):
            chosen = (b, m)
    assert chosen is not None  # 1.01 reads every question: the full scorer itself
    b, m = chosen
    return {"min_p1": float(b), "unread_share": float((p1 >= b).mean()), "held_out": m,
            "full_held_out": base, "margins": {"accuracy": max_accuracy_loss,
                                               "abstention": max_abstention_loss,
                                               "false_abstention": max_false_abstention_gain},
            "curve": curve[:: max(1, len(curve) // 40)]}
