"""Boilerplate removal on pages written for the tests, and on the seed documents."""

from __future__ import annotations

import re

from index.clean import clean_text
from index.load import guess_author, guess_title
from tests.conftest import SEEDS

NEWS_PAGE = """Your browser is out of date. Please upgrade your browser to view this site.

Skip to main content

Harbour Town Approves New Sea Wall

Councillors voted on Tuesday to fund a new sea wall after winter storms flooded the old harbour twice in one month. The project will cost the town about four million pounds over three years.

A fisherman mends nets on the quay.
A fisherman mends nets on the quay. Jane Doe / Reuters

The mayor said the wall would protect homes and the fishing fleet for fifty years, and that work would start in the spring once the contractor is chosen.

Sign up for our newsletter

Opponents argued that the money should go to moving the most exposed houses inland instead, a plan that engineers said would cost less in the long run.

The mayor said the wall would protect homes and the fishing fleet.

Back to top

Related stories

  • Local news
    12 March 2019

    Harbour festival returns

    The summer festival is back after a two-year break, with boat races and music.

  • Local news
    02 March 2019

    New ferry timetable

    Ferries will run every hour from May, the operator said.

Jane Doe is a reporter covering coastal towns.
"""


def kept_text(text: str) -> str:
    return "\n".join(u.text for u in clean_text(text).kept)


def test_made_up_page_keeps_the_article_and_drops_the_chrome() -> None:
    kept = kept_text(NEWS_PAGE)
    assert "Councillors voted on Tuesday to fund a new sea wall" in kept
    assert "Opponents argued that the money should go" in kept
    assert "The mayor said the wall would protect homes and the fishing fleet for fifty years" in kept
    for chrome in ("browser", "Skip to main content", "Sign up for our newsletter", "Back to top",
                   "Related stories", "Harbour festival returns", "New ferry timetable",
                   "Jane Doe / Reuters", "12 March 2019", "A fisherman mends nets"):
        assert chrome not in kept, chrome


def test_pull_quote_repeating_a_paragraph_is_dropped_but_the_paragraph_stays() -> None:
    result = clean_text(NEWS_PAGE)
    reasons = {u.text: why for u, why in result.dropped}
    assert reasons["The mayor said the wall would protect homes and the fishing fleet."] == (
        "repeated caption or pull quote")


def test_kept_units_are_verbatim_slices() -> None:
    result = clean_text(NEWS_PAGE)
    for u in result.kept:
        assert NEWS_PAGE[u.start : u.end] == u.text


def test_plain_article_without_chrome_is_untouched() -> None:
    text = ("A quiet report.\n\nThe committee met on Monday and agreed the budget. "
            "It will publish the minutes next week.\n\nNothing else was decided.\n")
    result = clean_text(text)
    assert not result.dropped
    assert len(result.sections) == 1


SEED_BODY = {
    "000_021bd418710c3a0f.txt": [
        "Pence told Washington Post columnist Josh Rogin that the US was ready to talk",
        "Lankov now lives in Seoul",
        "It is worth testing whether this still holds.",
        "By\xa0Mark Fitzpatrick, Executive Director",
    ],
    "004_5c9bbad1b05f2a31.txt": [
        "Flying back from the Winter Olympics in Pyongchang",
        "Putin reportedly told South Korean President Moon Jae-in that sanctions would not work",
        "Evelyn N. Farkas, a senior fellow at the Atlantic Council",
    ],
}
SEED_CHROME = {
    "000_021bd418710c3a0f.txt": ["Latest Posts", "Pompeo’s 12 angry demands", "Macron, l’américain?",
                                 "Back to content list", "Armed Conflict Database", "23 May 2018"],
    "004_5c9bbad1b05f2a31.txt": ["IE 11 is not supported", "Getty Images"],
}


def test_seed_article_text_survives_and_teasers_do_not() -> None:
    for name, needles in SEED_BODY.items():
        kept = kept_text((SEEDS / name).read_text(encoding="utf-8"))
        for needle in needles:
            assert needle in kept, (name, needle)
        for chrome in SEED_CHROME[name]:
            assert chrome not in kept, (name, chrome)


def test_title_and_author_heuristics() -> None:
    page = "Harbour Town Approves New Sea Wall\n\nBy Jane Doe, staff reporter\n\nBody text here.\n"
    assert guess_title(page, "text") == "Harbour Town Approves New Sea Wall"
    assert guess_author(page) == "Jane Doe"
    bio = "Body.\n\nJohn Q. Public, a senior fellow at Somewhere Institute, wrote this.\n"
    assert guess_author(bio) == "John Q. Public"
    md = "Intro line that is long enough to be a sentence.\n\n# The Real Title\n"
    assert guess_title(md, "markdown") == "The Real Title"


def test_seed_titles_and_authors() -> None:
    from index.load import load_folder

    docs = {d.doc_id: d for d in load_folder(SEEDS).documents}
    assert docs["000_021bd418710c3a0f.txt"].author == "Mark Fitzpatrick"
    assert docs["004_5c9bbad1b05f2a31.txt"].author == "Evelyn N. Farkas"
    assert re.search("strategy on North Korea emerges", docs["004_5c9bbad1b05f2a31.txt"].title)
