"""One Assistant API for the CLI, the UI and the evals: answer(question, history) -> Answer."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from index.embed import Embedder
from index.search import SearchIndex
from rag.candidates import (
    Candidate,
    CandidateBuilder,
    before_text,
    reader_key,
    reader_pick,
    set_reader,
)
from rag.conversation import resolve
from rag.errors import BackendUnavailable, EmptyQuestion, InvalidSetting
from rag.extractive import ABSTAIN_TEXT, ExtractiveAnswerer, Shape
from rag.retrieval.hybrid import HybridSearch
from rag.scorer import AnswerScorer, ScorerError
from rag.settings import AnswerMode, Backend, Mode, RagSettings
from rag.text import entities, normalize_question
from rag.types import Answer, Hit, Query, Turn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A question made ready to answer: resolved query, its vector and the retrieved hits."""

    text: str
    notices: list[str]
    query: Query
    qvec: np.ndarray
    hits: list[Hit]
    focus: str | None
    said: tuple[str, ...]
    use_llm: bool


SEARCHING = "Searching the documents…"
CHOOSING = "Choosing the sentences that answer…"


@dataclass(frozen=True)
class Partial:
    """A streaming step: the answer text so far; ``answer`` is set on the last step."""

    text: str
    answer: Answer | None = None


class Assistant:
    def __init__(self, settings: RagSettings, index: SearchIndex | None = None,
                 embedder: Embedder | None = None, scorer: AnswerScorer | None = None) -> None:
        self.settings = settings
        s = settings.index
        self.embedder = embedder or Embedder.from_settings(s)
        self.index = index or SearchIndex.load(s)
        self.retriever = HybridSearch(self.index, self.embedder, settings.retrieval)
        a = settings.answer
        self.builder = CandidateBuilder(self.index, self.embedder, a.answer_passages)
        self._scorer = scorer
        self._extractive: ExtractiveAnswerer | None = None
        self._fast: ExtractiveAnswerer | None = None
        self._chat_model: Any = None
        self._local_llm: Any = None
        self._reader: Any = None

    @property
    def extractive(self) -> ExtractiveAnswerer:
        """The extractive answerer, its scorer loaded on first use (ScorerError if missing)."""
        if self._extractive is None:
            a = self.settings.answer
            scorer = self._scorer or AnswerScorer.load(a.answerer_path or None)
            if a.abstain_threshold is not None:
                scorer = replace(scorer, threshold=a.abstain_threshold)
            self._extractive = self._answerer(scorer)
        return self._extractive

    def _answerer(self, scorer: AnswerScorer) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(scorer, Shape.of(self.settings.answer))

    @property
    def fast_extractive(self) -> ExtractiveAnswerer | None:
        """The answerer of the scorer's fast stage (no reader), or None when the cascade is off,
        the scorer has no fast stage or no reader to fall back on, or a threshold of its own was
        set (that threshold is the full scorer's)."""
        a = self.settings.answer
        scorer = self.extractive.scorer
        fast = scorer.fast
        if not a.cascade or fast is None or scorer.reader_file is None or a.abstain_threshold is not None:
            return None
        if self._fast is None or self._fast.scorer is not fast:
            self._fast = self._answerer(fast)
        return self._fast

    @property
    def reader(self) -> Any:
        """The answer scorer's reader (rag.reader.Reader), loaded on first use; None when the
        scorer was trained without one."""
        scorer = self.extractive.scorer
        if scorer.reader_file is None:
            return None
        if (self._reader is None or self._reader.path != scorer.reader_file
                or self._reader.precision != self.reader_precision):
            from index.embed import model_fingerprint
            from rag.reader import Reader

            s = self.settings.index
            self._reader = Reader(scorer.reader_file, s.model_path, s.cache_dir,
                                  model_fingerprint(s.model_path),
                                  threads=self.settings.answer.reader_threads or os.cpu_count() or 1,
                                  precision=self.reader_precision)
            from rag.threads import quiet_other_pools

            quiet_other_pools()  # the reader's threads compute; the others' would spin
            if scorer.reader_sha256 and self._reader.manifest.get("sha256") != scorer.reader_sha256:
                self._reader = None
                raise ScorerError(f"The reader at {scorer.reader_file} is not the one the answer "
                                  "scorer was trained with; retrain both with: rag train-answerer")
        return self._reader

    @property
    def reader_precision(self) -> str:
        """The reader's precision: the setting, or (auto) the one the scorer was trained with
        (fp32 answered in bf16 where the CPU has AMX: rag.reader.serving_precision)."""
        chosen = self.settings.answer.reader_precision
        if chosen != "auto":
            return chosen
        from rag.reader import serving_precision

        return serving_precision(self.extractive.scorer.reader_precision)

    def read(self, question: str, cands: list[Candidate]) -> list[Candidate]:
        """Let the reader score the candidates the cheap features rank highest."""
        reader = self.reader
        if reader is None or not cands:
            return cands
        picked = reader_pick(reader_key(np.stack([c.features for c in cands])),
                             self.extractive.scorer.reader_top)
        logits = reader.score(question, [(cands[i].text, before_text(cands[i])) for i in picked])
        set_reader(cands, picked, logits)
        return cands

    # -- public API ------------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[Turn | dict[str, str]] = (),
               k: int | None = None, mode: Mode | str | None = None,
               answer_mode: AnswerMode | str | None = None) -> Answer:
        final: Answer | None = None
        for step in self.stream(question, history, k, mode, answer_mode):
            final = step.answer or final
        assert final is not None
        return final

    def prepare(self, question: str, history: Sequence[Turn | dict[str, str]] = (),
                k: int | None = None, mode: Mode | str | None = None,
                answer_mode: AnswerMode | str | None = None) -> Prepared:
        """Validate, resolve a follow-up, retrieve: everything before the answer is chosen."""
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
        # what the assistant said (a refusal quotes no sentence and places no answer)
        said = tuple(t.content for t in turns if t.role == "assistant" and t.content != ABSTAIN_TEXT)
        return Prepared(text, notices, query, qvec, hits, focus, said, use_llm)

    def candidates(self, prepared: Prepared, read: bool = True) -> list[Candidate]:
        """Candidate sentences with features; scored against the question as resolved.
        ``read=False``: without the reader's logits (training computes them out of fold)."""
        p = prepared
        cands = self.builder.build(p.query.text, p.qvec, p.hits, p.query.context, p.focus, p.said)
        return self.read(p.query.for_reader, cands) if read else cands

    def extractive_answer(self, p: Prepared) -> Answer:
        """The extractive answer: the fast stage alone when it is sure, else read and score."""
        cands = self.candidates(p, read=False)
        fast = self.fast_extractive
        if fast is not None and cands:
            probs = fast.scorer.sentence_proba(np.stack([c.features for c in cands]))
            if self.extractive.scorer.fast_is_sure(probs):
                answer = fast.answer(p.query.text, cands, p.hits, p.query.text,
                                     bridge=lambda best: self._bridge(p, best, read=False), probs=probs)
                return replace(answer, reader_used=False)
        self.read(p.query.for_reader, cands)
        answer = self.extractive.answer(p.query.text, cands, p.hits, p.query.text,
                                        bridge=lambda best: self._bridge(p, best))
        # None: this scorer has no reader (there is nothing to skip)
        return replace(answer, reader_used=bool(cands) if self.reader is not None else None)

    def with_scorer(self, scorer: AnswerScorer) -> Assistant:
        """The same index and model, another answer scorer (cross-validation folds)."""
        return Assistant(self.settings, self.index, self.embedder, scorer)

    def with_index(self, index: SearchIndex) -> Assistant:
        """Another index (the collection changed), sharing the loaded model, answer scorer and
        LLM client, so the switch costs no loading."""
        other = Assistant(self.settings, index, self.embedder, self._scorer)
        other._extractive, other._reader, other._fast = self._extractive, self._reader, self._fast
        other._chat_model, other._local_llm = self._chat_model, self._local_llm
        return other

    def stream(self, question: str, history: Sequence[Turn | dict[str, str]] = (),
               k: int | None = None, mode: Mode | str | None = None,
               answer_mode: AnswerMode | str | None = None) -> Iterator[Partial]:
        """Answer steps: real progress notes (searching, then choosing sentences, or the LLM's
        tokens), then the final Answer. Bad k or mode: InvalidSetting."""
        yield Partial(SEARCHING)
        p = self.prepare(question, history, k, mode, answer_mode)

        def extractive() -> Answer:
            return self.extractive_answer(p)

        if p.use_llm:
            yield from self._stream_llm(p.query.text, p.hits, p.notices, extractive)
            return
        yield Partial(CHOOSING)
        answer = extractive()
        answer = replace(answer, notices=tuple(p.notices) + answer.notices)
        yield Partial(answer.text, answer)

    def warm(self) -> None:
        """Load the index, the embedding model and the answer scorer and run them once, so the
        first user's question does not pay for loading (servers call this before they listen).
        The reader is loaded and run too, even when the cascade answers the warm-up unread."""
        self.answer("What are these documents about?")
        if self.reader is not None:
            self.reader.score("What are these documents about?", [("These documents.", "")])

    # -- internals -------------------------------------------------------------------------
    def _bridge(self, p: Prepared, best: Candidate, read: bool = True) -> list[Candidate]:
        """Candidates from other documents, retrieved with the names the best sentence adds
        (read by the reader unless the fast stage answers)."""
        asked = p.query.text.lower()
        names = [e for e in entities(best.text) if e.lower() not in asked][:3]
        if not names:
            return []
        query = Query(f"{p.query.text} {' '.join(names)}")
        qvec = self.retriever.query_vector(query)  # once, for the search and the candidates
        hits = self.retriever.search(query, k=4, query_vector=qvec)
        other = [h for h in hits if h.passage.doc_id != best.hit.passage.doc_id][:2]
        if not other:
            return []
        found = self.builder.build(query.text, qvec, other)
        return self.read(query.text, found) if read else found

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

    def chat_model(self) -> Any:
        """The LangChain chat model of the configured LLM backend (started on first use)."""
        return self._model()

    def _model(self) -> Any:
        if self._chat_model is None:
            from rag.llm import make_chat_model

            llm = self.settings.llm
            if llm.backend is Backend.LOCAL:  # start the bundled model, then talk OpenAI to it
                from rag.local_llm import LocalLLM

                self._local_llm = LocalLLM(llm.model or None)
                llm = llm.model_copy(update={"backend": Backend.OPENAI, "model": "local",
                                             "base_url": self._local_llm.base_url})
            self._chat_model = make_chat_model(llm)
        return self._chat_model

    def _stream_llm(self, question: str, hits: list, notices: list[str],
                    extractive: Callable[[], Answer]) -> Iterator[Partial]:
        from rag.llm import finish, stream_tokens

        text = ""
        try:
            for token in stream_tokens(self._model(), question, hits):
                text += token
                yield Partial(text)
            answer = finish(text, hits, question, self.settings.llm.attribution)
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


__all__ = ["Assistant", "Partial"]
