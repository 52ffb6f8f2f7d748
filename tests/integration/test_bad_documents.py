"""Hostile documents: each is handled with a warning and the rest of the collection indexed."""

from __future__ import annotations

from pathlib import Path

from index.build import build_index
from index.search import SearchIndex
from index.settings import IndexSettings


def test_hostile_collection_builds_and_keeps_the_good_documents(tmp_path: Path, model_path: str,
                                                               embedder) -> None:  # noqa: ANN001
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("The harbour wall was finished in May. It cost four million "
                                   "pounds and protects two hundred homes.\n", encoding="utf-8")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 64)
    with open(docs / "huge.txt", "wb") as f:  # 50 MB of text, sparse on disk
        f.truncate(50 * 1024 * 1024)
        f.seek(0)
        f.write(b"word " * 1000)
    (docs / "nested.html").write_text("<html><body>" + "<div>" * 20000 + "<p>Deep inside lies a "
                                      "note about ferries running every hour.</p>" + "</div>" * 20000
                                      + "</body></html>", encoding="utf-8")
    zw = "Zero\u200bwidth jo\u200diners hide in\u2060side this sen\ufefftence about lighthouses.\n"
    (docs / "zero-width.md").write_text(zw, encoding="utf-8")
    settings = IndexSettings(docs_dir=docs, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32")
    report = build_index(settings, embedder=embedder)
    skipped = {s.path: s.reason for s in report.skipped}
    assert "binary" in skipped["binary.txt"]
    assert "larger than the limit" in skipped["huge.txt"]
    assert {d.doc_id for d in report.documents} == {"good.txt", "nested.html", "zero-width.md"}
    index = SearchIndex.load(settings)
    texts = {p.doc_id: p.text for p in index.passages}
    assert "ferries running every hour" in texts["nested.html"]
    assert texts["zero-width.md"] == zw.strip()
    top = index.bm25_search(index.bm25.analyze("lighthouses"), 1)
    assert index.passages[top[0][0]].doc_id == "zero-width.md"
