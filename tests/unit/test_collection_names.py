"""Upload names (rag.collection.safe_name), the Markdown transcript and the conversation
restored from the browser: pure functions, no model."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.collection import CollectionError, free_name, safe_name


@pytest.mark.parametrize(("given", "kept"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/notes.txt", "notes.txt"),
    ("C:\\Users\\me\\Desktop\\Minutes 2024.DOCX", "Minutes 2024.docx"),
    (".hidden.md", "hidden.md"),
    ("a\x00b\nc.txt", "a_b_c.txt"),
    ("<b>alert(1)<i>.html", "_b_alert(1)_i_.html"),
    ("<script>alert(1)</script>.html", "script_.html"),
    ("Ｒéｓｕｍé.md", "Résumé.md"),
    ("x" * 300 + ".txt", "x" * 116 + ".txt"),
])
def test_upload_names_lose_folders_and_odd_characters(given: str, kept: str) -> None:
    assert safe_name(given) == kept
    assert "/" not in kept and "\\" not in kept and not kept.startswith(".")


@pytest.mark.parametrize("given", ["run.exe", "archive.tar.gz", "noext", "..", "/", ". .txt", ""])
def test_unsupported_or_empty_names_are_refused(given: str) -> None:
    with pytest.raises(CollectionError):
        safe_name(given)


def test_free_name_never_picks_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "a (2).txt").write_text("2")
    assert free_name(tmp_path, "a.txt") == tmp_path / "a (3).txt"
    assert free_name(tmp_path, "b.txt") == tmp_path / "b.txt"


def test_conversation_markdown_has_questions_answers_and_cited_sentences() -> None:
    from ui.render import conversation_markdown

    records = [{"question": "Who <b>wrote</b> it?", "answer": "Ann wrote it. [1]",
                "sources": [{"marker": 1, "doc_id": "a.pdf", "title": "A", "page": 3,
                             "section": "", "sentence": "Ann wrote it\nin 1990."}]},
               {"question": "When?", "answer": "The documents do not say.", "sources": []}]
    md = conversation_markdown(records)
    assert "**Question:** Who &lt;b&gt;wrote&lt;/b&gt; it?" in md
    assert "- [1] A (a.pdf, page 3): “Ann wrote it in 1990.”" in md
    assert md.index("Who") < md.index("When?") and "The documents do not say." in md


def test_a_tampered_or_old_saved_conversation_restores_as_empty() -> None:
    from ui.app import restored

    good = {"chat": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                     {"role": "assistant", "content": "Hello [1]"}],
            "turns": [{"role": "user", "content": "Hi"}], "records": [{}], "sources": "<div/>"}
    chat, turns, records, panel = restored(good)
    assert chat[0] == {"role": "user", "content": "Hi"} and turns and panel == "<div/>"
    for bad in (None, [], {"chat": []}, {**good, "chat": [{"role": "system", "content": "x"}]},
                {**good, "chat": [{"role": "user", "content": [{"type": "image"}]}]},
                {**good, "turns": [{"role": "user", "content": 3}]}, {**good, "sources": 5}):
        assert restored(bad) == ([], [], [], "")
