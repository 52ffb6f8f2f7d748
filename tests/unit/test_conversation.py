"""Follow-up resolution on made-up conversations from several domains (no model)."""

from __future__ import annotations

import pytest

from rag.conversation import is_follow_up, person_candidates, resolve
from rag.types import Turn


def names(text: str) -> list[str]:
    return [n for n, _ in person_candidates(text)]


@pytest.mark.parametrize("text, person", [
    ("Which official in South Africa met Mike Pence?", "Mike Pence"),
    ("Dr. Amara Okafor said the Lagos General Hospital was full.", "Amara Okafor"),
    ("The Boston Red Sox signed Jorge Alvarez in March.", "Jorge Alvarez"),
    ("Chef Lucia Bianchi told the Milan Culinary Institute about her risotto.", "Lucia Bianchi"),
    ("A former engineer in Oslo Ingrid Berg says the bridge is safe.", "Ingrid Berg"),
])
def test_the_best_person_candidate_comes_from_general_evidence(text: str, person: str) -> None:
    found = person_candidates(text)
    best = max(score for _, score in found)
    assert next(n for n, s in found if s == best) == person


@pytest.mark.parametrize("text", [
    "The European Space Agency launched it from French Guiana.",
    "It rained in New Zealand on Monday.",
    "Sales at the Riverside Museum rose in September.",
    "The NASA and ESA teams met in Geneva.",
])
def test_places_organisations_and_dates_are_not_people(text: str) -> None:
    assert names(text) == [] or all(n not in ("European Space Agency", "New Zealand",
                                             "Riverside Museum", "NASA", "ESA", "Geneva")
                                     for n in names(text))


def test_demonyms_are_not_people() -> None:
    assert "Canadian" not in names("Which Canadian scientist does Moreau cite?")
    assert "Moreau" in names("Which Canadian scientist does Moreau cite?")


def test_a_surname_used_again_alone_marks_the_full_name() -> None:
    text = "A reviewer praised the novel by Tomas Lindqvist. Critics agree; Lindqvist won a prize."
    found = dict(person_candidates(text))
    assert found["Tomas Lindqvist"] > found.get("Critics", -1)


def test_pronoun_is_resolved_to_the_person_not_the_place() -> None:
    history = [Turn("user", "Which official in South Africa met Mike Pence?"),
               Turn("assistant", "A trade official met him in Pretoria.")]
    r = resolve("Where is he based now?", history)
    assert r.follow_up and r.query.text == "Where is Mike Pence based now?"
    assert r.entity == "Mike Pence"
    assert "South Africa" in r.query.context  # earlier turns carried as context


def test_possessive_pronouns_become_possessive_names() -> None:
    history = [Turn("user", "What did coach Maria Santos say about the final?")]
    assert resolve("What was her plan?", history).query.text == "What was Maria Santos's plan?"


def test_latest_turn_naming_a_person_wins() -> None:
    history = [Turn("user", "What did Hugo Laurent bake?"), Turn("assistant", "Bread."),
               Turn("user", "And what did Priya Nair cook?"), Turn("assistant", "Curry.")]
    assert resolve("Where did she train?", history).entity == "Priya Nair"


@pytest.mark.parametrize("question, follow", [
    ("Why?", True),
    ("And the second one?", True),
    ("What about the other team?", True),
    ("Until when?", True),
    ("When did the Apollo 11 crew land on the Moon?", False),
    ("Which enzyme breaks down starch in the mouth?", False),
])
def test_follow_up_detection(question: str, follow: bool) -> None:
    history = [Turn("user", "Who designed the lunar module?"), Turn("assistant", "Grumman.")]
    assert is_follow_up(question, history) is follow


def test_nothing_is_a_follow_up_without_history() -> None:
    assert not is_follow_up("Why?", [])
    r = resolve("Where is he now?", [])
    assert not r.follow_up and r.query.text == "Where is he now?" and r.query.context == ""


def test_history_window_limits_the_context() -> None:
    history = []
    for i in range(10):
        history += [Turn("user", f"Question number {i} about comets?"), Turn("assistant", f"Answer {i}.")]
    r = resolve("Why?", history, max_turns=2)
    assert "number 9" in r.query.context and "number 8" in r.query.context
    assert "number 7" not in r.query.context


def test_a_follow_up_carries_its_last_exchange_for_the_reader() -> None:
    from rag.conversation import resolve
    from rag.types import Turn

    history = [Turn("user", "Which agency published the photos?"),
               Turn("assistant", "The German news outlet Der Spiegel published them on its site "
                                 "late on Sunday evening. [1]")]
    q = resolve("From what country?", history).query
    assert q.recent == ("Which agency published the photos? The German news outlet Der Spiegel "
                        "published them on its site late")
    assert q.for_reader == f"From what country? ({q.recent})"
    alone = resolve("Which agency published the photos?", []).query
    assert alone.recent == "" and alone.for_reader == alone.text
