"""split_sentences: spans with exact offsets, abbreviations, initials and block breaks."""

from __future__ import annotations

import pytest

from index.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def assert_well_formed(text: str, spans: list[tuple[int, int]], offset: int = 0) -> None:
    """Spans are in order, do not overlap, hold text and carry no outer whitespace."""
    prev_end = offset
    for s, e in spans:
        assert prev_end <= s < e <= offset + len(text)
        piece = text[s - offset : e - offset]
        assert piece == piece.strip() and piece
        prev_end = e


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Preheat the oven. Mix the flour and sugar! Is it done? Yes.",
         ["Preheat the oven.", "Mix the flour and sugar!", "Is it done?", "Yes."]),
        ("Dr. Mendes examined the patient. She was fine.",
         ["Dr. Mendes examined the patient.", "She was fine."]),
        # footnote markers after the full stop stay with their sentence
        ("The bridge opened in 1998.[12] Traffic doubled.[a][b] It was widened.",
         ["The bridge opened in 1998.[12]", "Traffic doubled.[a][b]", "It was widened."]),
        ("The club signed J. R. Okafor last week. He plays left back.",
         ["The club signed J. R. Okafor last week.", "He plays left back."]),
        ("The nurse, Maria K. Lindqvist, checked the chart. She left.",
         ["The nurse, Maria K. Lindqvist, checked the chart.", "She left."]),
        ("Saturn has many moons, e.g. Titan and Rhea. They are cold.",
         ["Saturn has many moons, e.g. Titan and Rhea.", "They are cold."]),
        ("Bake for approx. 20 minutes. Serve warm.", ["Bake for approx. 20 minutes.", "Serve warm."]),
        ("She moved to St. Louis. Then she opened a bakery.",
         ["She moved to St. Louis.", "Then she opened a bakery."]),
        ("He wore shirt No. 9 for the club. Then he retired.",
         ["He wore shirt No. 9 for the club.", "Then he retired."]),
        ("Room no. 12 is free. No. It is not.", ["Room no. 12 is free.", "No.", "It is not."]),
        ("We bought eggs, milk, etc. The shop then closed.",
         ["We bought eggs, milk, etc.", "The shop then closed."]),
        ("We bought eggs, milk, etc. and left.", ["We bought eggs, milk, etc. and left."]),
        ("The team toured the U.K. But it rained.", ["The team toured the U.K.", "But it rained."]),
        ("Gen. Okoro led. Col. Diaz followed.", ["Gen. Okoro led.", "Col. Diaz followed."]),
        ("The final score was 3-1. 40,000 fans cheered.", ["The final score was 3-1.", "40,000 fans cheered."]),
        ("Version 2.5 shipped. Users liked it.", ["Version 2.5 shipped.", "Users liked it."]),
        ("The telescope cost $3.5 million. It saw far.", ["The telescope cost $3.5 million.", "It saw far."]),
        ("The comet was bright... Then it faded.", ["The comet was bright...", "Then it faded."]),
        ("Wait\u2026 The oven beeped.", ["Wait\u2026", "The oven beeped."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("The striker scored. the crowd roared.", ["The striker scored. the crowd roared."]),
        ('Is it "ready?" she asked. Nobody knew.', ['Is it "ready?" she asked.', "Nobody knew."]),
        ('"Stay calm." The nurse smiled. (It worked.) Next came lunch.',
         ['"Stay calm."', "The nurse smiled.", "(It worked.)", "Next came lunch."]),
        ("\u201cStop.\u201d The whistle blew.", ["\u201cStop.\u201d", "The whistle blew."]),
        ("Hello world", ["Hello world"]),
        # unlisted abbreviations without vowels, before names
        ("It named Spc. Jeremy Morlock and Pfc. Andrew Holmes. Both deny it.",
         ["It named Spc. Jeremy Morlock and Pfc. Andrew Holmes.", "Both deny it."]),
        ("They met on Elm Blvd. Nobody came.", ["They met on Elm Blvd. Nobody came."]),
        # words with vowels (or y), and capitals, still end sentences
        ("We flew to Spain. Then we sailed.", ["We flew to Spain.", "Then we sailed."]),
        ("The rhythm was Lyn. She sang.", ["The rhythm was Lyn.", "She sang."]),
        ("She works for the BBC. It pays well.", ["She works for the BBC.", "It pays well."]),
    ],
)
def test_sentence_texts(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == expected
    assert_well_formed(text, spans)


def test_exact_spans_by_hand() -> None:
    text = "Preheat the oven. Mix the flour and sugar! Is it done? Yes."
    assert split_sentences(text) == [(0, 17), (18, 42), (43, 54), (55, 59)]


def test_offset_shifts_every_span() -> None:
    text = "Hi there. Bye now."
    assert split_sentences(text) == [(0, 9), (10, 18)]
    assert split_sentences(text, offset=100) == [(100, 109), (110, 118)]


def test_leading_and_trailing_whitespace_is_outside_the_spans() -> None:
    text = "  Leading spaces here. And trailing.   "
    assert split_sentences(text) == [(2, 22), (23, 36)]


def test_blank_line_always_ends_a_sentence() -> None:
    text = "The ward reopened\n\nvisitors came back. Staff cheered."
    assert sentences(text) == ["The ward reopened", "visitors came back.", "Staff cheered."]


@pytest.mark.parametrize("gap", ["\n\n", "\n\n\n\n", "  \n \n  ", "\r\n\r\n"])
def test_blank_lines_of_any_shape_separate_blocks(gap: str) -> None:
    text = f"Hi.{gap}Bye."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Hi.", "Bye."]
    assert spans[0] == (0, 3) and spans[1] == (3 + len(gap), 3 + len(gap) + 4)


def test_single_line_break_splits_after_terminal_punctuation_only() -> None:
    assert sentences("Line one.\nLine two.") == ["Line one.", "Line two."]
    # no terminal punctuation: a single line break does not end the sentence
    assert sentences("Soup of the day\ntomato and basil.") == ["Soup of the day\ntomato and basil."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \t \n \n "])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_long_mixed_text_invariants() -> None:
    text = (
        "Brightloop Inc. hired forty engineers in May. The new office opens on Jan. 5 next year!\n"
        "Will the move work? Prof. Adeyemi thinks so.\n\n"
        "Meanwhile the kitchen team baked 300 loaves. \u201cA record,\u201d said the chef.\n\n\n"
        "  Night falls. The observatory dome opens at 9.  "
    )
    spans = split_sentences(text, offset=7)
    assert_well_formed(text, spans, offset=7)
    joined = " ".join(text[s - 7 : e - 7] for s, e in spans)
    # every non-space character is covered exactly once, in order
    assert joined.split() == text.split()
    assert text[spans[-1][0] - 7 : spans[-1][1] - 7] == "The observatory dome opens at 9."
