"""evals.misses: each held-out answerable question in one bin, on made-up outcomes."""

from __future__ import annotations

import numpy as np

from evals.answerer_train import Example, HeldOut, held_out_rows
from evals.misses import BINS, misses, operating_points, outranked
from index.types import Passage
from rag.candidates import SENTENCE_FEATURES, Candidate
from rag.extractive import Shape
from rag.types import Hit

RIGHT, WRONG = "The bridge opened in 1932.", "The river is wide."


def example(answerable: bool = True, answers: tuple[str, ...] = ("1932",), right_read: bool = True,
            labels: tuple[bool, bool] | None = None) -> Example:
    text = f"{RIGHT} {WRONG}"
    p = Passage("p", "d.txt", text, 0, len(text), "", "", ((0, len(RIGHT)), (len(RIGHT) + 1, len(text))))
    hit = Hit(p, 1.0, 1)
    f_right, f_wrong = (np.zeros(len(SENTENCE_FEATURES), dtype=np.float32) for _ in range(2))
    if not right_read:
        f_right[SENTENCE_FEATURES.index("reader")] = np.nan
    cands = [Candidate(hit, 0, len(RIGHT), RIGHT, f_right), Candidate(hit, len(RIGHT) + 1, len(text), WRONG, f_wrong)]
    item = {"answerable": answerable, "answers": list(answers) if answerable else [], "question": "When?"}
    return Example(item, "set/d", cands, np.array(labels if labels is not None else (answerable, False)))


def test_each_answerable_question_lands_in_one_bin() -> None:
    data = [example(),                                   # led by the right sentence: right
            example(),                                   # below the threshold: abstained
            example(answers=("1850",), labels=(False, False)),  # no sentence holds it
            example(right_read=False),                   # the right one unread, the wrong one led
            example(),                                   # read, but the wrong one led
            example(answers=("in the year 1932",)),      # the right one led, the words differ
            example(answerable=False),                   # answered
            example(answerable=False)]                   # abstained
    probs = [(0.9, 0.1), (0.9, 0.1), (0.9, 0.1), (0.2, 0.8), (0.2, 0.8), (0.9, 0.1), (0.9, 0.1), (0.9, 0.1)]
    pa = [0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1]
    held = HeldOut([np.array(p) for p in probs], np.array(pa), [0.5], [{"second_ratio": 1.01}],
                   np.zeros(len(pa), dtype=np.int64), Shape())
    got = misses(data, held)["set"]
    assert got == {"answerable": 6, BINS[0]: 1, BINS[1]: 1, BINS[2]: 1, BINS[3]: 1, BINS[4]: 1,
                   BINS[5]: 1, "unanswerable": 2, "unanswerable, abstained": 1,
                   "unanswerable, answered": 1}
    # rows computed once and passed in (as main does) give the same bins, and are the ones used
    rows = held_out_rows(data, held)
    assert misses(data, held, rows)["set"] == got
    assert outranked(data, held, rows=rows) == outranked(data, held)
    flipped = [(a, True, False, w) if a else (a, ab, r, w) for a, ab, r, w in rows]
    assert misses(data, held, flipped)["set"][BINS[1]] == 6


def test_other_training_settings_reach_the_scripts_by_name_and_bad_ones_are_refused() -> None:
    import argparse

    import pytest

    from evals.train import add_training_args, training_settings

    ap = argparse.ArgumentParser()
    add_training_args(ap)
    got = training_settings(ap.parse_args(["--data", "x", "--set", "reader_negatives=7",
                                           "--set", "reader-epochs=1.0"]))
    assert got.reader_negatives == 7 and got.reader_epochs == 1.0 and got.data == ["x"]
    assert training_settings(ap.parse_args(["--data", "x"])).reader_negatives == 3
    for bad, why in (("reader_negatives=9", "less than or equal to 7"), ("nope=1", "not a training"),
                     ("reader_negatives", "NAME=VALUE"), ("folds=3", "not a training")):
        with pytest.raises(SystemExit, match=why):
            training_settings(ap.parse_args(["--data", "x", "--set", bad]))


def test_outranked_questions_say_whether_the_reader_itself_preferred_the_one_that_led() -> None:
    reader = SENTENCE_FEATURES.index("reader")
    data = [example(), example(), example(), example(answerable=False)]
    data[0].cands[1].features[reader] = 2.0   # the reader preferred the wrong one, which led
    data[1].cands[0].features[reader] = 1.0   # the reader preferred the right one; the scorer did not
    probs = [(0.2, 0.8), (0.3, 0.7), (0.9, 0.1), (0.2, 0.8)]  # the third is right
    held = HeldOut([np.array(p) for p in probs], np.full(4, 0.9), [0.5], [{"second_ratio": 1.01}],
                   np.zeros(4, dtype=np.int64), Shape())
    got = outranked(data, held, examples=5)["set"]
    assert got["questions"] == 2 and got["reader preferred the one that led"] == 1
    assert got["same passage"] == 2
    rows = sorted(got["examples"], key=lambda r: r["led_reader"])  # type: ignore[arg-type, index]
    assert [r["led"] for r in rows] == [WRONG, WRONG] and rows[0]["right"] == RIGHT
    assert (rows[0]["led_reader"], rows[0]["right_reader"]) == (0.0, 1.0)
    assert (rows[1]["led_reader"], rows[1]["right_reader"]) == (2.0, 0.0)
    assert outranked(data, held)["set"]["examples"] == []


def test_operating_points_refuse_at_most_the_budget_of_answerable_questions() -> None:
    # ten answerable questions (answer probabilities 0.05 .. 0.95, each led by its right
    # sentence) and four unanswerable ones (0.1, 0.2, 0.3, 0.9)
    data = [example() for _ in range(10)] + [example(answerable=False) for _ in range(4)]
    pa = np.array([0.05 + 0.1 * i for i in range(10)] + [0.1, 0.2, 0.3, 0.9])
    held = HeldOut([np.array((0.9, 0.1))] * 14, pa, [0.5], [{"second_ratio": 1.01}],
                   np.zeros(14, dtype=np.int64), Shape())
    got = {r["budget"]: r for r in operating_points(data, held, (0.0, 0.1, 0.35))["set"]}
    assert got[0.0]["false_abstention"] == 0.0 and got[0.0]["accuracy"] == 1.0
    assert got[0.0]["abstention"] == 0.0  # nothing below the lowest answerable probability
    assert got[0.1]["false_abstention"] == 0.1 and got[0.1]["accuracy"] == 0.9
    assert got[0.1]["abstention"] == 0.25  # 0.1 < 0.15
    assert got[0.35]["false_abstention"] == 0.3 and got[0.35]["abstention"] == 0.75


def test_the_reader_preference_is_counted_on_its_logits_not_the_rounded_ones_shown() -> None:
    reader = SENTENCE_FEATURES.index("reader")
    data = [example()]
    data[0].cands[0].features[reader], data[0].cands[1].features[reader] = 0.499, 0.501
    held = HeldOut([np.array((0.2, 0.8))], np.full(1, 0.9), [0.5], [{"second_ratio": 1.01}],
                   np.zeros(1, dtype=np.int64), Shape())
    got = outranked(data, held, examples=1)["set"]
    shown = got["examples"][0]  # type: ignore[index]
    assert shown["led_reader"] == shown["right_reader"] == 0.5
    assert got["reader preferred the one that led"] == 1
