"""The word pieces a build counts when it sizes passages, kept so that its passages and
sentences are embedded without being tokenised again.

Splitting counts every sentence's word pieces (index.split). With a BERT-style tokenizer
(WordPiece after BertNormalizer and BertPreTokenizer, which split at whitespace and
punctuation and normalise character by character) the pieces of texts joined by whitespace
are the pieces of each, one after the other; so a passage's pieces are its sentences' (and its
title's) in order, and a sentence's are those counted. Other tokenizers (byte-level BPE, whose
pieces carry the space before a word) are not joined: their texts are tokenised as before.
On SciFact's 5,183 abstracts the build tokenised 52,058 sentences to size passages, then
17,093 passages and the same sentences again to embed them (about 6 of its 150 s).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.types import Passage

log = logging.getLogger(__name__)

# what must be in tokenizer.json for pieces to be joined (see the module's docstring)
JOINABLE = {"normalizer": "BertNormalizer", "pre_tokenizer": "BertPreTokenizer", "model": "WordPiece"}


def joinable(config: dict[str, Any]) -> bool:
    """True when texts joined by whitespace tokenise to their pieces joined (tokenizer.json)."""
    return all(isinstance(config.get(k), dict) and config[k].get("type") == v
               for k, v in JOINABLE.items())


def around(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens ``tokenizer`` puts before and after a text's own pieces ([CLS] and
    [SEP] for BERT)."""
    probe = tokenizer.encode("a")
    mask = probe.special_tokens_mask
    if 0 not in mask:
        return list(probe.ids), []
    head = mask.index(0)
    return list(probe.ids[:head]), list(probe.ids[head + 1 :])


class PieceCounter:
    """Word-piece counts from the model's fast tokenizer (index.split.TokenCounter), keeping
    each counted text's pieces (without special tokens) when they can be joined."""

    def __init__(self, tokenizer_path: Path, keep: bool = True) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_path))
        self._tok.no_truncation()
        self._tok.no_padding()
        self.keeps = keep and joinable(json.loads(tokenizer_path.read_text(encoding="utf-8")))
        self._dtype = np.uint16 if self._tok.get_vocab_size() <= 1 << 16 else np.int32
        self._pieces: dict[str, np.ndarray] = {}
        # the specials the tokenizer adds around a text ([CLS] ... [SEP]): dropped from counts
        before, after = around(self._tok)
        self._head, self._tail = len(before), len(after)

    def __call__(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        out = []
        for text, e in zip(texts, self._tok.encode_batch(texts), strict=True):
            ids = e.ids
            inner = ids[self._head : len(ids) - self._tail]
            if self.keeps:
                self._pieces[text] = np.asarray(inner, dtype=self._dtype)
            out.append(len(inner))
        return out

    def of(self, text: str) -> np.ndarray | None:
        """The pieces of a counted text, or None."""
        return self._pieces.get(text)

    def title(self, title: str) -> np.ndarray | None:
        if title not in self._pieces:
            self([title])
        return self._pieces.get(title)

    def passage(self, p: Passage, title_context: bool) -> np.ndarray | None:
        """The pieces of ``indexed_text(p, title_context)`` joined from its sentences' (and
        its title's), or None when a sentence was not counted or sentences are not separated
        by whitespace alone."""
        if not self.keeps or not p.sentences:
            return None
        parts: list[np.ndarray] = []
        if title_context and p.title and not p.text.startswith(p.title):
            t = self.title(p.title)  # indexed_text: the title, a newline, the text
            if t is None:
                return None
            parts.append(t)
        end = p.sentences[0][0]
        if end != p.start:
            return None
        for s, e in p.sentences:
            if s != end and (s < end or not p.text[end - p.start : s - p.start].isspace()):
                return None
            piece = self._pieces.get(p.text[s - p.start : e - p.start])
            if piece is None:
                return None
            parts.append(piece)
            end = e
        if end != p.end:
            return None
        return np.concatenate(parts) if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class Pieces:
    """A tokenised text as index.onnx_encoder.padded reads a tokenizer's encoding."""

    ids: np.ndarray
    attention_mask: np.ndarray
    type_ids: np.ndarray


def encodings(tokenizer: Any, texts: list[str], pieces: Sequence[np.ndarray | None] | None,
              check: int = 8) -> list[Any]:
    """``texts`` tokenised by ``tokenizer`` (truncating as it is set to), taking each text's
    kept ``pieces`` (without special tokens) where given instead of tokenising it. The first
    ``check`` texts with pieces are tokenised too and compared: on any difference every text
    is tokenised (a tokenizer that does not join as expected costs nothing but the time)."""
    if pieces is None or not any(p is not None for p in pieces):
        return list(tokenizer.encode_batch(texts))
    if len(pieces) != len(texts):
        raise ValueError(f"{len(pieces)} piece lists for {len(texts)} texts")
    before, after = around(tokenizer)
    trunc = tokenizer.truncation
    room = (trunc["max_length"] - len(before) - len(after)) if trunc else None
    out: list[Any] = [None] * len(texts)
    missing = [i for i, p in enumerate(pieces) if p is None]
    for i, e in zip(missing, tokenizer.encode_batch([texts[i] for i in missing]) if missing else [],
                    strict=True):
        out[i] = e
    for i, p in enumerate(pieces):
        if p is not None:
            ids = np.concatenate([np.asarray(before, dtype=np.int64),
                                  np.asarray(p[:room] if room is not None else p, dtype=np.int64),
                                  np.asarray(after, dtype=np.int64)])
            ones = np.ones(len(ids), dtype=np.int64)
            out[i] = Pieces(ids, ones, np.zeros(len(ids), dtype=np.int64))
    given = [i for i, p in enumerate(pieces) if p is not None][:check]
    for i, e in zip(given, tokenizer.encode_batch([texts[i] for i in given]), strict=True):
        if list(e.ids) != out[i].ids.tolist() or list(e.type_ids) != out[i].type_ids.tolist():
            log.warning("kept word pieces differ from the tokenizer's for %r: tokenising all",
                        texts[i][:80])
            return list(tokenizer.encode_batch(texts))
    return out
