"""rag eval --own-history: a conversation's gold answers replaced by the assistant's own."""

from __future__ import annotations

from dataclasses import dataclass, field

from evals.run_eval import repeats, replayed
from index.types import Passage
from rag.types import Answer, Citation


@dataclass
class Recorder:
    """Answers each question with its own text, upper-cased, and records what it was given."""

    calls: list[tuple[str, list[dict[str, str]]]] = field(default_factory=list)

    def answer(self, question: str, history: list[dict[str, str]]) -> Answer:
        self.calls.append((question, list(history)))
        return Answer(question.upper(), (), False, ())


def gold(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [t for q, a in pairs for t in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]


def test_each_earlier_turn_is_answered_in_order_with_the_replayed_turns_before_it() -> None:
    a = Recorder()
    out = replayed(a, gold(("who?", "Ann"), ("where?", "Oslo")), {})
    assert [t["content"] for t in out] == ["who?", "WHO?", "where?", "WHERE?"]
    assert a.calls[0] == ("who?", [])
    assert a.calls[1] == ("where?", [{"role": "user", "content": "who?"}, {"role": "assistant", "content": "WHO?"}])


def test_a_conversation_prefix_is_answered_once() -> None:
    a, said = Recorder(), {}
    replayed(a, gold(("who?", "Ann")), said)
    replayed(a, gold(("who?", "Ann"), ("where?", "Oslo")), said)
    assert [q for q, _ in a.calls] == ["who?", "where?"]
    replayed(a, gold(("what?", "x")), said)  # another conversation starts anew
    assert [q for q, _ in a.calls] == ["who?", "where?", "what?"]


def test_an_answer_repeats_the_history_when_its_lead_sentence_was_said() -> None:
    text = "The bridge opened in 1932. It is long."
    p = Passage("p", "d.txt", text, 100, 100 + len(text), "", "", ((100, 126), (127, 100 + len(text))))
    lead = Answer("It is long. [1]", (Citation(1, p, 127, 100 + len(text)),), False, ())
    said = gold(("q", "It   is long. [1]"))
    assert repeats(lead, said)
    assert not repeats(lead, gold(("q", "The bridge opened in 1932. [1]")))
    assert not repeats(Answer("The documents do not say.", (), True, ()), said)
    # a sentence inside a longer one that was said is not a repeat; every cited one must be
    assert not repeats(lead, gold(("q", "Critics say It is long. or not. [1]")))
    both = Answer("…", (Citation(1, p, 100, 126), Citation(1, p, 127, 100 + len(text))), False, ())
    assert not repeats(both, said)
    assert repeats(both, gold(("q", "The bridge opened in 1932. [1] It is long. [1]")))
