"""Adding and removing documents while serving (rag.collection): the real model, index builds,
the atomic switch, and what a failed or refused change leaves behind."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from tests.unit.docfiles import encrypt_pdf, make_pdf

LIGHTHOUSE = (
    "Restoring the Kellerman Point lighthouse\n\n"
    "The Kellerman Point lighthouse stood dark for thirty years after its keeper retired. "
    "In 1998 a team of fourteen volunteers, led by the structural engineer Marta Ruiz, "
    "rebuilt its lantern room and replaced the rusted stairs. "
    "The restored light was switched on again in the spring of 2001 and can be seen from "
    "twenty miles out at sea.\n"
)
QUESTION = "Who led the restoration of the Kellerman Point lighthouse?"


@pytest.fixture
def collection(seed_settings, seed_index, embedder, tmp_path: Path):  # noqa: ANN001, ANN201
    """A Collection over a writable copy of the seeds and of their index."""
    from index.search import SearchIndex
    from rag.assistant import Assistant
    from rag.collection import Collection
    from rag.settings import RagSettings

    docs = tmp_path / "docs"
    shutil.copytree(seed_settings.docs_dir, docs)
    index_dir = tmp_path / "index"
    shutil.copytree(seed_settings.index_dir, index_dir, ignore=shutil.ignore_patterns("*.lock"))
    settings = seed_settings.model_copy(update={"docs_dir": docs, "index_dir": index_dir})
    rag = RagSettings(index=settings)
    return Collection(Assistant(rag, index=SearchIndex.load(settings), embedder=embedder),
                      max_upload_bytes=100_000, max_files=3)


def upload(tmp_path: Path, name: str, data: bytes | str) -> tuple[str, Path]:
    """A file as Gradio hands it over: a path in its own upload folder, and the user's name."""
    folder = tmp_path / "uploads" / str(len(list(tmp_path.glob("uploads/*"))))
    folder.mkdir(parents=True)
    path = folder / "upload.bin"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return name, path


def test_added_document_is_answered_from_and_earlier_questions_keep_the_old_index(
        collection, tmp_path: Path) -> None:  # noqa: ANN001
    before = collection.assistant
    assert "Marta Ruiz" not in before.answer(QUESTION).text
    change = collection.add([upload(tmp_path, "../../notes/Light house.txt", LIGHTHOUSE)])
    assert change.added == ("Light house.txt",) and not change.refused
    assert (collection.docs_dir / "Light house.txt").read_text() == LIGHTHOUSE
    assert not list(tmp_path.glob("notes")) and not list(collection.docs_dir.glob(".*.part"))
    answer = collection.assistant.answer(QUESTION)
    assert "Marta Ruiz" in answer.text
    assert answer.citations and answer.citations[0].doc_id == "Light house.txt"
    assert "Light house.txt" in [r.doc_id for r in collection.documents()]
    # an assistant taken before the switch still answers from the index it started with
    assert "Light house.txt" not in before.index.manifest["documents"]
    assert collection.assistant.embedder is before.embedder  # the model is not loaded again

    # the same name again is kept beside the first, never over it
    again = collection.add([upload(tmp_path, "Light house.txt", LIGHTHOUSE + "\nA note.\n")])
    assert again.added == ("Light house (2).txt",)
    assert (collection.docs_dir / "Light house.txt").read_text() == LIGHTHOUSE

    removed = collection.remove(["Light house.txt", "Light house (2).txt"])
    assert removed.removed == ("Light house.txt", "Light house (2).txt")
    assert not (collection.docs_dir / "Light house.txt").exists()
    kept = sorted(p.name for p in (collection.docs_dir / ".removed").iterdir())
    assert len(kept) == 2 and all(n.endswith(".txt") for n in kept)  # recoverable
    assert "Marta Ruiz" not in collection.assistant.answer(QUESTION).text
    assert "Light house.txt" not in [r.doc_id for r in collection.documents()]


def test_unreadable_or_unwanted_files_are_refused_with_reasons(collection, tmp_path: Path) -> None:  # noqa: ANN001
    from rag.collection import CollectionError

    files_before = sorted(p.name for p in collection.docs_dir.rglob("*"))
    version_before = collection.assistant.index.directory
    pdf = make_pdf([["A page of text that nobody can read without the password."]])
    change = collection.add([
        upload(tmp_path, "locked.pdf", encrypt_pdf(pdf, "secret")),
        upload(tmp_path, "tool.exe", b"MZ\x90\x00"),
        upload(tmp_path, "big.txt", "word " * 30_000),
    ])
    reasons = dict(change.refused)
    assert set(reasons) == {"locked.pdf", "tool.exe", "big.txt"} and not change.added
    assert "encrypted" in reasons["locked.pdf"] and "supported" in reasons["tool.exe"]
    assert "limit" in reasons["big.txt"]
    assert sorted(p.name for p in collection.docs_dir.rglob("*")) == files_before
    assert collection.assistant.index.directory == version_before  # no rebuild, nothing switched
    with pytest.raises(CollectionError, match="At most 3"):
        collection.add([upload(tmp_path, f"n{i}.txt", "text") for i in range(4)])
    with pytest.raises(CollectionError, match="Not in the collection"):
        collection.remove(["../pyproject.toml"])
    with pytest.raises(CollectionError, match="empty"):
        collection.remove([r.doc_id for r in collection.documents()])
    assert sorted(p.name for p in collection.docs_dir.rglob("*")) == files_before


def test_a_failed_build_leaves_folder_and_index_as_they_were(collection, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import rag.collection as module

    files_before = sorted(p.name for p in collection.docs_dir.rglob("*"))
    live = collection.assistant

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "build_index", broken)
    with pytest.raises(OSError, match="No space"):
        collection.add([upload(tmp_path, "lighthouse.txt", LIGHTHOUSE)])
    assert sorted(p.name for p in collection.docs_dir.rglob("*")) == files_before
    doc = next(r.doc_id for r in collection.documents())
    with pytest.raises(OSError, match="No space"):
        collection.remove([doc])
    assert sorted(p.name for p in collection.docs_dir.rglob("*") if ".removed" not in p.parts) \
        == files_before
    assert collection.assistant is live


@contextlib.contextmanager
def serving(collection, tmp_path: Path, **settings: object):  # noqa: ANN001, ANN201
    """The chat page and API over ``collection`` on a free loopback port."""
    from evals.load import free_port
    from ui.app import build_app, launch
    from ui.settings import UISettings

    ui = UISettings(rag=collection.assistant.settings, port=free_port(),
                    feedback_log=tmp_path / "fb.jsonl", **settings)
    server = launch(build_app(collection, ui, examples=[]), ui, collection, block=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def live_server(collection, tmp_path: Path):  # noqa: ANN001, ANN201
    with serving(collection, tmp_path, max_upload_mb=0.1) as server:
        yield server


@pytest.mark.browser
def test_browser_upload_answer_reload_download_and_remove(live_server, collection,  # noqa: ANN001
                                                          tmp_path: Path) -> None:
    import httpx

    from tests.conftest import launch_chromium, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    notes = tmp_path / "Kellerman notes.txt"
    notes.write_text(LIGHTHOUSE, encoding="utf-8")
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(live_server.url, wait_until="load")
        page.locator("#documents > button").first.click()
        page.locator("#doc-table table").wait_for(timeout=10_000)
        page.locator("#upload input[type=file]").set_input_files(str(notes))
        page.wait_for_function(
            "() => document.querySelector('#doc-table').innerText.includes('Kellerman notes.txt')",
            timeout=120_000)
        # the table can refresh before the status drops its progress bar (seen under load)
        page.wait_for_function(
            "() => document.querySelector('#doc-status').innerText.includes('Added Kellerman notes.txt')",
            timeout=30_000)
        listed = httpx.get(live_server.url + "api/documents", timeout=10).json()
        assert "Kellerman notes.txt" in [d["doc_id"] for d in listed["documents"]]

        box = page.locator("#question textarea")
        box.fill(QUESTION)
        box.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#chat').innerText.includes('Marta Ruiz')", timeout=60_000)
        # the sources panel is filled by the answer's last event, after the chat text
        page.wait_for_function(
            "() => document.querySelector('#sources').innerText.includes('Kellerman notes.txt')",
            timeout=30_000)

        # the download button offers the conversation as Markdown with its citations
        page.wait_for_function(  # saved in the browser (and the download made) after the answer
            "() => (localStorage.getItem('rag-conversation') || '').length > 500", timeout=30_000)
        with page.expect_download() as info:
            page.locator("#download").click()
        markdown = Path(info.value.path()).read_text(encoding="utf-8")
        assert QUESTION in markdown and "Marta Ruiz" in markdown
        assert "Kellerman notes.txt" in markdown and "[1]" in markdown

        # the conversation survives a reload, sources and all
        page.reload(wait_until="load")
        page.wait_for_function(
            "() => (document.querySelector('#chat')?.innerText || '').includes('Marta Ruiz')",
            timeout=30_000)
        page.wait_for_function(
            "() => document.querySelector('#sources').innerText.includes('Kellerman notes.txt')",
            timeout=30_000)

        # remove it again from the page
        page.locator("#documents > button").first.click()
        page.locator("#remove-pick input").click()
        page.get_by_role("option", name="Kellerman notes.txt").click()
        page.locator("#remove-docs").click()
        page.wait_for_function(
            "() => !document.querySelector('#doc-table').innerText.includes('Kellerman notes.txt')",
            timeout=120_000)
        page.wait_for_function(
            "() => document.querySelector('#doc-status').innerText.includes('Removed Kellerman notes.txt')",
            timeout=30_000)
        browser.close()
    assert "Marta Ruiz" not in collection.assistant.answer(QUESTION).text


@pytest.mark.browser
def test_read_only_page_lists_documents_but_cannot_change_them(collection, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.conftest import launch_chromium, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    with serving(collection, tmp_path, read_only=True) as server, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(server.url, wait_until="load")
        page.locator("#documents > button").first.click()
        page.locator("#doc-table table").wait_for(timeout=10_000)
        assert "read-only" in page.locator("#doc-table").inner_text()
        assert page.locator("#upload").count() == 0 and page.locator("#remove-docs").count() == 0
        browser.close()
