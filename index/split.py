"""Sentence-aware passages sized for the embedding model, with stable ids and exact offsets."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

from index.clean import CleanResult, Unit
from index.sentences import split_sentences
from index.types import Document, Passage, passage_id

log = logging.getLogger(__name__)

TokenCounter = Callable[[list[str]], list[int]]

# The version of the rules that turn a document's text into units, sentences and passages
# (index.clean, index.sentences and this module). It is part of the index's chunk
# fingerprint, so raising it when they change makes an index built under the old rules
# rebuild on next use instead of answering from passages cut the old way.
# 2: a line broken mid-sentence joins the next line; a footnote marker ends a sentence.
# 3: not when the next line starts with a number of three digits or more (a year).
TEXT_RULES = 3


def token_counter(model_path: str, keep_pieces: bool = False) -> TokenCounter:
    """Word-piece counts from the model's own fast tokenizer (no torch needed); with
    ``keep_pieces``, an index.pieces.PieceCounter that keeps the counted texts' pieces."""
    path = Path(model_path) / "tokenizer.json"
    if path.is_file():
        from index.pieces import PieceCounter

        return PieceCounter(path, keep=keep_pieces)
    log.warning("no tokenizer.json in %s: estimating word pieces from words", model_path)
    return lambda texts: [int(len(t.split()) * 1.4) + 1 for t in texts]


def make_passages(
    doc: Document,
    cleaned: CleanResult,
    count: TokenCounter,
    max_tokens: int = 160,
    min_tokens: int = 48,
    overlap: int = 1,
) -> list[Passage]:
    """Pack whole sentences into passages within each section of kept text.

    A passage never crosses dropped text, never cuts a sentence (except a single sentence
    longer than the model reads, which is split at word boundaries), and holds at most
    ``max_tokens`` word pieces. Paragraphs shorter than ``min_tokens`` are merged with the
    next; a paragraph split over passages repeats ``overlap`` sentences.
    """
    passages: list[Passage] = []
    for section in cleaned.sections:
        paragraphs = [_sentences(doc.text, u, count, max_tokens) for u in section]
        for group in _pack(paragraphs, max_tokens, min_tokens, overlap):
            start, end = group[0][0], group[-1][1]
            text = doc.text[start:end]
            _, heading = doc.locate(start)
            passages.append(
                Passage(
                    id=passage_id(doc.doc_id, start, end, text),
                    doc_id=doc.doc_id,
                    text=text,
                    start=start,
                    end=end,
                    title=doc.title,
                    author=doc.author,
                    sentences=tuple((s, e) for s, e, _ in group),
                    pages=doc.page_breaks(start, end),
                    section=heading,
                )
            )
    return passages


Sent = tuple[int, int, int]  # start, end, word pieces


def _sentences(text: str, unit: Unit, count: TokenCounter, max_tokens: int) -> list[Sent]:
    spans = split_sentences(text[unit.start : unit.end], unit.start)
    sizes = count([text[s:e] for s, e in spans])
    out: list[Sent] = []
    for (s, e), n in zip(spans, sizes, strict=True):
        if n <= max_tokens:
            out.append((s, e, n))
        else:
            out.extend(_cut_long(text, s, e, count, max_tokens))
    return out


def _cut_long(text: str, start: int, end: int, count: TokenCounter, max_tokens: int) -> list[Sent]:
    """Last resort for a 'sentence' longer than the model reads: cut at word boundaries."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    pieces: list[Sent] = []
    i = 0
    step = max(8, max_tokens // 2)
    while i < len(words):
        j = min(len(words), i + step)
        while True:
            s, e = words[i][0], words[j - 1][1]
            n = count([text[s:e]])[0]
            if n <= max_tokens or j - i <= 1:
                break
            j = i + max(1, (j - i) * 2 // 3)
        pieces.append((s, e, min(n, max_tokens)))
        i = j
    return pieces


def _pack(paragraphs: list[list[Sent]], max_tokens: int, min_tokens: int, overlap: int):
    current: list[Sent] = []
    size = 0
    for para in paragraphs:
        if current and size >= min_tokens:
            yield current
            current, size = [], 0
        for k, sent in enumerate(para):
            if current and size + sent[2] > max_tokens:
                yield current
                carried = current[-overlap:] if overlap and k > 0 else []
                while carried and sum(c[2] for c in carried) + sent[2] > max_tokens:
                    carried = carried[1:]
                current, size = list(carried), sum(c[2] for c in carried)
            current.append(sent)
            size += sent[2]
    if current:
        yield current
