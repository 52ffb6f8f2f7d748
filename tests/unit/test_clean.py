"""clean_text and units_of: verbatim units with offsets, boilerplate rules, sections."""

from __future__ import annotations

import pytest

from index.clean import CleanResult, clean_text, units_of

# two prose paragraphs of at least 40 words (PROSE_WORDS), so they end teaser regions
WARD = ("The hospital opened a new maternity ward on Monday after two years of building work, and the first "
        "patients moved in the same afternoon with their families, nurses and a small team of volunteers who "
        "had helped to paint the corridors.")
DOCTORS = ("Doctors said the ward would cut waiting times for the whole region, because expectant mothers had "
           "until now travelled more than an hour to the nearest city clinic, often at night and in bad "
           "weather, to give birth, the head midwife said.")


def check_partition(text: str, result: CleanResult) -> None:
    """Kept and dropped units together are exactly the units of the text, each a verbatim slice."""
    units = units_of(text)
    both = sorted(result.kept + [u for u, _ in result.dropped], key=lambda u: u.start)
    assert both == units
    for u in units:
        assert text[u.start : u.end] == u.text
    assert [u for s in result.sections for u in s] == result.kept


def test_units_have_exact_offsets_and_are_stripped() -> None:
    text = "Tomato Soup\n\n  Chop the tomatoes.  \nFry the onion.\n\n\n- salt\n- pepper\n"
    units = units_of(text)
    assert [(u.start, u.end, u.text) for u in units] == [
        (0, 11, "Tomato Soup"),
        (15, 33, "Chop the tomatoes."),
        (36, 50, "Fry the onion."),
        (53, 59, "- salt"),
        (60, 68, "- pepper"),
    ]
    assert [u.bullet for u in units] == [False, False, False, True, True]
    assert units[1].indent == 2 and units[0].indent == 0
    assert units[1].words == 3


def test_hard_wrapped_paragraph_is_one_unit() -> None:
    text = ("The observatory on the ridge opened in the spring and has since\n"
            "recorded more than two hundred nights of clear sky for the survey\n"
            "team, who catalogue faint galaxies near the southern pole star.\n\n"
            "- first item\n- second item\n")
    units = units_of(text)
    assert len(units) == 3
    first = units[0]
    assert first.start == 0 and first.end == text.index("star.") + len("star.")
    assert first.text == text[first.start : first.end] and first.text.count("\n") == 2
    assert [u.text for u in units[1:]] == ["- first item", "- second item"]


def test_a_line_broken_mid_sentence_joins_the_next() -> None:
    # text copied from a web page puts a subscript on a line of its own
    text = ("Passengers in pressurized airplanes have an emergency supply of O\n"
            "2 automatically supplied to them in case of cabin depressurization. Masks drop.\n"
            "Short heading without a stop\n"
            "lowercase line after a heading stays apart.\n"
            "A long line of prose that stops in the middle of its sentence with no\n"
            "Capitalised Line Is A Heading Or A New Sentence\n"
            "Another long line of prose that stops in the middle of its sentence\n"
            "- a list item\n"
            "A caption of a photograph taken on the border in the spring of\n"
            "2018 was the year the talks began.\n")
    units = units_of(text)
    assert [u.text for u in units] == [
        text[: text.index("Masks drop.") + len("Masks drop.")],
        "Short heading without a stop",
        "lowercase line after a heading stays apart.",
        "A long line of prose that stops in the middle of its sentence with no",
        "Capitalised Line Is A Heading Or A New Sentence",
        "Another long line of prose that stops in the middle of its sentence",
        "- a list item",
        "A caption of a photograph taken on the border in the spring of",
        "2018 was the year the talks began.",
    ]
    assert units[0].text.count("\n") == 1 and text[units[0].start : units[0].end] == units[0].text


def test_short_lines_are_not_merged() -> None:
    units = units_of("Line one.\nLine two.\n")
    assert [u.text for u in units] == ["Line one.", "Line two."]


@pytest.mark.parametrize(
    ("line", "bullet", "indent"),
    [("1. Whisk the eggs", True, 0), ("2) Add milk", True, 0), ("\u2022 Fold gently", True, 0),
     ("2019. A good vintage", False, 0), ("\tTabbed line", False, 4), ("    Four spaces", False, 4)],
)
def test_bullets_and_indent(line: str, bullet: bool, indent: int) -> None:
    (unit,) = units_of(line + "\n")
    assert unit.bullet is bullet
    assert unit.indent == indent
    assert unit.text == line.strip()


def test_crlf_line_endings() -> None:
    text = "Para one is here.\r\n\r\nPara two is here.\r\n"
    result = clean_text(text)
    assert [(u.start, u.end, u.text) for u in result.kept] == [
        (0, 17, "Para one is here."), (21, 38, "Para two is here.")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("***", "punctuation only"),
        ("---", "punctuation only"),
        ("Your browser is not supported. Please upgrade to a newer version.", "browser notice"),
        ("We use cookies to improve your visit.", "browser notice"),
        ("Back to top", "navigation"),
        ("Read more", "navigation"),
        ("Print this recipe", "navigation"),
        ("Comments (12)", "navigation"),
        ("Sign up for our newsletter", "promotion"),
        ("Follow us on social media", "promotion"),
        ("Advertisement", "promotion"),
        ("A nurse checks a chart. Photo: Lena Park / Reuters", "caption or photo credit"),
        ("Photo by Sam Hill", "caption or photo credit"),
        ("Image: city archive", "caption or photo credit"),
        ("The goalkeeper saved a penalty in the final minute.", None),
        ("Home cooking is healthy and cheap.", None),
        ("Search results for the comet survey were published on Monday.", None),
        ("The hospital will donate blood to the regional bank and asked volunteers to sign up at the "
         "front desk on Monday morning.", None),
    ],
)
def test_single_line_reasons(line: str, reason: str | None) -> None:
    result = clean_text(line + "\n")
    if reason is None:
        assert [u.text for u in result.kept] == [line] and result.dropped == []
    else:
        assert result.kept == [] and [(u.text, why) for u, why in result.dropped] == [(line, reason)]


def test_plain_article_is_untouched() -> None:
    text = ("Match Report\n\nThe club won two nil at home on Saturday. The keeper made six saves.\n\n"
            "The coach praised the young defenders after the game.\n")
    result = clean_text(text)
    assert result.dropped == []
    assert len(result.sections) == 1
    assert [u.text for u in result.kept] == [
        "Match Report",
        "The club won two nil at home on Saturday. The keeper made six saves.",
        "The coach praised the young defenders after the game.",
    ]
    check_partition(text, result)


def test_promotion_splits_sections() -> None:
    text = ("Tomato Soup\n\n"
            "Chop four ripe tomatoes and one onion. Fry the onion in olive oil until soft.\n\n"
            "Subscribe to our newsletter\n\n"
            "Simmer for twenty minutes and blend until smooth. Season before serving.\n")
    result = clean_text(text)
    assert [(u.text, why) for u, why in result.dropped] == [("Subscribe to our newsletter", "promotion")]
    assert [[u.text[:11] for u in s] for s in result.sections] == [
        ["Tomato Soup", "Chop four r"], ["Simmer for "]]
    check_partition(text, result)


SOFTWARE_PAGE = """Skip to content
Home
Products
Careers

The software company Brightloop released the fourth version of its ledger app on Monday, adding offline sync and a faster search for small bookshops and cafes.

Engineers spent eight months rewriting the storage layer, the chief technology officer said, and the beta drew more than two thousand testers.

Offline sync and a faster search for small bookshops and cafes

Customers on the old plan will move to the new version at no extra cost, the company said in a statement.

Related articles

- Brightloop opens a second office
- Interview: the founders on remote work

Tags
Software
"""


def test_software_page_keeps_the_article_and_drops_the_chrome() -> None:
    result = clean_text(SOFTWARE_PAGE)
    assert [u.text[:20] for u in result.kept] == [
        "The software company", "Engineers spent eigh", "Customers on the old"]
    reasons = {u.text: why for u, why in result.dropped}
    assert reasons == {
        "Skip to content": "navigation",
        "Home": "navigation",
        "Products": "navigation",
        "Careers": "navigation",
        "Offline sync and a faster search for small bookshops and cafes": "repeated caption or pull quote",
        "Related articles": "teaser list of other articles",
        "- Brightloop opens a second office": "teaser list of other articles",
        "- Interview: the founders on remote work": "teaser list of other articles",
        "Tags": "teaser list of other articles",
        "Software": "teaser list of other articles",
    }
    # the pull quote splits the article into two sections
    assert [len(s) for s in result.sections] == [2, 1]
    check_partition(SOFTWARE_PAGE, result)


def test_repeated_text_drops_the_shorter_copy_only() -> None:
    quote = "The ward would cut waiting times for the whole region"
    text = f"{DOCTORS}\n\n{quote}\n"
    result = clean_text(text)
    assert [u.text for u in result.kept] == [DOCTORS]
    assert [(u.text, why) for u, why in result.dropped] == [(quote, "repeated caption or pull quote")]


def test_identical_paragraphs_keep_the_first() -> None:
    para = "The bakery sells rye bread, seed rolls and plum cake every morning."
    text = f"{para}\n\n{para}\n"
    result = clean_text(text)
    assert [u.start for u in result.kept] == [0]
    assert [u.start for u, _ in result.dropped] == [len(para) + 2]


def test_teaser_region_runs_until_the_next_prose_paragraph() -> None:
    text = (f"{WARD}\n\nRelated stories\n\n- New car park for the hospital\n- Flu season arrives early\n\n"
            f"{DOCTORS}\n")
    result = clean_text(text)
    assert [u.text for u in result.kept] == [WARD, DOCTORS]
    assert result.dropped_by_reason() == {"teaser list of other articles": 3}
    assert [len(s) for s in result.sections] == [1, 1]
    check_partition(text, result)


def test_dated_list_is_a_teaser_region() -> None:
    text = (f"{WARD}\n\n- Spring menu launched\n12 March 2021\n- Sourdough class returns\n02 April 2021\n\n"
            f"{DOCTORS}\n")
    result = clean_text(text)
    assert [u.text for u in result.kept] == [WARD, DOCTORS]
    assert [u.text for u, _ in result.dropped] == [
        "- Spring menu launched", "12 March 2021", "- Sourdough class returns", "02 April 2021"]
    assert set(result.dropped_by_reason()) == {"teaser list of other articles"}


def test_short_labels_after_the_last_sentence_are_furniture() -> None:
    text = "The observatory will open its doors to visitors every Friday night this summer.\n\nAstronomy\nEvents\n"
    result = clean_text(text)
    assert len(result.kept) == 1
    assert [(u.text, why) for u, why in result.dropped] == [
        ("Astronomy", "trailing page furniture"), ("Events", "trailing page furniture")]


@pytest.mark.parametrize("text", ["", "   ", "\n\n \n"])
def test_blank_text(text: str) -> None:
    assert clean_text(text) == CleanResult()


def test_clean_result_helpers() -> None:
    text = "Fresh bread daily.\n\nShare\n\nOpen from seven.\n\nBack to top\n"
    result = clean_text(text)
    assert [u.text for u in result.kept] == ["Fresh bread daily.", "Open from seven."]
    assert result.kept_chars() == len("Fresh bread daily.") + len("Open from seven.")
    assert result.dropped_chars() == len("Share") + len("Back to top")
    assert result.dropped_by_reason() == {"navigation": 2}
    assert [len(s) for s in result.sections] == [1, 1]
    check_partition(text, result)
