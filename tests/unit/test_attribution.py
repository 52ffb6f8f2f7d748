"""Citations for an LLM reply written without markers (rag.llm.attribute/finish)."""

from __future__ import annotations

from index.types import Passage
from rag.llm import attribute, finish
from rag.types import Hit

TEXT = "The harbour light was built in 1871 by the port authority. Keepers lived there until 1965."


def hits() -> list[Hit]:
    cut = TEXT.index("Keepers")
    p = Passage("p1", "light.txt", TEXT, 100, 100 + len(TEXT), title="Light",
                sentences=((100, 100 + cut - 1), (100 + cut, 100 + len(TEXT))))
    q = Passage("p2", "other.txt", "Ships pass the reef at night.", 0, 29, sentences=((0, 29),))
    return [Hit(q, 0.5, 1), Hit(p, 0.4, 2)]


def test_supported_sentences_get_a_marker_for_the_sentence_they_come_from() -> None:
    reply = "The port authority built the harbour light in 1871. It is painted bright green."
    text, cites = attribute(reply, hits(), 0.6)
    assert text == ("The port authority built the harbour light in 1871. [1] "
                    "It is painted bright green.")
    assert len(cites) == 1 and cites[0].passage.id == "p1"
    assert cites[0].sentence == "The harbour light was built in 1871 by the port authority."


def test_threshold_zero_or_unsupported_replies_cite_nothing() -> None:
    reply = "The port authority built the harbour light in 1871."
    assert attribute(reply, hits(), 0.0) == (reply, ())
    assert attribute("Lighthouses are often painted in stripes.", hits(), 0.6)[1] == ()


def test_finish_prefers_the_models_own_markers_and_says_when_it_attributed() -> None:
    own = finish("Built in 1871 by the port authority [2].", hits(), "q", 0.6)
    assert [c.passage.id for c in own.citations] == ["p1"] and not own.notices
    added = finish("The harbour light was built in 1871.", hits(), "q", 0.6)
    assert added.citations and "markers were added" in added.notices[0]
    none = finish("The harbour light was built in 1871.", hits(), "q", 0.0)
    assert not none.citations and "cites no source" in none.notices[0]
