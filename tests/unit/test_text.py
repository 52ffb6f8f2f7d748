"""normalize_question, words and entities."""

from __future__ import annotations

import pytest

from rag.text import content_words, entities, normalize_question, words


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  How   many\tgoals?\n", "How many goals?"),
        ("Who\x00 runs\x07 the clinic?", "Who runs the clinic?"),
        ("cafe\u0301 menu", "caf\u00e9 menu"),  # NFC composes the accent
        ("Line\u2028break", "Line break"),
        ("Tab\u200bzero", "Tab zero"),
        ("What's the ROI of Brightloop's app?", "What's the ROI of Brightloop's app?"),
        ("", ""),
        ("\x00\x01\x02", ""),
    ],
)
def test_normalize_question(raw: str, clean: str) -> None:
    assert normalize_question(raw) == clean


def test_normalize_question_is_idempotent() -> None:
    once = normalize_question(" \x1bWhere\r\n is\x00the  observatory ?\u00a0")
    assert once == "Where is the observatory ?"
    assert normalize_question(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The chef's knife isn't sharp.", ["the", "chef's", "knife", "isn't", "sharp"]),
        ("Version 2.5 of the app, e.g. the U.S. build.",
         ["version", "2.5", "of", "the", "app", "e.g", "the", "u.s", "build"]),
        ("well-known -dash- word", ["well-known", "dash", "word"]),
        ("'quoted'", ["quoted"]),
        ("Se\u00f1or M\u00fcller\u2019s caf\u00e9", ["se\u00f1or", "m\u00fcller\u2019s", "caf\u00e9"]),
        ("a.b. c", ["a.b", "c"]),
        ("", []),
        ("?! ...", []),
    ],
)
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_content_words_drop_stop_words() -> None:
    assert content_words("What did the head nurse say about the new ward?") == ["head", "nurse", "new", "ward"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Riverside Hospital opened a new ward.", ["Riverside Hospital"]),
        ("Doctors at St Mary Hospital met. Nurses agreed.", ["St Mary Hospital"]),
        ("In March the Blue Harbour FC signed Tomas Berg.", ["March", "Blue Harbour FC", "Tomas Berg"]),
        ("Brightloop hired staff. Then The Daily Orbit wrote about it.", ["Daily Orbit"]),
        ("The Andromeda galaxy is far from the Milky Way.", ["Andromeda", "Milky Way"]),
        ("O\u2019Brien runs Night Owl Bakery.", ["Night Owl Bakery"]),
        # a lone capitalised word after a colon or opening quote starts a sentence
        ('He said: "Saturn is bright."', []),
        ("nothing capitalised here", []),
        ("", []),
    ],
)
def test_entities(text: str, expected: list[str]) -> None:
    assert entities(text) == expected
