from __future__ import annotations

from rag.retrieval.dedupe import first_distinct, near_duplicate


def test_near_duplicate_compares_against_the_shorter_text() -> None:
    long = "The bakery opens at six and sells rye bread, croissants and coffee every day"
    assert near_duplicate("The bakery opens at six and sells rye bread", long)
    assert not near_duplicate("Comets have tails of dust and gas", long)
    assert not near_duplicate("", long)


def test_first_distinct_keeps_order_and_skips_repeats() -> None:
    texts = {1: "red apples grow in the valley orchards", 2: "red apples grow in the valley orchards too",
             3: "the telescope tracks distant galaxies", 4: "goalkeepers train every morning"}
    assert first_distinct([1, 2, 3, 4], texts, k=2) == [1, 3]
    assert first_distinct([2, 1, 4], texts, k=5) == [2, 4]
