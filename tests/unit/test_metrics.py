"""Answer and retrieval metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from evals.metrics import contains_answer, covers, mrr_at_k, ndcg_at_k, normalize, recall_at_k, token_f1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  The Chef\u2019s  \u201cBest\u201d Soup\u2014Really!  ", "the chef s best soup really"),
        ("Jupiter, Saturn; and URANUS.", "jupiter saturn and uranus"),
        ("snake_case stays", "snake_case stays"),
        ("2-0 win", "2 0 win"),
        ("\t\n", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_contains_answer() -> None:
    answer = "The club\u2019s new keeper, Tomas Berg, signed on 3 March [1]."
    assert contains_answer(answer, ["tomas berg"])
    assert contains_answer(answer, ["club's new keeper"])  # curly and straight quotes match
    assert contains_answer(answer, ["nobody", "3 March"])  # any one gold is enough
    assert not contains_answer(answer, ["Lena Park"])
    assert not contains_answer(answer, [])
    assert not contains_answer(answer, ["", "  ", "!!"])  # golds empty after normalising never match


def test_citation_markers_are_not_part_of_the_answer() -> None:
    assert not contains_answer("The team won the cup [1].", ["1"])
    assert not contains_answer("The ward has beds [12] and cots.", ["beds 12"])
    assert contains_answer("The ward has 12 beds [2].", ["12 beds"])


def test_covers() -> None:
    passage = "The observatory\u2019s dome opens at nine. Visitors \u2014 adults only \u2014 may bring cameras."
    assert covers(passage, ["observatory's dome opens"])
    assert covers(passage, ["Visitors - adults only - may bring cameras"])
    assert covers(passage, ["nothing", "DOME   OPENS AT NINE."])
    assert not covers(passage, ["dome closes at nine"])
    assert not covers(passage, [])
    assert not covers(passage, ["..."])


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("the red planet [1]", "The Red Planet", 1.0),
        # common = 2 (one red, one planet): P = 2/3, R = 2/3
        ("red red planet", "red planet planet", 2 / 3),
        # common = 2: P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7
        ("a bright red planet", "the red planet", 4 / 7),
        ("seven loaves", "six rolls", 0.0),
        ("", "six rolls", 0.0),
        ("six rolls", "", 0.0),
        ("[3]", "three", 0.0),
    ],
)
def test_token_f1(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_ndcg_at_k_by_hand() -> None:
    # one relevant document at rank 2: DCG = 1/log2(3), ideal DCG = 1
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}) == pytest.approx(1 / math.log2(3))
    # graded: DCG = 2/log2(2) + 1/log2(4) = 2.5; ideal = 2 + 1/log2(3)
    assert ndcg_at_k(["a", "b", "c"], {"a": 2, "c": 1}) == pytest.approx(2.5 / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["c", "a"], {"a": 2, "c": 1}) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "c"], {"a": 2, "c": 1}) == pytest.approx(1.0)


def test_ndcg_cut_off_and_edge_cases() -> None:
    ranked = ["x1", "x2", "x3", "rel"]
    assert ndcg_at_k(ranked, {"rel": 1}, k=3) == 0.0
    assert ndcg_at_k(ranked, {"rel": 1}, k=4) == pytest.approx(1 / math.log2(5))
    # the ideal ranking is cut at k too: two relevant documents, k = 1
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 1}, k=1) == pytest.approx(1.0)
    assert ndcg_at_k([], {"a": 1}) == 0.0
    assert ndcg_at_k(["a"], {}) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_recall_at_k_by_hand() -> None:
    relevant = {"a": 1, "d": 1, "e": 0}  # e is judged not relevant
    assert recall_at_k(["a", "b", "c"], relevant, k=2) == pytest.approx(0.5)
    assert recall_at_k(["b", "c", "a", "d"], relevant, k=3) == pytest.approx(0.5)
    assert recall_at_k(["b", "c", "a", "d"], relevant, k=4) == pytest.approx(1.0)
    assert recall_at_k(["e"], relevant) == 0.0
    assert recall_at_k(["a"], {"a": 0}) == 0.0
    assert recall_at_k([], {}) == 0.0


def test_mrr_at_k_by_hand() -> None:
    relevant = {"z": 1, "y": 0}
    assert mrr_at_k(["x", "y", "z"], relevant) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "z"], relevant, k=2) == 0.0
    assert mrr_at_k(["z", "x"], relevant) == 1.0
    assert mrr_at_k(["q", "w", "z", "z"], {"z": 2, "w": 1}) == pytest.approx(1 / 2)
    assert mrr_at_k([], relevant) == 0.0
