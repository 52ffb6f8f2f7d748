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


def test_delta_passages_score_as_in_an_index_of_the_whole_collection(tmp_path) -> None:  # noqa: ANN001
    """Passages added in a delta segment get the scores a rebuilt index would give them (the
    collection's idf and mean length); the base keeps its own, off by the delta's share."""
    import numpy as np

    from index.bm25_delta import DeltaBM25, SegmentedBM25

    rng = np.random.default_rng(0)
    words = [f"w{i}x" for i in range(300)]
    texts = [" ".join(rng.choice(words, rng.integers(5, 40))) for _ in range(500)]
    texts.append("a novelterm beside w3x")
    full = BM25Index.build(texts)
    base = BM25Index.build(texts[:450])
    base.save(tmp_path / "base")
    delta = DeltaBM25.build(texts[450:], base.analyze)
    delta.save(tmp_path / "delta")
    seg = SegmentedBM25(BM25Index.load(tmp_path / "base"), DeltaBM25.load(tmp_path / "delta"))
    assert seg.size == full.size == 501
    for query in ("w1x w2x w3x", "w250x w7x w7x", "novelterm", "absent words"):
        got, want = seg.scores(query), full.scores(query)
        assert np.allclose(got[450:], want[450:], atol=1e-5)
        # the base: the collection's idf, its own mean length (within 1% here)
        assert np.abs(got[:450] - want[:450]).max() <= 0.01 * max(want.max(), 1e-9) + 1e-6
    assert seg.search("novelterm", 3) == full.search("novelterm", 3)[:1] == [(500, full.scores("novelterm")[500])]
    vocab, idf = seg.idf_table()
    fvocab, fidf = full.idf_table()
    terms = {t for t, i in fvocab.items() if i < len(fidf)}  # (bm25s adds '', with no column)
    assert set(vocab) - {""} == terms
    assert all(abs(idf[vocab[t]] - fidf[fvocab[t]]) < 1e-9 for t in terms)


def test_a_damaged_delta_bm25_is_refused(tmp_path) -> None:  # noqa: ANN001
    import numpy as np

    from index.bm25_delta import DeltaBM25

    delta = DeltaBM25.build(["one two", "two three"], BM25Index.build(["some words"]).analyze)
    delta.save(tmp_path)
    np.save(tmp_path / "indptr.npy", np.array([0, 1], dtype=np.int64), allow_pickle=False)
    with pytest.raises(ValueError):
        DeltaBM25.load(tmp_path)


def test_a_term_the_delta_brings_does_not_favour_the_base() -> None:
    """A term rare in the base and common in the delta: base passages get the collection's
    idf, not the base's much higher one, so the ranking is the rebuilt index's."""
    import numpy as np

    from index.bm25_delta import DeltaBM25, SegmentedBM25

    rng = np.random.default_rng(1)
    words = [f"w{i}x" for i in range(300)]
    base_texts = [" ".join(rng.choice(words, rng.integers(5, 40))) for _ in range(2000)]
    base_texts[5] += " ferry"
    added = [" ".join(rng.choice(words, rng.integers(5, 40))) + " ferry" for _ in range(200)]
    full = BM25Index.build(base_texts + added)
    base = BM25Index.build(base_texts)
    seg = SegmentedBM25(base, DeltaBM25.build(added, base.analyze))
    got, want = seg.scores("ferry"), full.scores("ferry")
    assert base.scores("ferry")[5] > 2 * want[5]  # the base alone weighs it far higher
    assert abs(got[5] - want[5]) < 0.01 * want[5]
    assert [i for i, _ in seg.search("ferry", 20)] == [i for i, _ in full.search("ferry", 20)]
