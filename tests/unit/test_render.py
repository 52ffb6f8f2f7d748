"""The sources panel: cited sentences marked, the answering phrase in bold, everything escaped."""

from __future__ import annotations

from index.types import Passage
from rag.types import Answer, Citation, Hit
from ui.render import sources_html

TEXT = "The <b>tower</b> was built in 1871. Keepers lived there until 1965. It runs by itself."


def answer(phrase: tuple[int, int] | None) -> Answer:
    p = Passage("p1", "light.txt", TEXT, 0, len(TEXT), "Light & <Tower>", "", ())
    s = TEXT.index("Keepers")
    e = TEXT.index(" It runs")
    return Answer(TEXT[s:e] + " [1]", (Citation(1, p, s, e, phrase),), False, (Hit(p, 1.0, 1),))


def test_the_phrase_is_bold_inside_the_marked_sentence_and_all_is_escaped() -> None:
    start = TEXT.index("1965")
    html = sources_html(answer((start, start + 4)))
    assert '<mark>Keepers lived there until <strong class="src-phrase">1965</strong>.</mark>' in html
    assert "&lt;b&gt;tower&lt;/b&gt;" in html and "<b>" not in html
    assert "Light &amp; &lt;Tower&gt;" in html


def test_without_a_phrase_only_the_sentence_is_marked() -> None:
    html = sources_html(answer(None))
    assert "<mark>Keepers lived there until 1965.</mark>" in html and "src-phrase" not in html


def test_a_phrase_outside_the_sentence_is_ignored() -> None:
    html = sources_html(answer((0, 3)))
    assert "src-phrase" not in html


def test_markers_link_to_their_cards_and_abstentions_have_none() -> None:
    from ui.render import chat_text

    a = answer(None)
    assert chat_text(a).endswith('<a href="#src-1" class="cite">[1]</a>')
    assert 'id="src-1"' in sources_html(a)
    plain = Answer("The documents do not say [1] anything.", (), True, ())
    assert "<a" not in chat_text(plain)
