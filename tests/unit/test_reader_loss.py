"""The reader's listwise loss (evals.reader_train.listwise_loss) and its question groups."""

from __future__ import annotations

import math

import pytest
import torch

from evals.reader_train import Pair, ReaderConfig, _plan, listwise_loss, question_groups


def test_one_pair_alone_is_binary_cross_entropy() -> None:
    for z, y in ((1.3, 1.0), (-0.4, 1.0), (2.0, 0.0)):
        logits, labels = torch.tensor([z]), torch.tensor([y])
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        assert float(listwise_loss(logits, labels, [[0]])) == pytest.approx(float(bce), rel=1e-6)


def test_a_question_without_a_right_pair_should_pick_none() -> None:
    z = torch.tensor([0.5, -1.0, 2.0])
    loss = listwise_loss(z, torch.zeros(3), [[0, 1, 2]])
    assert float(loss) == pytest.approx(math.log(1 + sum(math.exp(v) for v in z.tolist())), rel=1e-6)
    # lower logits everywhere: "none" more likely, a lower loss
    assert float(listwise_loss(z - 3, torch.zeros(3), [[0, 1, 2]])) < float(loss)


def test_ranking_the_right_pair_first_lowers_the_loss_and_groups_average() -> None:
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0])
    good = torch.tensor([3.0, -1.0, -2.0, -1.0, 2.0])
    bad = torch.tensor([-1.0, 3.0, -2.0, 2.0, -1.0])
    groups = [[0, 1, 2], [3, 4]]
    assert float(listwise_loss(good, labels, groups)) < float(listwise_loss(bad, labels, groups))
    whole = float(listwise_loss(good, labels, groups))
    parts = [float(listwise_loss(good[g], labels[g], [list(range(len(g)))])) for g in groups]
    assert whole == pytest.approx(sum(parts) / 2, rel=1e-6)
    # gradients reach every logit of a group, the "none" option included in the softmax
    z = good.clone().requires_grad_(True)
    listwise_loss(z, labels, groups).backward()
    assert z.grad is not None and bool((z.grad != 0).all())


def test_groups_are_runs_of_one_question_and_batches_keep_them_whole() -> None:
    pairs = [Pair(q, f"s{i}", "", int(i == 0)) for q, n in (("a", 3), ("b", 2), ("a", 1), ("c", 4))
             for i in range(n)]
    assert question_groups(pairs) == [[0, 1, 2], [3, 4], [5], [6, 7, 8, 9]]
    import random

    cfg = ReaderConfig(batch=4, epochs=2, loss="listwise")
    plan = _plan(pairs, [len(p.sentence) for p in pairs], cfg, random.Random(0))
    starts = {g[0]: len(g) for g in question_groups(pairs)}
    for batch in plan:  # each batch is whole groups, in order inside each
        i = 0
        while i < len(batch):
            assert batch[i] in starts and batch[i:i + starts[batch[i]]] == list(
                range(batch[i], batch[i] + starts[batch[i]]))
            i += starts[batch[i]]
    assert sorted(i for b in plan for i in b) == sorted(list(range(len(pairs))) * 2)


def test_negatives_take_the_highest_ranked_wrong_picks_and_one_drawn_from_the_rest() -> None:
    import random

    import numpy as np

    from evals.reader_train import pairs_for
    from evals.settings import TrainSettings
    from evals.train import reader_config

    texts = [(f"s{i}", "") for i in range(10)]
    labels = np.zeros(10, dtype=bool)
    labels[4] = True
    picked = np.array([3, 4, 0, 9, 1, 7, 2, 8])  # the reader's top 8, best first
    three = pairs_for("q", texts, labels, picked, 3, random.Random(0))
    assert [p.label for p in three] == [1, 0, 0, 0]
    assert [p.sentence for p in three[:3]] == ["s4", "s3", "s0"]
    assert three[3].sentence in {"s9", "s1", "s7", "s2", "s8"}
    every = pairs_for("q", texts, labels, picked, 7, random.Random(0))
    assert [p.sentence for p in every] == ["s4", "s3", "s0", "s9", "s1", "s7", "s2", "s8"]
    assert reader_config(TrainSettings(data=["x"])).negatives == 3
    assert reader_config(TrainSettings(data=["x"], reader_negatives=7)).negatives == 7


def test_answer_spans_point_at_the_gold_answer_in_right_sentences_and_at_cls_in_wrong_ones(
        model_path: str) -> None:
    """span_targets: the first and last word pieces of the answer as the tokenised pair holds
    it; [CLS] for a wrong pair; ignored where the answer is unknown or cut off by the window.
    locate finds a gold answer whatever its case, as the sentence writes it."""
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from evals.reader_train import Pair, ReaderData, locate, span_loss, span_targets
    from rag.reader import pair_text

    assert locate("  The bridge opened in 1932.", ["1931", "the Bridge"]) == "The bridge"
    assert locate("The bridge opened in 1932.", ["1931", ""]) == ""
    tail = " ".join(["word"] * 80) + " Ortega."
    pairs = [Pair("When did the bridge open?", "The bridge opened to traffic in 1932.", "It is old.", 1, "1932"),
             Pair("Who keeps it?", "Its keeper is a retired sailor named Ortega.", "", 1, "retired sailor"),
             Pair("Who keeps it?", "The bakery sells bread.", "", 0),
             Pair("Who keeps it?", "The keeper is unknown.", "", 1, ""),
             Pair("Who keeps it?", tail, "", 1, "Ortega")]
    tok = AutoTokenizer.from_pretrained(model_path)
    enc = tok([p.question for p in pairs], [pair_text(p.sentence, p.before) for p in pairs],
              truncation="only_second", max_length=32, return_offsets_mapping=True)
    starts, ends = span_targets(enc, pairs)
    assert tok.decode(enc["input_ids"][0][starts[0]:ends[0] + 1]) == "1932"
    assert tok.decode(enc["input_ids"][1][starts[1]:ends[1] + 1]) == "retired sailor"
    assert (starts[2], ends[2]) == (0, 0)
    assert (starts[3], ends[3]) == (-100, -100)
    assert (starts[4], ends[4]) == (-100, -100)  # past the 32-token window
    # the loss is low where the head points at the targets and 0 when no pair has one
    width = max(len(x) for x in enc["input_ids"])
    types = torch.zeros((len(pairs), width), dtype=torch.long)
    mask = torch.zeros_like(types)
    for i, t in enumerate(enc["token_type_ids"]):
        types[i, :len(t)] = torch.tensor(t)
        mask[i, :len(t)] = 1
    s, e = torch.tensor(starts), torch.tensor(ends)

    def pointing(states: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((*states.shape[:2], 2))
        for i in range(len(pairs)):
            if starts[i] >= 0:
                out[i, starts[i], 0] = out[i, ends[i], 1] = 50.0
        return out

    states = torch.zeros((len(pairs), width, 4))
    assert float(span_loss(states, pointing, types, mask, s, e)) < 1e-3
    assert float(span_loss(states, lambda x: torch.zeros((*x.shape[:2], 2)), types, mask, s, e)) > 1.0
    none = torch.full_like(s, -100)
    assert float(span_loss(states, pointing, types, mask, none, none)) == 0.0
    # ReaderData gives right pairs their answer as the sentence writes it
    rd = ReaderData(["when?"], [[("Opened in 1932.", ""), ("Closed.", "")]], [np.array([True, False])],
                    [np.zeros(2)], ["g"], [], [["1932"]])
    from evals.reader_train import ReaderConfig
    got = rd.pairs([0], ReaderConfig(top=2, negatives=1), 0)
    assert [(p.label, p.answer) for p in got] == [(1, "1932"), (0, "")]


def test_the_reader_learning_rate_setting_keeps_the_default_configuration() -> None:
    """--reader-lr sets the body's rate and the head's at 20 times it; the default gives
    ReaderConfig's own rates, so the cached readers' keys stay as they were."""
    import numpy as np

    from evals.reader_train import ReaderConfig, ReaderData
    from evals.settings import TrainSettings
    from evals.train import reader_config

    base = TrainSettings(data=["x"], reader_train_precision="fp32")
    default = reader_config(base)
    assert (default.lr, default.head_lr) == (ReaderConfig().lr, ReaderConfig().head_lr)
    faster = reader_config(base.model_copy(update={"reader_lr": 1e-4}))
    assert (faster.lr, faster.head_lr) == (1e-4, 2e-3)
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(default, folds) != rd.digest(faster, folds)
