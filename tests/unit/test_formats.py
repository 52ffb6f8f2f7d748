"""PDF and Word files: text with page starts and headings; unusable ones skipped with a reason."""

from __future__ import annotations

from pathlib import Path

from index.load import load_file, load_folder
from index.types import Document
from tests.unit.docfiles import encrypt_pdf, make_docx, make_pdf

PAGES = [["The harbour light was built in 1871.", "It guided ships past the reef."],
         ["Keepers lived there until 1965.", "The light now runs by itself."]]


def test_pdf_text_with_page_starts_and_title(tmp_path: Path) -> None:
    path = tmp_path / "light.pdf"
    path.write_bytes(make_pdf(PAGES, title="Harbour Light"))
    doc = load_file(path, "light.pdf")
    assert doc.kind == "pdf" and doc.title == "Harbour Light"
    assert len(doc.pages) == 2
    at = doc.text.index("Keepers lived")
    assert doc.locate(at)[0] == 2 and doc.locate(doc.text.index("reef"))[0] == 1
    assert doc.text[doc.pages[1]:].startswith("Keepers lived there until 1965.")


def test_docx_text_with_headings_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "light.docx"
    path.write_bytes(make_docx([("h1", "History"), ("p", "The light was built in 1871."),
                                ("h2", "Keepers"), ("p", "Keepers lived there until 1965."),
                                ("table", "year|event;1965|automated")], title="Light"))
    doc = load_file(path, "light.docx")
    assert doc.kind == "docx" and doc.title == "Light"
    assert [h for _, h in doc.headings] == ["History", "Keepers"]
    assert doc.locate(doc.text.index("until 1965"))[1] == "Keepers"
    assert doc.locate(doc.text.index("built in"))[1] == "History"
    assert "1965 | automated" in doc.text


def test_markdown_headings_are_sections(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Light\n\nBuilt in 1871.\n\n## Keepers\n\nThey left in 1965.\n", encoding="utf-8")
    doc = load_file(path, "notes.md")
    assert doc.locate(doc.text.index("1965"))[1] == "Keepers"
    assert doc.locate(doc.text.index("1871"))[1] == "Light"


def test_unusable_pdf_and_docx_are_skipped_with_the_reason(tmp_path: Path) -> None:
    good = make_pdf(PAGES)
    (tmp_path / "ok.pdf").write_bytes(good)
    (tmp_path / "locked.pdf").write_bytes(encrypt_pdf(good, "secret"))
    (tmp_path / "scan.pdf").write_bytes(make_pdf([[], []]))
    (tmp_path / "cut.pdf").write_bytes(good[: len(good) // 3])
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    result = load_folder(tmp_path)
    assert [d.doc_id for d in result.documents] == ["ok.pdf"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert "password" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scan.pdf"]
    assert "damaged" in reasons["cut.pdf"] or "no text layer" in reasons["cut.pdf"]
    assert "damaged" in reasons["broken.docx"]


def test_locate_without_pages_or_headings() -> None:
    doc = Document("a.txt", "a.txt", "plain text", "0", "text")
    assert doc.locate(3) == (None, "")


def test_page_of_each_sentence_in_a_passage_that_crosses_a_page() -> None:
    from index.types import Passage

    text = "Page one ends here. Page two starts here."
    doc = Document("a.pdf", "a.pdf", text, "0", "pdf", pages=(0, 20))
    breaks = doc.page_breaks(0, len(text))
    p = Passage("p", "a.pdf", text, 0, len(text), pages=breaks)
    assert p.page == 1 and p.page_at(5) == 1 and p.page_at(25) == 2
    assert Passage.from_json(p.to_json()).pages == breaks
    assert doc.page_breaks(25, 30) == ((25, 2),)


def test_html_headings_are_sections(tmp_path: Path) -> None:
    path = tmp_path / "light.html"
    path.write_text("<html><body><h1>The <em>Light</em></h1><p>Built in 1871.</p>"
                    "<section><h2>Keepers</h2><p>They left\n in 1965.</p></section>"
                    "<h3></h3><p>Automated since.</p></body></html>", encoding="utf-8")
    doc = load_file(path, "light.html")
    assert [h for _, h in doc.headings] == ["The Light", "Keepers"]
    assert all(doc.text[o:].startswith(h) for o, h in doc.headings)
    assert doc.locate(doc.text.index("1965"))[1] == "Keepers"
    assert doc.locate(doc.text.index("1871"))[1] == "The Light"
