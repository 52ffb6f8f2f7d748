"""The assistant on the seed index: follow-ups, grounded citations, abstention, bad input."""

from __future__ import annotations

import re

import pytest

from rag.assistant import CHOOSING, SEARCHING
from rag.errors import EmptyQuestion
from rag.retrieval.langchain import LangChainRetriever
from rag.types import Query, Turn

LANKOV_Q = "Which Russian observer does Fitzpatrick quote about Trump's tough stance?"


def test_follow_up_is_resolved_from_the_history(assistant) -> None:  # noqa: ANN001
    first = assistant.answer(LANKOV_Q)
    assert "Lankov" in first.text
    history = [Turn("user", LANKOV_Q), Turn("assistant", first.text)]
    follow = assistant.answer("Where is he based now?", history)
    assert "Lankov" in follow.resolved_query and not follow.abstained
    assert {c.doc_id for c in follow.citations} == {c.doc_id for c in first.citations}


# an xfail from 2026-12-04 to 2026-12-05: that scorer repeated its last answer here; the one
# trained with the listwise reader loss answers with the Seoul sentence again
def test_follow_up_answers_with_the_new_sentence(assistant) -> None:  # noqa: ANN001
    first = assistant.answer(LANKOV_Q)
    history = [Turn("user", LANKOV_Q), Turn("assistant", first.text)]
    assert "Seoul" in assistant.answer("Where is he based now?", history).text


def test_stand_alone_question_ignores_stale_history(assistant) -> None:  # noqa: ANN001
    history = [Turn("user", LANKOV_Q), Turn("assistant", "Andrei Lankov.")]
    q = "Which news organization did Trump tell that Russia was not helping at all?"
    with_history = assistant.answer(q, history)
    alone = assistant.answer(q)
    assert with_history.resolved_query == q
    assert [h.passage.id for h in with_history.hits] == [h.passage.id for h in alone.hits]


def test_every_answer_sentence_is_a_verbatim_cited_source_sentence(assistant, dev_items) -> None:  # noqa: ANN001
    for item in dev_items:
        answer = assistant.answer(item["question"], item["history"])
        if answer.abstained:
            assert not answer.citations
            continue
        assert answer.citations
        assert len(answer.text.split()) <= 80 + 60  # one long sentence may exceed the budget
        pieces = [p.strip() for p in re.split(r"\[\d+\]", answer.text) if p.strip()]
        assert len(pieces) == len(answer.citations)
        for piece, cite in zip(pieces, answer.citations, strict=True):
            assert piece == cite.sentence.strip()
            source = (assistant.settings.index.docs_dir / cite.doc_id).read_text(encoding="utf-8")
            assert source[cite.sentence_start : cite.sentence_end] == cite.sentence
            assert cite.passage.start <= cite.sentence_start < cite.sentence_end <= cite.passage.end
        markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.text)]
        assert sorted(set(markers)) == list(range(1, max(markers) + 1))


def test_off_topic_question_abstains_with_related_reading(assistant) -> None:  # noqa: ANN001
    # near misses (a detail the documents do not give) are the scorer's weak spot: README,
    # "Answer scorer"; questions about something else entirely must not get an answer
    for question in ("What is the recipe for sourdough bread?",
                     "Which team won the 1998 football World Cup?"):
        answer = assistant.answer(question)
        assert answer.abstained, (question, answer.confidence)
        assert "do not say" in answer.text
        assert answer.hits and not answer.citations


def test_bad_input(assistant) -> None:  # noqa: ANN001
    for blank in ("", "   ", "\n\t", "\x00\x00"):
        with pytest.raises(EmptyQuestion):
            assistant.answer(blank)
    long_q = "Why did North Korea scale back its winter exercises? " * 400
    answer = assistant.answer(long_q)
    assert any("long" in n for n in answer.notices)
    for odd in ("😀🙈", "<script>alert(1)</script>", "北朝鮮の制裁は？", "Was sagt Putin über Sanktionen?"):
        result = assistant.answer(odd)
        assert result.abstained or result.citations


def test_streaming_ends_with_the_same_answer(assistant) -> None:  # noqa: ANN001
    steps = list(assistant.stream("Why has North Korea scaled back its winter military exercises?"))
    assert steps[-1].answer is not None
    assert steps[-1].text == steps[-1].answer.text
    # real progress, not the answer replayed word by word
    assert [s.text for s in steps[:-1]] == [SEARCHING, CHOOSING]
    assert all(s.answer is None for s in steps[:-1])
    assert "conserve fuel" in steps[-1].text


def test_hybrid_retriever_is_a_langchain_retriever(assistant) -> None:  # noqa: ANN001
    retriever = LangChainRetriever(search=assistant.retriever)
    docs = retriever.invoke("Russian tankers transferred fuel at sea")
    assert len(docs) == assistant.settings.retrieval.k
    assert docs[0].metadata["doc_id"] == "004_5c9bbad1b05f2a31.txt"
    assert "three times" in " ".join(d.page_content for d in docs[:2])
    for mode in ("dense", "bm25", "hybrid"):
        hits = assistant.retriever.search(Query("Hwasong-15 missile test"), k=3, mode=mode)
        assert [h.rank for h in hits] == [1, 2, 3]
        assert "Hwasong-15" in hits[0].passage.text
