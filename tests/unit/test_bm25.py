"""BM25 with its analyser saved beside the index and checked on load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from index.bm25 import ANALYZER_FILE, Analyzer, BM25Index
from index.errors import IndexMismatch

CORPUS = ["the cat sat on the mat", "dogs chase cats in parks", "a telescope sees distant galaxies"]


def test_scores_match_a_hand_computed_bm25() -> None:
    index = BM25Index.build(CORPUS, k1=1.2, b=0.75)
    scores = index.scores("telescopes")
    terms = [Analyzer()(t) for t in CORPUS]
    avg = sum(len(t) for t in terms) / len(terms)
    n, df, tf, dl = 3, 1, 1, len(terms[2])
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    want = idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avg))  # bm25s "lucene" variant
    assert scores[2] == pytest.approx(want, rel=1e-5)
    assert scores[0] == scores[1] == 0


def test_the_analyser_round_trips_and_queries_use_the_saved_one(tmp_path: Path) -> None:
    index = BM25Index.build(CORPUS)
    index.save(tmp_path)
    saved = json.loads((tmp_path / ANALYZER_FILE).read_text())
    assert saved["stemmer"] == "english" and "the" in saved["stopwords"]
    # a later library version with another stopword list must not change the old index's queries
    saved["stopwords"] = [*saved["stopwords"], "galaxies"]
    (tmp_path / ANALYZER_FILE).write_text(json.dumps(saved))
    loaded = BM25Index.load(tmp_path)
    assert loaded.analyze("distant galaxies") == ["distant"]


def test_a_stemmer_that_stems_otherwise_is_a_mismatch(tmp_path: Path) -> None:
    BM25Index.build(CORPUS).save(tmp_path)
    saved = json.loads((tmp_path / ANALYZER_FILE).read_text())
    saved["stem_check"] = "0" * 16
    (tmp_path / ANALYZER_FILE).write_text(json.dumps(saved))
    with pytest.raises(IndexMismatch, match="stems differently"):
        BM25Index.load(tmp_path)


def test_an_index_without_a_saved_analyser_is_a_mismatch(tmp_path: Path) -> None:
    BM25Index.build(CORPUS).save(tmp_path)
    (tmp_path / ANALYZER_FILE).unlink()
    with pytest.raises(IndexMismatch, match="no saved analyser"):
        BM25Index.load(tmp_path)
