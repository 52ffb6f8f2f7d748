"""Building, saving and loading the index with the real model and real FAISS."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.dense import build_faiss, search_faiss
from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from index.search import SearchIndex
from index.settings import IndexSettings
from index.split import token_counter
from index.store import live_version


def test_every_passage_is_its_source_slice_and_fits_the_model(seed_index: SearchIndex,
                                                              seed_settings: IndexSettings) -> None:
    count = token_counter(seed_settings.model_path)
    for p in seed_index.passages:
        source = (seed_settings.docs_dir / p.doc_id).read_text(encoding="utf-8")
        assert source[p.start : p.end] == p.text
        assert count([p.text])[0] + 2 <= 256
        assert p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
        for s, e in p.sentences:
            assert source[s:e].strip() == source[s:e]


def test_seed_passage_counts_and_metadata(seed_index: SearchIndex) -> None:
    docs = seed_index.documents
    assert set(docs) == {"000_021bd418710c3a0f.txt", "004_5c9bbad1b05f2a31.txt"}
    for entry in docs.values():
        assert entry["passages"] >= 5
    authors = {p.author for p in seed_index.passages}
    assert authors == {"Mark Fitzpatrick", "Evelyn N. Farkas"}


def test_faiss_search_equals_brute_force_numpy(seed_index: SearchIndex, embedder) -> None:  # noqa: ANN001
    for q in ("Where does Lankov live?", "Russian tankers fuel transfers", "deadline for progress"):
        v = embedder.encode_query(q)
        got = seed_index.dense_search(v, 5)
        scores = seed_index.vectors @ v
        want = np.argsort(-scores)[:5]
        assert [i for i, _ in got] == list(want)
        assert np.allclose([s for _, s in got], scores[want], atol=1e-5)


def test_saved_and_loaded_give_the_same_results(seed_settings: IndexSettings, seed_index) -> None:  # noqa: ANN001
    again = SearchIndex.load(seed_settings)
    assert [p.id for p in again.passages] == [p.id for p in seed_index.passages]
    assert np.array_equal(again.vectors, seed_index.vectors)
    q = again.bm25.analyze("sanctions relief for talking")
    assert again.bm25_search(q, 5) == seed_index.bm25_search(q, 5)


def test_ids_are_stable_and_incremental_rebuild_touches_only_the_changed_document(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32")
    first = build_index(settings, embedder=embedder)
    ids_1 = [p.id for p in SearchIndex.load(settings).passages]
    full = build_index(settings, full=True, embedder=embedder)
    assert [p.id for p in SearchIndex.load(settings).passages] == ids_1
    assert full.embedded_passages == first.embedded_passages

    again = build_index(settings, embedder=embedder)
    assert again.embedded_passages == 0 and again.reused_passages == first.passages
    assert {d.status for d in again.documents} == {"unchanged"}

    target = docs_copy / "004_5c9bbad1b05f2a31.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nA new closing paragraph about "
                      "verification of the agreement was added by the editors.\n", encoding="utf-8")
    (docs_copy / "extra.md").write_text("# Extra\n\nA short extra note on sanctions policy.\n")
    changed = build_index(settings, embedder=embedder)
    status = {d.doc_id: d.status for d in changed.documents}
    assert status == {"000_021bd418710c3a0f.txt": "unchanged", "004_5c9bbad1b05f2a31.txt": "changed",
                      "extra.md": "new"}
    n_000 = next(d.passages for d in changed.documents if d.doc_id.startswith("000"))
    assert changed.reused_passages == n_000
    assert changed.embedded_passages == changed.passages - n_000
    idx = SearchIndex.load(settings)
    kept = [p.id for p in idx.passages if p.doc_id.startswith("000")]
    assert kept == [i for i, p in zip(ids_1, SearchIndex.load(settings).passages, strict=False)
                    if p.doc_id.startswith("000")]
    # vectors of reused passages are the very ones embedded before
    fresh = embedder.encode_documents([idx.passages[0].text])[0]
    assert np.allclose(idx.vectors[0], fresh, atol=1e-4)

    (docs_copy / "extra.md").unlink()
    removed = build_index(settings, embedder=embedder)
    assert removed.removed == ["extra.md"]
    assert "extra.md" not in SearchIndex.load(settings).documents
    # old versions are cleaned up: one live version directory
    assert len([d for d in (tmp_path / "idx").iterdir() if d.name.startswith("v-")]) == 1


def copy_index(seed_settings: IndexSettings, tmp_path: Path) -> IndexSettings:
    target = tmp_path / "copy"
    shutil.copytree(seed_settings.index_dir, target)
    return seed_settings.model_copy(update={"index_dir": target})


@pytest.mark.parametrize("name", ["dense.faiss", "passages.jsonl", "vectors.npy", "bm25/params.index.json"])
def test_truncated_files_give_a_clear_error_naming_the_rebuild(
        seed_settings: IndexSettings, seed_index, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    settings = copy_index(seed_settings, tmp_path)
    path = live_version(settings.index_dir) / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match="rag index build .*--full") as caught:
        SearchIndex.load(settings)
    # what is wrong and how to fix it by hand are held apart; the message joins them
    assert caught.value.hint.startswith("Rebuild it with: rag index build")
    assert "rag index build" not in caught.value.reason
    assert str(caught.value) == f"{caught.value.reason} {caught.value.hint}"


def test_corrupted_faiss_without_checksums_still_fails_clearly(
        seed_settings: IndexSettings, seed_index, tmp_path: Path) -> None:  # noqa: ANN001
    settings = copy_index(seed_settings, tmp_path)
    path = live_version(settings.index_dir) / "dense.faiss"
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(IndexCorrupt, match="rag index build"):
        SearchIndex.load(settings, verify=False)


def test_manifest_from_another_model_or_settings_is_a_mismatch(
        seed_settings: IndexSettings, seed_index, tmp_path: Path) -> None:  # noqa: ANN001
    settings = copy_index(seed_settings, tmp_path)
    manifest_path = live_version(settings.index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"]["sha256"] = "0" * 64
    manifest["model"]["name"] = "some-other-model"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="some-other-model.*rag index build"):
        SearchIndex.load(settings)
    other = seed_settings.model_copy(update={"max_passage_tokens": 100})
    with pytest.raises(IndexMismatch, match="max_passage_tokens"):
        SearchIndex.load(other)
    manifest_path.write_text("{not json")
    with pytest.raises(IndexCorrupt, match="rag index build"):
        SearchIndex.load(settings)


def test_index_cut_by_older_text_rules_is_rebuilt_not_reused(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder,  # noqa: ANN001
        caplog: pytest.LogCaptureFixture) -> None:
    from index.build import ensure_index

    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32")
    first = build_index(settings, embedder=embedder)
    assert ensure_index(settings, embedder=embedder) is None  # fits: nothing to do
    # an index built before the text rules were versioned records none
    manifest_path = live_version(settings.index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["settings"].pop("text_rules") >= 2
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match=r"version 1 of the rules for cutting text into passages \(now [3-9]"):
        SearchIndex.load(settings)
    with caplog.at_level(logging.WARNING, logger="index.build"):
        again = ensure_index(settings, embedder=embedder)
    # it says why it rebuilds, not how to rebuild by hand: it is doing that
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "version 1 of the rules" in said and "Building the index from" in said
    assert "rag index build" not in said
    # every passage is cut and embedded anew, none reused from the old index
    assert again is not None and again.reused_passages == 0
    assert again.embedded_passages == first.passages
    assert "text_rules" in json.loads((live_version(settings.index_dir) / "manifest.json").read_text())[
        "settings"]
    SearchIndex.load(settings)


def test_missing_index_says_how_to_build(tmp_path: Path, model_path: str) -> None:
    with pytest.raises(IndexNotFound, match="rag index build") as caught:
        SearchIndex.load(IndexSettings(index_dir=tmp_path / "none", model_path=model_path))
    # the reason alone (what ensure_index logs before it builds) has no command in it
    assert caught.value.reason.startswith("No index at") and "rag index build" not in caught.value.reason


def code_size(index: object) -> int:
    """Bytes an HNSW index stores per vector."""
    import faiss

    return int(faiss.downcast_index(index.storage).code_size)


def test_hnsw_recall_against_exact_search() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(6000, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = rng.normal(size=(100, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = build_faiss(base, ann_threshold=10**9)
    approx = build_faiss(base, ann_threshold=1000)
    assert type(approx).__name__ == "IndexHNSWFlat"
    recall = np.mean([
        len({i for i, _ in search_faiss(exact, q, 10)} & {i for i, _ in search_faiss(approx, q, 10)}) / 10
        for q in queries
    ])
    assert recall >= 0.95, recall
    # int8 codes, re-ranked with the exact vectors: the same recall at a quarter of the memory
    from index.dense import reranked

    codes = build_faiss(base, ann_threshold=1000, hnsw_vectors="int8")
    assert type(codes).__name__ == "IndexHNSWSQ" and code_size(codes) == 64  # a byte a dimension
    recall8 = np.mean([
        len({i for i, _ in search_faiss(exact, q, 10)} & {i for i, _ in reranked(codes, base, q, 10)}) / 10
        for q in queries
    ])
    assert recall8 >= 0.95, recall8
    q = queries[0]
    top = reranked(codes, base, q, 10)
    assert np.allclose([s for _, s in top], base[[i for i, _ in top]] @ q)  # exact scores, sorted
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)


def test_added_documents_extend_the_hnsw_indexes_instead_of_rebuilding_them(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    from index.dense import kind_of

    # a threshold this low puts both the passages and the sentences in HNSW indexes; with no
    # delta segment (tests/integration/test_delta.py) additions extend the graphs
    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32", ann_threshold=5, delta_max_passages=0)
    first = build_index(settings, embedder=embedder)
    before = SearchIndex.load(settings)
    assert kind_of(before.dense) == kind_of(before.sentence_dense) == "hnsw" and first.extended == 0

    # a document whose name sorts first: its rows still go after the old ones
    (docs_copy / "0-notes.md").write_text(
        "# Notes\n\nThe lighthouse keeper counted forty-two ships in the storm.\n\n"
        "Fog horns sounded every minute until dawn.\n", encoding="utf-8")
    added = build_index(settings, embedder=embedder)
    assert added.extended == 2 and added.reused_passages == first.passages
    assert [d.doc_id for d in added.documents][0] == "0-notes.md"  # reports in folder order
    # unchanged documents are not cleaned again: their figures come from the manifest, the same
    assert added.documents[1:] == [replace(d, status="unchanged") for d in first.documents]
    after = SearchIndex.load(settings)
    n = len(before.passages)
    assert [p.id for p in after.passages[:n]] == [p.id for p in before.passages]
    assert {p.doc_id for p in after.passages[n:]} == {"0-notes.md"}
    assert after.dense.ntotal == len(after.passages)
    assert after.sentence_dense.ntotal == len(after.sentence_vectors)
    # the extended index finds the new text and answers like a rebuilt one
    q = embedder.encode_query("How many ships did the lighthouse keeper count?")
    assert after.passages[search_faiss(after.dense, q, 1)[0][0]].doc_id == "0-notes.md"
    fresh = build_faiss(after.vectors, 5)
    for text in ("sanctions relief", "summit in Singapore", "ships in the storm"):
        v = embedder.encode_query(text)
        assert [i for i, _ in search_faiss(after.dense, v, 5)] == [
            i for i, _ in search_faiss(fresh, v, 5)]
    # extending copies: the index being served keeps its rows
    from index.dense import extend_faiss
    grown = extend_faiss(before.dense, after.vectors[n:])
    assert before.dense.ntotal == n and grown.ntotal == len(after.passages)

    # a changed document moves old rows: then the indexes are rebuilt
    target = docs_copy / "004_5c9bbad1b05f2a31.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nA closing paragraph.\n", encoding="utf-8")
    changed = build_index(settings, embedder=embedder)
    assert changed.extended == 0
    assert SearchIndex.load(settings).dense.ntotal == changed.passages


def test_files_unchanged_since_the_index_are_not_read_again(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder, monkeypatch) -> None:  # noqa: ANN001
    import os

    import index.load

    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32")
    for f in docs_copy.iterdir():  # files last written an hour ago
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns - 3600 * 10**9))
    first = build_index(settings, embedder=embedder)
    recorded = SearchIndex.load(settings).documents
    read: list[str] = []
    real = index.load.load_file
    monkeypatch.setattr(index.load, "load_file",
                        lambda path, doc_id, *a: read.append(doc_id) or real(path, doc_id, *a))
    again = build_index(settings, embedder=embedder)
    assert read == [] and again.embedded_passages == 0
    assert again.documents == [replace(d, status="unchanged") for d in first.documents]
    assert SearchIndex.load(settings).documents == recorded  # the manifest entries carried over

    # same bytes, new modification time: read and hashed again, still unchanged
    target = docs_copy / "004_5c9bbad1b05f2a31.txt"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = build_index(settings, embedder=embedder)
    assert read == ["004_5c9bbad1b05f2a31.txt"] and touched.embedded_passages == 0
    # new content: read and embedded; a full build reads every file
    target.write_text(target.read_text(encoding="utf-8") + "\nOne more closing line.\n",
                      encoding="utf-8")
    changed = build_index(settings, embedder=embedder)
    assert read[-1] == "004_5c9bbad1b05f2a31.txt" and changed.embedded_passages > 0
    # written moments before it was read: it could have changed again within the clock's tick,
    # so it is read again until it has been still for a while
    read.clear()
    build_index(settings, embedder=embedder)
    assert read == ["004_5c9bbad1b05f2a31.txt"]
    read.clear()
    build_index(settings, full=True, embedder=embedder)
    assert sorted(read) == sorted(d.doc_id for d in first.documents)


def test_indexes_are_rebuilt_when_a_changed_document_or_new_settings_would_make_them_differ(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32", ann_threshold=5, delta_max_passages=0)
    build_index(settings, embedder=embedder)
    # nothing new: the indexes are carried over and nothing is reported as extended
    assert build_index(settings, embedder=embedder).extended == 0
    # other HNSW links: a new document no longer extends the old graphs
    (docs_copy / "zz-notes.md").write_text("# Notes\n\nThe harbour froze in January.\n",
                                           encoding="utf-8")
    relinked = build_index(settings.model_copy(update={"hnsw_m": 16}), embedder=embedder)
    assert relinked.extended == 0
    assert SearchIndex.load(settings.model_copy(update={"hnsw_m": 16})).dense.hnsw.nb_neighbors(1) == 16
    # another build-time breadth: the same (and the saved graphs keep it)
    (docs_copy / "zz-more.md").write_text("# More\n\nThe ferry stopped in March.\n", encoding="utf-8")
    wider = settings.model_copy(update={"hnsw_m": 16, "hnsw_ef_construction": 24})
    assert build_index(wider, embedder=embedder).extended == 0
    loaded = SearchIndex.load(wider)
    assert loaded.dense.hnsw.efConstruction == loaded.sentence_dense.hnsw.efConstruction == 24
    # and with the same settings a new document extends both graphs again
    (docs_copy / "zz-last.md").write_text("# Last\n\nThe bridge opened in May.\n", encoding="utf-8")
    assert build_index(wider, embedder=embedder).extended == 2


def test_each_passage_gets_its_own_sentence_vectors(seed_index: SearchIndex) -> None:
    rows = seed_index.sentence_row_map()
    assert len(rows) == seed_index.sentence_count > len(seed_index.passages)
    for p in seed_index.passages:
        want = seed_index.sentence_vectors[[rows[(p.doc_id, s, e)] for s, e in p.sentences]]
        assert np.array_equal(seed_index.sentence_vectors_of(p), want)
    # a passage the index does not hold (same id, other text) gets none
    assert seed_index.sentence_vectors_of(replace(seed_index.passages[0], text="other")) is None


def test_int8_hnsw_indexes_search_like_exact_and_extend_and_switch_back(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    from index.dense import kind_of

    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32", ann_threshold=5, hnsw_vectors="int8",
                             delta_max_passages=0)
    build_index(settings, embedder=embedder)
    index = SearchIndex.load(settings)
    assert kind_of(index.dense) == kind_of(index.sentence_dense) == "hnsw-int8"
    assert index.manifest["dense"]["kind"] == "hnsw-int8"
    assert code_size(index.dense) == index.vectors.shape[1]  # a byte a dimension
    # at the ANN threshold and above, vectors stay on disk: a search reads only its rows
    from index.rowfile import RowFile

    assert isinstance(index.vectors, RowFile) and isinstance(index.sentence_vectors, RowFile)
    exact = build_faiss(np.asarray(index.vectors), 10**9)
    for text in ("sanctions relief", "summit in Singapore", "denuclearization timeline"):
        v = embedder.encode_query(text)
        got, want = index.dense_search(v, 5), search_faiss(exact, v, 5)
        assert [i for i, _ in got] == [i for i, _ in want]  # re-ranked with the exact vectors
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)

    (docs_copy / "zz-notes.md").write_text("# Notes\n\nThe harbour froze in January.\n",
                                           encoding="utf-8")
    assert build_index(settings, embedder=embedder).extended == 2
    grown = SearchIndex.load(settings)
    assert kind_of(grown.dense) == "hnsw-int8" and grown.dense.ntotal == len(grown.passages)
    # another choice of HNSW vectors: the graphs are rebuilt, not extended with other codes
    (docs_copy / "zz-more.md").write_text("# More\n\nThe ferry ran again in March.\n",
                                          encoding="utf-8")
    f32 = settings.model_copy(update={"hnsw_vectors": "float32"})
    assert build_index(f32, embedder=embedder).extended == 0
    assert kind_of(SearchIndex.load(f32).dense) == "hnsw"


def test_a_change_to_or_from_int8_documents_builds_the_index_anew(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    from index.embed import Embedder
    from index.store import read_manifest

    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32", cache_dir=embedder.cache_dir)
    first = build_index(settings, embedder=embedder)
    int8 = Embedder(model_path, "int8", cache_dir=embedder.cache_dir)
    int8._model = embedder.model
    to_int8 = build_index(settings.model_copy(update={"precision": "int8"}), embedder=int8)
    total = len(SearchIndex.load(settings).passages)
    assert first.embedded_passages == to_int8.embedded_passages == total  # not mixed
    manifest = read_manifest(live_version(settings.index_dir), settings.index_dir)
    assert manifest["model"]["precision"] == "int8"
    assert build_index(settings.model_copy(update={"precision": "int8"}), embedder=int8).embedded_passages == 0
    assert build_index(settings, embedder=embedder).embedded_passages == total  # and back
