"""The real Gradio server, driven through gradio_client and in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import launch_chromium, require_chromium

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="module")
def server(ui_server):  # noqa: ANN001, ANN201
    return ui_server


def test_ask_endpoint_conversation_citations_and_abstention(server) -> None:  # noqa: ANN001
    from gradio_client import Client

    url, _, _ = server
    client = Client(url, verbose=False)
    first = client.predict("Which Russian observer does Fitzpatrick quote?", [], 5, "hybrid",
                           api_name="/ask")
    assert "Lankov" in first["answer"] and first["citations"]
    cite = first["citations"][0]
    assert cite["doc_id"] == "000_021bd418710c3a0f.txt" and cite["sentence"] in cite["text"]
    history = [{"role": "user", "content": "Which Russian observer does Fitzpatrick quote?"},
               {"role": "assistant", "content": first["answer"]}]
    follow = client.predict("Where is he based now?", history, 5, "hybrid", api_name="/ask")
    assert "Seoul" in follow["answer"] and not follow["abstained"]
    none = client.predict("What is the recipe for sourdough bread?", [], 5, "hybrid", api_name="/ask")
    assert none["abstained"] and none["citations"] == [] and none["retrieved"]
    empty = client.predict("   ", [], 5, "hybrid", api_name="/ask")
    assert "empty" in empty["error"]


def test_server_binds_loopback_and_serves_no_project_files(server) -> None:  # noqa: ANN001
    import httpx

    url, _, settings = server
    assert settings.host == "127.0.0.1"
    index_file = Path(settings.rag.index.index_dir).resolve() / "CURRENT"
    assert index_file.is_file()
    for path in (f"gradio_api/file={index_file}", "gradio_api/file=../pyproject.toml",
                 "gradio_api/file=/etc/passwd", "gradio_api/file=%2Fetc%2Fpasswd",
                 "file=/etc/passwd", "gradio_api/file=..%2F..%2Fpyproject.toml"):
        r = httpx.get(url + path, timeout=10)
        assert r.status_code in (403, 404, 400), (path, r.status_code)


@pytest.mark.browser
def test_browser_conversation_sources_and_offline(server) -> None:  # noqa: ANN001
    require_chromium()
    from playwright.sync_api import sync_playwright

    url, log, _ = server
    outside: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            ("http://127.0.0.1", "http://localhost", "data:", "blob:")) else None)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url, wait_until="load")
        page.get_by_text("Try asking").wait_for()
        box = page.locator("#question textarea")
        box.fill("Which Russian observer does Fitzpatrick quote?")
        box.press("Enter")
        page.locator("#sources .src-card").first.wait_for(timeout=30_000)
        assert "Lankov" in page.locator("#chat").inner_text()
        assert "Sources cited" in page.locator("#sources").inner_text()
        assert page.locator("#sources mark").count() >= 1
        box.fill("Where is he based now?")
        box.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#sources').innerText.includes('Seoul')", timeout=30_000)
        box.fill("<img src=x onerror=alert(1)> <script>alert(2)</script> what?")
        box.press("Enter")
        page.wait_for_timeout(3000)
        assert "<script>alert(2)</script>" in page.locator("#chat").inner_text()
        assert page.locator("#chat img[src=x]").count() == 0
        page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)
        # thumbs up on the first answer is logged
        page.locator("#chat button[aria-label='Like']").first.click()
        page.wait_for_timeout(1500)
        browser.close()
    assert not dialogs, dialogs
    assert not outside, outside
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows and rows[0]["vote"] == "up" and "Lankov" in rows[0]["answer"]


class SlowAssistant:
    """The real assistant, with each answer held back so a second question arrives mid-answer."""

    def __init__(self, inner, delay: float) -> None:  # noqa: ANN001
        self._inner, self._delay = inner, delay

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._inner, name)

    def stream(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        import time

        for step in self._inner.stream(*args, **kwargs):
            if step.answer is not None:
                time.sleep(self._delay)
            yield step


@pytest.mark.browser
def test_a_question_sent_during_an_answer_is_kept_and_answered(assistant, tmp_path: Path) -> None:  # noqa: ANN001
    require_chromium()
    from playwright.sync_api import sync_playwright

    from evals.load import free_port
    from ui.app import build_app, launch
    from ui.settings import UISettings

    slow = SlowAssistant(assistant, 2.0)
    settings = UISettings(rag=assistant.settings, port=free_port(), feedback_log=tmp_path / "fb.jsonl")
    server = launch(build_app(slow, settings, examples=[]), settings, assistant, block=False)  # type: ignore[arg-type]
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page()
            page.goto(server.url, wait_until="load")
            box = page.locator("#question textarea")
            box.fill("Which Russian observer does Fitzpatrick quote?")
            box.press("Enter")
            page.wait_for_function(
                "() => document.querySelector('#chat').innerText.includes('Which Russian observer')",
                timeout=30_000)
            box.fill("Where is Andrei Lankov based now?")  # typed while the first answer computes
            box.press("Enter")
            page.wait_for_function(
                "() => document.querySelector('#chat').innerText.includes('Seoul')", timeout=60_000)
            chat = page.locator("#chat").inner_text()
            assert "Lankov" in chat and chat.index("Which Russian observer") < chat.index("Where is Andrei")
            browser.close()
    finally:
        server.close()


@pytest.mark.browser
def test_clicking_a_citation_marker_brings_its_source_card_into_view(server) -> None:  # noqa: ANN001
    require_chromium()
    from playwright.sync_api import sync_playwright

    url, _, _ = server
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 900, "height": 500})
        page.goto(url, wait_until="load")
        box = page.locator("#question textarea")
        box.fill("Which Russian observer does Fitzpatrick quote?")
        box.press("Enter")
        page.locator("#sources .src-card").first.wait_for(timeout=30_000)
        marker = page.locator("#chat a.cite").first
        marker.wait_for(timeout=10_000)
        pages_before = len(browser.contexts[0].pages)
        marker.click()
        page.wait_for_function("() => location.hash === '#src-1'", timeout=5_000)
        card = page.locator("#src-1")
        assert card.evaluate("e => e.matches(':target')")
        box_ = card.bounding_box()
        assert box_ is not None and box_["y"] < 500  # scrolled into view
        assert len(browser.contexts[0].pages) == pages_before  # no new tab
        browser.close()
