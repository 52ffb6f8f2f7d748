"""Loading documents: supported formats, and bad input skipped with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import NoDocuments
from index.load import load_folder
from index.sentences import split_sentences


def write(folder: Path, name: str, data: bytes | str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_bad_files_are_skipped_with_reasons_and_the_rest_loads(tmp_path: Path) -> None:
    write(tmp_path, "good.txt", "A real document.\n\nIt has two paragraphs of text.\n")
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "blank.md", "   \n\n  ")
    write(tmp_path, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    write(tmp_path, "latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"))
    write(tmp_path, "ignored.png", b"%PDF-1.4")
    result = load_folder(tmp_path)
    assert [d.doc_id for d in result.documents] == ["good.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.md"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "not valid UTF-8" in reasons["latin1.txt"]
    assert "ignored.png" not in reasons  # not a document type


def test_folder_with_no_documents_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "empty.txt", "")
    with pytest.raises(NoDocuments, match="No usable documents.*empty.txt: empty file"):
        load_folder(tmp_path)
    with pytest.raises(NoDocuments, match="not found"):
        load_folder(tmp_path / "missing")


def test_html_text_title_and_author_without_scripts(tmp_path: Path) -> None:
    write(tmp_path, "page.html", """<html><head><title>Tab title</title>
        <meta name="author" content="Ada Writer"><script>var secret = 1;</script></head>
        <body><nav><a href="/">Home</a></nav><h1>The Headline</h1>
        <p>First paragraph of the story. It continues here.</p>
        <figure><img src="x.jpg"><figcaption>A caption</figcaption></figure>
        <p>Second <b>bold</b> paragraph.</p><footer>Copyright</footer></body></html>""")
    doc = load_folder(tmp_path).documents[0]
    assert doc.title == "The Headline"
    assert doc.author == "Ada Writer"
    assert "First paragraph of the story. It continues here." in doc.text
    assert "Second bold paragraph." in doc.text
    for gone in ("secret", "Home", "A caption", "Copyright"):
        assert gone not in doc.text


def test_markdown_and_nested_folders(tmp_path: Path) -> None:
    write(tmp_path, "sub/notes.md", "# Notes\n\nSome notes about the harbour.\n")
    write(tmp_path, ".hidden/x.txt", "hidden text")
    docs = load_folder(tmp_path).documents
    assert [d.doc_id for d in docs] == ["sub/notes.md"]
    assert docs[0].title == "Notes"


def test_sentence_splitter_keeps_abbreviations_and_initials() -> None:
    text = ("Evelyn N. Farkas met U.S. officials in Washington. They talked. "
            "Mr. Smith said “no.” Then he left! Did he? Yes.")
    spans = split_sentences(text)
    sents = [text[s:e] for s, e in spans]
    assert sents == ["Evelyn N. Farkas met U.S. officials in Washington.", "They talked.",
                     "Mr. Smith said “no.”", "Then he left!", "Did he?", "Yes."]
