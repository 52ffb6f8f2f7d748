"""Near-miss questions for the reader's training (evals.perturb) and their pairs
(evals.reader_train.ReaderData.near_misses), on made-up sentences."""

from __future__ import annotations

import random

import numpy as np

from evals.perturb import negate, perturb, swap
from evals.reader_train import ReaderConfig, ReaderData

SUPPORT = "In 1731 the brewer Tomas Velder opened a mill at Harrowgate."
POOL = [SUPPORT, "The mill was sold to Anna Brisk in 1790.", "The river Oster floods in spring.",
        "Velders still live in Kellin."]


def test_swap_replaces_a_name_the_sentence_holds_with_one_it_does_not() -> None:
    rng = random.Random(0)
    seen = set()
    for _ in range(30):
        out = swap("Where did Tomas Velder open a mill?", SUPPORT, POOL, rng)
        assert out is not None and out != "Where did Tomas Velder open a mill?"
        new = out.removeprefix("Where did ").removesuffix(" open a mill?")
        assert new not in SUPPORT
        # "Velders" shares the name's stem: never the replacement
        assert "Velders" not in new
        seen.add(new)
    assert seen <= {"Anna Brisk", "Kellin", "Oster"} and "Anna Brisk" in seen


def test_swap_moves_a_number_with_none_to_take() -> None:
    rng = random.Random(1)
    out = swap("What did the brewer open in 1731?", SUPPORT, [SUPPORT], rng)
    assert out is not None and "1731" not in out
    year = int(out.split(" in ")[1].rstrip("?"))
    assert 1722 <= year <= 1740


def test_swap_needs_a_name_or_number_shared_with_the_sentence() -> None:
    rng = random.Random(2)
    assert swap("Where did Marek Holt open a mill?", SUPPORT, POOL, rng) is None
    assert swap("what did the brewer open?", SUPPORT, POOL, rng) is None


def test_negate_makes_the_first_auxiliary_negative_once() -> None:
    assert negate("When did the brewer open a mill?") == "When didn't the brewer open a mill?"
    assert negate("Was the mill sold?") == "Wasn't the mill sold?"
    assert negate("Who never opened a mill?") is None
    assert negate("Why wasn't it sold?") is None
    assert negate("Name the brewer.") is None


def test_perturb_is_seeded_and_falls_back_to_the_other_edit() -> None:
    q = "Where did Tomas Velder open a mill?"
    a = [perturb(q, SUPPORT, POOL, random.Random(s)) for s in range(10)]
    b = [perturb(q, SUPPORT, POOL, random.Random(s)) for s in range(10)]
    assert a == b
    assert any("didn't" in x for x in a if x) and any("didn't" not in x for x in a if x)
    # nothing to swap: negation whatever the draw
    assert perturb("Where was the mill?", SUPPORT, POOL, random.Random(0), swap_share=1.0) \
        == "Where wasn't the mill?"


def test_near_misses_are_wrong_pairs_of_the_answering_sentences_and_leave_the_rest() -> None:
    texts = [[(SUPPORT, ""), (POOL[1], SUPPORT), (POOL[2], "")],
             [(POOL[2], ""), (POOL[3], POOL[2])]]
    labels = [np.array([True, False, False]), np.array([False, False])]
    keys = [np.array([3.0, 2.0, 1.0]), np.array([2.0, 1.0])]
    recent = " (Who ran it? Tomas Velder)"
    rd = ReaderData(["Where did Tomas Velder open a mill?" + recent, "Is it dry?"], texts, labels,
                    keys, ["a", "b"], ["Where did Tomas Velder open a mill?", "Is it dry?"])
    plain = rd.pairs([0, 1], ReaderConfig(negatives=1), seed=5)
    more = rd.pairs([0, 1], ReaderConfig(negatives=1, perturb=1.0), seed=5)
    assert more[: len(plain)] == plain
    extra = more[len(plain):]
    # one copy of the answerable question, none of the unanswerable one
    assert len(extra) == 1
    pair = extra[0]
    assert (pair.sentence, pair.before, pair.label) == (SUPPORT, "", 0)
    assert pair.question != rd.queries[0] and pair.question.endswith(recent)
    # the conversation's last exchange beside the question is never edited
    assert rd.pairs([0, 1], ReaderConfig(negatives=1, perturb=0.0), seed=5) == plain


def test_the_near_miss_setting_keeps_the_reader_cache_keys_of_runs_without_it() -> None:
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(ReaderConfig(), folds) == rd.digest(ReaderConfig(perturb=None), folds)
    assert rd.digest(ReaderConfig(), folds) != rd.digest(ReaderConfig(perturb=0.5), folds)
