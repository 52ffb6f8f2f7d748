"""A build embeds its passages and sentences from the word pieces splitting counted (index.pieces):
every text gets its pieces, and the vectors are those of the texts tokenised again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from index.build import build_index
from index.embed import Embedder
from index.search import SearchIndex
from index.settings import IndexSettings
from index.types import indexed_text

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


class Recording(Embedder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[list[str], Any]] = []

    def encode_documents(self, texts: list[str], progress: bool = False, pieces: Any = None) -> np.ndarray:
        self.calls.append((list(texts), pieces))
        return super().encode_documents(texts, progress, pieces)


def test_a_build_embeds_from_kept_pieces_with_the_same_vectors(embedder: Embedder, model_path: str,
                                                               tmp_path: Path) -> None:
    # documents on ONNX Runtime: a path that takes the pieces (PyTorch tokenises by itself)
    rec = Recording(model_path, "fp32", cache_dir=embedder.cache_dir, document_encoder="onnx")
    rec._model = embedder.model
    settings = IndexSettings(docs_dir=SEEDS, index_dir=tmp_path / "index", model_path=model_path,
                             precision="fp32", document_encoder="onnx", title_context=True)
    t = time.perf_counter()
    report = build_index(settings, embedder=rec)
    assert 0 < report.seconds <= time.perf_counter() - t  # the build's own clock
    index = SearchIndex.load(settings)
    (passages, passage_pieces), (sentences, sentence_pieces) = rec.calls
    assert passages == [indexed_text(p, True) for p in index.passages]
    assert len(sentences) == len(index.sentence_vectors) > len(passages)
    assert all(p is not None for p in passage_pieces + sentence_pieces)
    plain = Embedder(model_path, "fp32", cache_dir=embedder.cache_dir, document_encoder="onnx")
    plain._model = embedder.model
    # the same word pieces, so exactly the same vectors as tokenising the texts again
    assert np.array_equal(plain.encode_documents(passages), np.asarray(index.vectors))
    assert np.array_equal(plain.encode_documents(sentences), np.asarray(index.sentence_vectors))
