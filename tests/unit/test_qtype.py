"""expected_kind, count_head and offers: what a question asks for, and whether a sentence gives it."""

from __future__ import annotations

import pytest

from rag.qtype import STRICT, answer_span, count_head, expected_kind, offers


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("On what date did the bakery open?", "day_date"),
        ("What day is the match?", "day_date"),
        ("Which date was the launch?", "day_date"),
        ("What is the exact date of the eclipse?", "day_date"),
        ("What year did the hospital open?", "year"),
        ("In which year was the comet found?", "year"),
        ("How much did the telescope cost?", "amount"),
        ("how much flour is needed", "amount"),
        ("How many goals did the striker score?", "count"),
        ("How many times did the team win the cup?", "count"),
        ("What was the name of the ship?", "name"),
        ("What is the chef called?", "name"),
        ("Who founded the company?", "who"),
        ("Whose recipe won the prize?", "who"),
        ("And who is the head nurse?", "who"),
        ("Where is the observatory?", "where"),
        ("In which city does the club play?", "where"),
        ("When did the ward reopen?", "when"),
        ("Since when has the club played there?", "when"),
        ("Why did the oven fail?", None),
        ("Tell me about the clinic.", None),
        ("", None),
    ],
)
def test_expected_kind(question: str, kind: str | None) -> None:
    assert expected_kind(question) == kind


def test_strict_kinds() -> None:
    assert STRICT == {"day_date", "year", "amount", "count", "name"}


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("How many goals did the striker score?", "goals"),
        ("How many patients were treated?", "patients"),
        ("How many new software engineers did the company hire in May?", "engineers"),
        ("how many cups of flour are needed", "cups"),
        ("How many people in the town own a telescope?", "people"),
        ("How many times did the team win the cup?", "times"),
        ("How many?", None),
        ("How much did it cost?", None),
        ("Who scored?", None),
    ],
)
def test_count_head(question: str, head: str | None) -> None:
    assert count_head(question) == head


@pytest.mark.xfail(strict=True, reason="count_head requires whitespace after every word, so the '?' or end "
                                       "of text alternatives never match right after the counted noun")
@pytest.mark.parametrize("question", ["How many goals?", "How many goals"])
def test_count_head_when_the_noun_ends_the_question(question: str) -> None:
    assert count_head(question) == "goals"


@pytest.mark.parametrize(
    ("kind", "sentence", "question", "expected"),
    [
        (None, "Anything at all.", "Why?", True),
        ("day_date", "The bakery opened on 3 March.", "On what date did the bakery open?", True),
        ("day_date", "The bakery opened on March 3rd, 2015.", "On what date did the bakery open?", True),
        ("day_date", "It opened on Friday.", "What day did it open?", True),
        ("day_date", "It opened on 2015-03-03.", "What day did it open?", True),
        ("day_date", "The bakery opened in 2015.", "On what date did the bakery open?", False),
        # the date is already in the question: nothing new
        ("day_date", "It opened on 3 March.", "Did it open on 3 March, and on which day?", False),
        ("year", "The hospital opened in 1998.", "What year did the hospital open?", True),
        ("year", "The hospital opened in the 1990s.", "What year did the hospital open?", True),
        ("year", "The hospital has 300 beds.", "What year did the hospital open?", False),
        ("year", "It was rebuilt in 1998.", "Was it 1998, and which year?", False),
        ("when", "The ward reopened last spring.", "When did the ward reopen?", True),
        ("when", "The ward has forty beds.", "When did the ward reopen?", False),
        ("amount", "The telescope cost $4 million.", "How much did the telescope cost?", True),
        ("amount", "Add 2 kg of flour.", "How much flour?", True),
        ("amount", "Add 20 percent more water.", "How much water?", True),
        ("amount", "The team has 11 players.", "How much did it cost?", False),
        ("amount", "The soup needs salt.", "How much salt?", False),
        ("count", "The striker scored 14 goals this season.", "How many goals did the striker score?", True),
        ("count", "The striker scored fourteen goals.", "How many goals did the striker score?", True),
        ("count", "The striker played 30 matches.", "How many goals did the striker score?", False),
        ("count", "The clinic treated 40 patients in 2 days.", "How many patients did the clinic treat?", True),
        ("count", "The team won the cup twice.", "How many times did the team win the cup?", True),
        ("count", "The team won the cup 3 times.", "How many times did the team win the cup?", True),
        ("count", "The team won the cup.", "How many times did the team win the cup?", False),
        ("name", "The ship was called Sea Lark.", "What was the name of the ship?", True),
        ("name", "the ship was called the lark.", "What was the name of the ship?", False),
        # a capital that starts the sentence, or a word from the question, is not new
        ("name", "The Ship sailed.", "What was the name of the ship?", False),
        ("who", "The company was founded by Priya Nair.", "Who founded the company?", True),
        ("who", "Brightloop was founded in a garage.", "Who founded Brightloop?", False),
        ("where", "The observatory sits near Tucson.", "Where is the observatory?", True),
        ("where", "The observatory sits on a hill.", "Where is the observatory?", False),
    ],
)
def test_offers(kind: str | None, sentence: str, question: str, expected: bool) -> None:
    assert offers(kind, sentence, question) is expected


@pytest.mark.xfail(strict=True, reason="offers('amount') checks whether the number match starts with a "
                                       "currency sign, but NUMBER never includes the sign: '$30' is missed")
@pytest.mark.parametrize("sentence", ["The ticket was €30.", "The ticket was $30.", "A ticket costs £12 now."])
def test_offers_amount_with_a_currency_sign_before_the_number(sentence: str) -> None:
    assert offers("amount", sentence, "How much was the ticket?") is True


@pytest.mark.parametrize(("question", "sentence", "phrase"), [
    ("When did the keepers leave?", "Keepers lived there until 1965, when the light was automated.", "1965"),
    ("How many tankers were seen?", "Satellites spotted 30 tankers near the port in March.", "30"),
    ("How much fuel did the ship carry?", "It carried 500 million barrels of oil.", "500 million barrels"),
    ("Who painted the lighthouse?", "The tower was painted by Maria van Dorp in spring.", "Maria van Dorp"),
    ("Where does the keeper live?", "The keeper now lives in Port Elin, by the harbour.", "Port Elin"),
    ("On what date did they sail?", "They sailed on 9 February with the tide.", "9 February"),
])
def test_answer_span_marks_the_new_fact(question: str, sentence: str, phrase: str) -> None:
    span = answer_span(expected_kind(question), sentence, question)
    assert span is not None and sentence[span[0]:span[1]] == phrase


def test_answer_span_is_none_without_a_new_fact() -> None:
    q = "In what year was the tower built in 1871?"
    assert answer_span(expected_kind(q), "The tower was built in 1871.", q) is None
    assert answer_span(expected_kind("Why was it built?"), "It was built in 1871.", "Why was it built?") is None
    q = "How much did it cost?"
    assert answer_span(expected_kind(q), "It cost a great deal.", q) is None


def test_where_prefers_the_name_after_a_place_preposition() -> None:
    q = "Where does the keeper live now?"
    s = "The keeper now lives in Port Elin, where Harbour Board members rarely visit."
    span = answer_span(expected_kind(q), s, q)
    assert span is not None and s[span[0]:span[1]] == "Port Elin"
