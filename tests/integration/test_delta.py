"""Documents added to an HNSW index go to a delta segment (index.delta): the base's files are
carried over unread, and questions find the new passages as in a rebuilt index."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.errors import IndexCorrupt
from index.search import SearchIndex
from index.settings import IndexSettings
from index.store import live_version

NOTES = ("# Notes\n\nThe lighthouse keeper counted forty-two ships in the storm.\n\n"
         "Fog horns sounded every minute until dawn.\n")
MORE = ("# Harbour\n\nThe harbour froze in January and the ferries stopped.\n\n"
        "Icebreakers reopened the channel in March.\n")


def base_inodes(settings: IndexSettings) -> dict[str, int]:
    live = live_version(settings.index_dir)
    return {f: (live / f).stat().st_ino for f in ("dense.faiss", "sentences.faiss", "vectors.npy",
                                                  "sentences.npy", "passages.jsonl")}


def settings_for(tmp_path: Path, docs: Path, model_path: str, name: str = "idx",
                 **extra: object) -> IndexSettings:
    # a threshold this low puts both the passages and the sentences in HNSW indexes
    return IndexSettings(docs_dir=docs, index_dir=tmp_path / name, model_path=model_path,
                         precision="fp32", ann_threshold=5, **extra)


def test_added_documents_go_to_the_delta_and_are_found_as_in_a_rebuilt_index(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    settings = settings_for(tmp_path, docs_copy, model_path)
    first = build_index(settings, embedder=embedder)
    before = SearchIndex.load(settings)
    inodes = base_inodes(settings)

    (docs_copy / "0-notes.md").write_text(NOTES, encoding="utf-8")
    added = build_index(settings, embedder=embedder)
    assert added.extended == 0 and 0 < added.embedded_passages == added.delta_passages
    assert added.reused_passages == first.passages
    assert [d.doc_id for d in added.documents][0] == "0-notes.md"  # reports in folder order
    assert base_inodes(settings) == inodes  # the base's files were linked, not rewritten
    after = SearchIndex.load(settings, verify=True)  # the carried-over hashes hold
    n = len(before.passages)
    assert after.manifest["count"] == len(after.passages) == n + added.delta_passages
    assert [p.id for p in after.passages[:n]] == [p.id for p in before.passages]
    assert {p.doc_id for p in after.passages[n:]} == {"0-notes.md"}
    assert after.dense.ntotal == n and after.delta_start == n
    assert after.manifest["format_version"] == 3  # older programs refuse it by its format
    assert list(after.documents) == sorted(after.documents)  # the manifest in folder order

    # the same collection rebuilt whole, for comparison
    whole = settings_for(tmp_path, docs_copy, model_path, "whole")
    build_index(whole, embedder=embedder, full=True)
    rebuilt = SearchIndex.load(whole)
    assert sorted(p.id for p in rebuilt.passages) == sorted(p.id for p in after.passages)
    ids = [p.id for p in after.passages]  # the rebuilt index holds them in folder order

    def same_rows(rows: list[int], other: list[int]) -> bool:
        return [ids[i] for i in rows] == [rebuilt.passages[i].id for i in other]

    q = embedder.encode_query("How many ships did the lighthouse keeper count?")
    assert after.passages[after.dense_search(q, 1)[0][0]].doc_id == "0-notes.md"
    assert after.passages[int(after.sentence_passages(q, 1)[0])].doc_id == "0-notes.md"
    mine = np.arange(n - 2, len(ids))
    theirs = np.array([rebuilt.row_of(ids[i]) for i in mine])
    for text in ("sanctions relief", "summit in Singapore", "ships in the storm", "fog at dawn"):
        v = embedder.encode_query(text)
        got, want = after.dense_search(v, 5), rebuilt.dense_search(v, 5)
        assert same_rows([i for i, _ in got], [i for i, _ in want])
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
        assert same_rows(list(after.sentence_passages(v, 4)), list(rebuilt.sentence_passages(v, 4)))
        assert np.allclose(after.best_sentence_scores(v, mine),
                           rebuilt.best_sentence_scores(v, theirs), atol=1e-5)
    # BM25: the delta's passages score as in the rebuilt index; the top hit is the same
    for query in ("lighthouse keeper ships", "fog horns", "sanctions relief"):
        got, want = after.bm25.scores(query), rebuilt.bm25.scores(query)
        assert np.allclose(got[n:], want[theirs[2:]], atol=1e-4)
        assert same_rows([after.bm25_search(query, 1)[0][0]], [rebuilt.bm25_search(query, 1)[0][0]])

    # the assistant answers from the delta as from any passage, and the same as when rebuilt
    from rag.assistant import Assistant
    from rag.settings import RagSettings

    question = "How many ships did the lighthouse keeper count in the storm?"
    answers = [Assistant(RagSettings(index=s), index=i, embedder=embedder).answer(question)
               for s, i in ((settings, after), (whole, rebuilt))]
    assert not answers[0].abstained and "forty-two" in answers[0].text
    assert answers[0].citations[0].passage.doc_id == "0-notes.md"
    assert answers[0].text == answers[1].text

    # a second addition joins the same delta; the base is still untouched
    (docs_copy / "zz-harbour.md").write_text(MORE, encoding="utf-8")
    again = build_index(settings, embedder=embedder)
    assert again.delta_passages > added.delta_passages and base_inodes(settings) == inodes
    grown = SearchIndex.load(settings, verify=True)
    assert {p.doc_id for p in grown.passages[n:]} == {"0-notes.md", "zz-harbour.md"}
    v = embedder.encode_query("When did the harbour freeze?")
    assert grown.passages[grown.dense_search(v, 1)[0][0]].doc_id == "zz-harbour.md"
    # nothing new: nothing embedded, the delta carried over
    same = build_index(settings, embedder=embedder)
    assert same.embedded_passages == 0 and same.delta_passages == again.delta_passages


def test_the_delta_is_merged_when_full_or_when_a_document_changes_or_goes(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    settings = settings_for(tmp_path, docs_copy, model_path, delta_max_passages=2)
    build_index(settings, embedder=embedder)
    (docs_copy / "0-notes.md").write_text(NOTES, encoding="utf-8")
    assert build_index(settings, embedder=embedder).delta_passages == 1
    # past the cap: merged, the base graphs extended with the delta's rows and the new ones
    long = "\n\n".join(
        f"In week {i} the harbour master logged {i + 3} arrivals, {i * 2} departures and a "
        f"tide {i + 1} feet above the mark; the pilots' boat went out {i} times in the fog, "
        f"and the crane on pier {i % 4} lifted {10 * i} crates of grain and timber."
        for i in range(1, 13))
    (docs_copy / "zz-harbour.md").write_text(MORE + "\n\n" + long, encoding="utf-8")
    merged = build_index(settings, embedder=embedder)
    assert merged.delta_passages == 0 and merged.extended == 2
    index = SearchIndex.load(settings)
    assert "delta" not in index.manifest and not (live_version(settings.index_dir) / "delta").exists()
    assert index.dense.ntotal == len(index.passages) and index.delta_vectors is None
    assert index.sentence_dense.ntotal == index.sentence_count

    # a document changed while a delta is live: merged, the graphs rebuilt
    (docs_copy / "zz-ferry.md").write_text("# Ferry\n\nThe ferry ran again in May.\n", encoding="utf-8")
    assert build_index(settings, embedder=embedder).delta_passages == 1
    notes = docs_copy / "0-notes.md"
    notes.write_text(NOTES + "\nA closing line about gulls.\n", encoding="utf-8")
    changed = build_index(settings, embedder=embedder)
    assert changed.delta_passages == 0 and changed.extended == 0
    assert len(SearchIndex.load(settings).passages) == changed.passages

    # a document removed while a delta is live: merged, its passages gone
    (docs_copy / "zz-tram.md").write_text("# Tram\n\nThe tram line closed in June.\n", encoding="utf-8")
    assert build_index(settings, embedder=embedder).delta_passages == 1
    notes.unlink()
    removed = build_index(settings, embedder=embedder)
    assert removed.removed == ["0-notes.md"] and removed.delta_passages == 0
    assert "0-notes.md" not in {p.doc_id for p in SearchIndex.load(settings).passages}


def test_other_graph_settings_or_a_small_index_do_not_get_a_delta(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    small = settings_for(tmp_path, docs_copy, model_path).model_copy(update={"ann_threshold": 10**6})
    build_index(small, embedder=embedder)
    (docs_copy / "0-notes.md").write_text(NOTES, encoding="utf-8")
    assert build_index(small, embedder=embedder).delta_passages == 0  # exact: written whole

    settings = settings_for(tmp_path, docs_copy, model_path, "hnsw")
    build_index(settings, embedder=embedder)
    (docs_copy / "zz-harbour.md").write_text(MORE, encoding="utf-8")
    relinked = settings.model_copy(update={"hnsw_m": 16})
    report = build_index(relinked, embedder=embedder)
    assert report.delta_passages == 0
    assert SearchIndex.load(relinked).dense.hnsw.nb_neighbors(1) == 16


def test_a_damaged_delta_is_reported_and_a_full_build_mends_it(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    settings = settings_for(tmp_path, docs_copy, model_path)
    build_index(settings, embedder=embedder)
    (docs_copy / "0-notes.md").write_text(NOTES, encoding="utf-8")
    build_index(settings, embedder=embedder)
    delta = live_version(settings.index_dir) / "delta"
    vectors = delta / "vectors.npy"
    os.chmod(vectors, 0o644)
    with open(vectors, "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"\x00" * 8)
    with pytest.raises(IndexCorrupt, match="damaged"):
        SearchIndex.load(settings, verify=True)
    vectors.unlink()
    with pytest.raises(IndexCorrupt, match="delta"):
        SearchIndex.load(settings, verify=False)
    build_index(settings, embedder=embedder, full=True)
    assert len(SearchIndex.load(settings, verify=True).passages) > 0


def test_without_hard_links_or_with_a_base_file_missing_an_update_still_succeeds(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder, monkeypatch) -> None:  # noqa: ANN001
    settings = settings_for(tmp_path, docs_copy, model_path)
    build_index(settings, embedder=embedder)
    inodes = base_inodes(settings)

    def no_links(*_: object) -> None:
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    (docs_copy / "0-notes.md").write_text(NOTES, encoding="utf-8")
    copied = build_index(settings, embedder=embedder)
    assert copied.delta_passages > 0
    assert all(ino != inodes[f] for f, ino in base_inodes(settings).items())  # copies
    assert len(SearchIndex.load(settings, verify=True).passages) == copied.passages
    monkeypatch.undo()

    # a base file gone: no delta; the build finds the damage and builds everything again
    (live_version(settings.index_dir) / "sentences.faiss").unlink()
    (docs_copy / "zz-harbour.md").write_text(MORE, encoding="utf-8")
    mended = build_index(settings, embedder=embedder)
    assert mended.delta_passages == 0
    index = SearchIndex.load(settings, verify=True)
    assert index.manifest["format_version"] == 2 and len(index.passages) == mended.passages
