"""One Assistant API for the CLI, the UI and the evals: answer(question, history) -> Answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from index.embed import Embedder
from index.search import SearchIndex
from rag.conversation import resolve
from rag.errors import BackendUnavailable, EmptyQuestion, InvalidSetting
from rag.extractive import ExtractiveAnswerer
from rag.retrieval.hybrid import HybridSearch
from rag.settings import AnswerMode, Mode, RagSettings
from rag.text import normalize_question
from rag.types import Answer, Query, Turn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Partial:
    """A streaming step: the answer text so far; ``answer`` is set on the last step."""

    text: str
    answer: Answer | None = None


class Assistant:
    def __init__(self, settings: RagSettings, index: SearchIndex | None = None,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings
        s = settings.index
        self.embedder = embedder or Embedder(s.model_path, s.precision, s.batch_size)
        self.index = index or SearchIndex.load(s)
        self.retriever = HybridSearch(self.index, self.embedder, settings.retrieval)
        a = settings.answer
        self.extractive = ExtractiveAnswerer(
            self.index, self.embedder, a.abstain_threshold, a.max_answer_words,
            a.max_answer_sentences, a.answer_passages,
        )
        self._chat_model: Any = None

    # -- public API ------------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[Turn | dict[str, str]] = (),
               k: int | None = None, mode: Mode | str | None = None,
               answer_mode: AnswerMode | str | None = None) -> Answer:
        final: Answer | None = None
        for step in self.stream(question, history, k, mode, answer_mode):
            final = step.answer or final
        assert final is not None
        return final

    def stream(self, question: str, history: Sequence[Turn | dict[str, str]] = (),
               k: int | None = None, mode: Mode | str | None = None,
               answer_mode: AnswerMode | str | None = None) -> Iterator[Partial]:
        """Answer steps: partial texts, then the final Answer. Bad k or mode: InvalidSetting."""
        text, notices = self._validate(question)
        k, mode, answer_mode = self._options(k, mode, answer_mode)
        turns = _turns(history)
        use_llm = answer_mode is AnswerMode.LLM and self.settings.llm.enabled
        if answer_mode is AnswerMode.LLM and not use_llm:
            notices.append("No LLM backend is configured; this is the extractive answer.")
        a = self.settings.answer
        resolution = resolve(text, turns, a.history_turns, a.context_weight)
        query = resolution.query
        if use_llm and resolution.follow_up:
            try:
                from rag.llm import condense

                query = Query(condense(self._model(), text, turns))
            except BackendUnavailable as exc:
                log.warning("%s", exc)
        qvec = self.retriever.query_vector(query)
        hits = self.retriever.search(query, k=k, mode=mode, query_vector=qvec)
        focus = resolution.entity if query.text != text else None
        said = tuple(t.content for t in turns if t.role == "assistant")

        def extractive() -> Answer:
            # sentences are scored against the question as resolved; context weighs in the vector
            return self.extractive.answer(query.text, qvec, hits, query.context,
                                          resolved=query.text, focus=focus, said=said)

        if use_llm:
            yield from self._stream_llm(query.text, hits, notices, extractive)
            return
        answer = extractive()
        answer = replace(answer, notices=tuple(notices) + answer.notices)
        yield from _stream_words(answer)

    # -- internals -------------------------------------------------------------------------
    def _options(self, k: int | None, mode: Mode | str | None,
                 answer_mode: AnswerMode | str | None) -> tuple[int, Mode, AnswerMode]:
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100):
            raise InvalidSetting(f"k must be a whole number from 1 to 100, not {k!r}.")
        try:
            m = Mode(mode if mode is not None else self.settings.retrieval.mode)
        except ValueError:
            raise InvalidSetting(f"mode must be one of {', '.join(Mode)}, not {mode!r}.") from None
        try:
            am = AnswerMode(answer_mode if answer_mode is not None else self.settings.answer_mode)
        except ValueError:
            raise InvalidSetting(
                f"answer mode must be one of {', '.join(AnswerMode)}, not {answer_mode!r}.") from None
        if am is AnswerMode.AUTO:
            am = AnswerMode.LLM if self.settings.llm.enabled else AnswerMode.EXTRACTIVE
        return (k if k is not None else self.settings.retrieval.k), m, am

    def _validate(self, question: object) -> tuple[str, list[str]]:
        if not isinstance(question, str):
            raise EmptyQuestion()
        text = normalize_question(question)
        if not text:
            raise EmptyQuestion()
        notices = []
        limit = self.settings.answer.max_question_chars
        if len(text) > limit:
            text = text[:limit].rsplit(" ", 1)[0] or text[:limit]
            notices.append(f"The question was long; only its first {len(text):,} characters were used.")
        return text, notices

    def _model(self) -> Any:
        if self._chat_model is None:
            from rag.llm import make_chat_model

            self._chat_model = make_chat_model(self.settings.llm)
        return self._chat_model

    def _stream_llm(self, question: str, hits: list, notices: list[str],
                    extractive: Callable[[], Answer]) -> Iterator[Partial]:
        from rag.llm import finish, stream_tokens

        text = ""
        try:
            for token in stream_tokens(self._model(), question, hits):
                text += token
                yield Partial(text)
            answer = finish(text, hits, question)
            yield Partial(answer.text, replace(answer, notices=tuple(notices) + answer.notices))
        except BackendUnavailable as exc:
            log.warning("%s", exc)
            fallback = extractive()  # the same answer the extractive mode gives
            notice = f"The LLM backend failed ({exc}); this is the extractive answer."
            yield Partial(fallback.text, replace(fallback, notices=(*notices, notice)))


def _turns(history: Sequence[Turn | dict[str, str]]) -> list[Turn]:
    turns = []
    for t in history:
        if isinstance(t, Turn):
            turns.append(t)
        elif isinstance(t, dict) and t.get("role") in ("user", "assistant"):
            content = t.get("content")
            if isinstance(content, str):
                turns.append(Turn(t["role"], normalize_question(content)))  # type: ignore[arg-type]
    return turns


def _stream_words(answer: Answer) -> Iterator[Partial]:
    words = answer.text.split(" ")
    for i in range(4, len(words), 4):
        yield Partial(" ".join(words[:i]))
    yield Partial(answer.text, answer)


__all__ = ["Assistant", "Partial"]
