"""The assistant's value types: hits, citations, answers and chat turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from index.types import Passage


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Query:
    """What retrieval searches for: the question, and context carried from the history."""

    text: str
    context: str = ""
    context_weight: float = 0.0
    # a follow-up's last exchange (the user's question, then the start of the answer), which
    # the reader reads beside the question ("From what country?" says little alone)
    recent: str = ""

    @property
    def for_reader(self) -> str:
        return f"{self.text} ({self.recent})" if self.recent else self.text


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    rank: int


@dataclass(frozen=True)
class Citation:
    """What ``[marker]`` in an answer points to; sentence offsets are absolute in the document."""

    marker: int
    passage: Passage
    sentence_start: int
    sentence_end: int
    # the phrase inside the sentence that answers the question (absolute offsets), when the
    # question asks for a date, number or name and the sentence holds a new one
    phrase: tuple[int, int] | None = None

    @property
    def doc_id(self) -> str:
        return self.passage.doc_id

    @property
    def page(self) -> int | None:
        """The PDF page the cited sentence is on."""
        return self.passage.page_at(self.sentence_start)

    @property
    def sentence(self) -> str:
        p = self.passage
        return p.text[self.sentence_start - p.start : self.sentence_end - p.start]


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    hits: tuple[Hit, ...]
    notices: tuple[str, ...] = field(default_factory=tuple)
    mode: str = "extractive"
    resolved_query: str = ""
    # the answer scorer's probability that the documents answer the question (extractive mode)
    confidence: float | None = None
    # whether the reader read the candidates (extractive mode; False: the fast stage was sure)
    reader_used: bool | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "mode": self.mode,
            "notices": list(self.notices),
            "resolved_query": self.resolved_query,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "reader_used": self.reader_used,
            "citations": [
                {
                    "marker": c.marker,
                    "passage_id": c.passage.id,
                    "doc_id": c.passage.doc_id,
                    "title": c.passage.title,
                    "author": c.passage.author,
                    "page": c.page,
                    "section": c.passage.section,
                    "text": c.passage.text,
                    "start": c.passage.start,
                    "end": c.passage.end,
                    "sentence": c.sentence,
                    "sentence_start": c.sentence_start,
                    "sentence_end": c.sentence_end,
                    "phrase": None if c.phrase is None else c.passage.text[
                        c.phrase[0] - c.passage.start : c.phrase[1] - c.passage.start],
                    "phrase_start": None if c.phrase is None else c.phrase[0],
                    "phrase_end": None if c.phrase is None else c.phrase[1],
                }
                for c in self.citations
            ],
            "retrieved": [
                {
                    "passage_id": h.passage.id,
                    "doc_id": h.passage.doc_id,
                    "title": h.passage.title,
                    "text": h.passage.text,
                    "start": h.passage.start,
                    "end": h.passage.end,
                    "score": round(h.score, 6),
                    "rank": h.rank,
                }
                for h in self.hits
            ],
        }
