"""Property-based tests on the question path: always an Answer or a clear EmptyQuestion."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import EmptyQuestion
from rag.types import Answer

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
punctuation = st.text(alphabet=st.sampled_from(list("!?.,;:'()[]{}<>/|-_=+*&^%$#@~`\"\\")), min_size=1)
controls = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1)


def check(assistant, question: object, history: object = ()) -> None:  # noqa: ANN001
    try:
        answer = assistant.answer(question, history)
    except EmptyQuestion as exc:
        assert "empty" in str(exc)
        return
    assert isinstance(answer, Answer) and answer.text
    assert answer.abstained or answer.citations


@HYP
@given(st.text(max_size=400))
def test_any_unicode(assistant, text: str) -> None:  # noqa: ANN001
    check(assistant, text)


@HYP
@given(st.one_of(punctuation, controls, st.text(alphabet="\x00 \t\n", min_size=1)))
def test_punctuation_control_characters_and_nuls(assistant, text: str) -> None:  # noqa: ANN001
    check(assistant, text)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["a", "Kim ", "\u200b", "🙂", "x\x00"]))
def test_one_megabyte_questions(assistant, unit: str) -> None:  # noqa: ANN001
    check(assistant, unit * (2**20 // len(unit.encode())))


@HYP
@given(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "x"]),
                                        "content": st.one_of(st.text(max_size=200), st.none(),
                                                             st.integers())}), max_size=6),
       st.text(min_size=1, max_size=100))
def test_malformed_history(assistant, history: list, text: str) -> None:  # noqa: ANN001
    check(assistant, text, history)


def test_non_string_question_is_a_clear_error(assistant) -> None:  # noqa: ANN001
    for bad in (None, 42, b"bytes", ["list"]):
        try:
            assistant.answer(bad)  # type: ignore[arg-type]
        except EmptyQuestion:
            continue
        raise AssertionError(f"{bad!r} was accepted")
