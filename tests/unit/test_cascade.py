"""The cascade bound (evals.cascade) on made-up held-out outcomes."""

from __future__ import annotations

import numpy as np

from evals.answerer_train import Example, HeldOut, held_out_rows
from evals.cascade import choose_bound
from index.types import Passage
from rag.candidates import SENTENCE_FEATURES, Candidate
from rag.extractive import Shape
from rag.types import Hit

RIGHT, WRONG = "The bridge opened in 1932.", "The river is wide."
LOOSE = Shape()  # no cosine gate: the made-up candidates' features are all zero


def example(answerable: bool) -> Example:
    text = f"{RIGHT} {WRONG}"
    p = Passage("p", "d.txt", text, 0, len(text), "", "", ((0, len(RIGHT)), (len(RIGHT) + 1, len(text))))
    hit = Hit(p, 1.0, 1)
    f = np.zeros(len(SENTENCE_FEATURES), dtype=np.float32)
    cands = [Candidate(hit, 0, len(RIGHT), RIGHT, f), Candidate(hit, len(RIGHT) + 1, len(text), WRONG, f)]
    item = {"answerable": answerable, "answers": ["1932"] if answerable else [], "question": "When?"}
    return Example(item, "d", cands, np.array([answerable, False]))


def held(probs: list[tuple[float, float]], pa: list[float]) -> HeldOut:
    return HeldOut([np.array(p) for p in probs], np.array(pa), [0.5], [{"second_ratio": 1.01}],
                   np.zeros(len(pa), dtype=np.int64), LOOSE)


def test_outcomes_follow_the_policy() -> None:
    data = [example(True), example(True), example(False)]
    rows = held_out_rows(data, held([(0.9, 0.1), (0.2, 0.8), (0.7, 0.1)], [0.9, 0.9, 0.2]))
    assert rows[0] == (True, False, True, 5)    # answered with the right sentence
    assert rows[1][:3] == (True, False, False)  # answered with the wrong one
    assert rows[2] == (False, True, False, 0)   # abstained


def test_the_bound_skips_the_reader_only_where_the_fast_stage_holds_up() -> None:
    # the fast stage is right where it is sure (0.95) and wrong where it is not (0.55); the
    # full scorer is right everywhere
    data = [example(True) for _ in range(10)]
    fast = held([(0.95, 0.1)] * 6 + [(0.1, 0.55)] * 4, [0.9] * 10)
    full = held([(0.9, 0.1)] * 10, [0.9] * 10)
    out = choose_bound(data, full, fast)
    assert 0.55 < out["min_p1"] <= 0.95
    assert out["unread_share"] == 0.6
    assert out["held_out"]["accuracy"] == out["full_held_out"]["accuracy"] == 1.0


def test_a_fast_stage_that_is_never_good_enough_is_never_used() -> None:
    data = [example(True) for _ in range(4)]
    fast = held([(0.1, 0.9)] * 4, [0.9] * 4)  # sure, and wrong
    full = held([(0.9, 0.1)] * 4, [0.9] * 4)
    out = choose_bound(data, full, fast)
    assert out["unread_share"] == 0.0 and out["min_p1"] > 0.9


def test_held_out_words_ignore_folds_without_items() -> None:
    """A set of two documents fills two of five folds; the empty folds used to count as answers
    of 0 words in the mean."""
    from evals.answerer_train import held_out_metrics

    data = [example(True), example(True), example(False)]
    h = HeldOut([np.array([0.9, 0.1])] * 3, np.array([0.9, 0.9, 0.2]), [0.5] * 5, [{"second_ratio": 1.01}] * 5,
                np.array([0, 4, 4]), LOOSE)
    m = held_out_metrics(data, h)
    assert m["answer_words"] == 5.0 and m["accuracy"] == 1.0 and m["abstention_recall"] == 1.0
