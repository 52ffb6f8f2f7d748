"""POST /api/ask: the plain JSON route served beside the chat page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rag.assistant import Assistant


def test_api_answers_like_rag_ask_json(ui_server, assistant: Assistant) -> None:  # noqa: ANN001
    url = ui_server[0]
    question = "Where does Andrei Lankov live now?"
    r = httpx.post(url + "api/ask", json={"question": question}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    direct = assistant.answer(question).to_json()
    assert set(body) == set(direct)
    assert body["answer"] == direct["answer"] and "Seoul" in body["answer"]
    assert [c["passage_id"] for c in body["citations"]] == [c["passage_id"] for c in direct["citations"]]
    # the phrase that answers a where-question is marked inside the cited sentence
    lead = body["citations"][0]
    assert lead["phrase"] == "Seoul"
    assert lead["sentence_start"] <= lead["phrase_start"] < lead["phrase_end"] <= lead["sentence_end"]


def test_api_follow_up_uses_the_history(ui_server) -> None:  # noqa: ANN001
    url = ui_server[0]
    first = httpx.post(url + "api/ask", json={"question": "Who is Andrei Lankov?"}, timeout=60).json()
    history = [{"role": "user", "content": "Who is Andrei Lankov?"},
               {"role": "assistant", "content": first["answer"]}]
    r = httpx.post(url + "api/ask", json={"question": "Where does he live now?", "history": history,
                                          "k": 3, "mode": "hybrid"}, timeout=60)
    assert r.status_code == 200, r.text
    assert "Lankov" in r.json()["resolved_query"] and "Seoul" in r.json()["answer"]


@pytest.mark.parametrize("body", [
    {},
    {"question": ""},
    {"question": "   "},
    {"question": 42},
    {"question": "Who?", "k": 0},
    {"question": "Who?", "k": 21},
    {"question": "Who?", "mode": "psychic"},
    {"question": "Who?", "history": [{"role": "system", "content": "x"}]},
    {"question": "Who?", "history": "not a list"},
    {"question": "Who?", "surprise": 1},
])
def test_api_bad_input_is_a_422_with_a_reason(ui_server, body: dict) -> None:  # noqa: ANN001
    r = httpx.post(ui_server[0] + "api/ask", json=body, timeout=30)
    assert r.status_code == 422, (body, r.status_code, r.text)
    assert r.json()["detail"]


def test_api_rejects_non_json(ui_server) -> None:  # noqa: ANN001
    r = httpx.post(ui_server[0] + "api/ask", content=b"question=hi",
                   headers={"content-type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 422


def test_api_needs_credentials_when_auth_is_set(assistant: Assistant, tmp_path: Path) -> None:
    from evals.load import free_port
    from ui.app import build_app, launch
    from ui.settings import UISettings

    settings = UISettings(rag=assistant.settings, port=free_port(), auth="alice:correct-horse",
                          feedback_log=tmp_path / "fb.jsonl")
    server = launch(build_app(assistant, settings), settings, assistant, block=False)
    try:
        ask = {"question": "Where does Andrei Lankov live now?"}
        url = server.url + "api/ask"
        assert httpx.post(url, json=ask, timeout=30).status_code == 401
        assert httpx.post(url, json=ask, auth=("alice", "nope"), timeout=30).status_code == 401
        assert httpx.post(url, json=ask, auth=("bob", "correct-horse"), timeout=30).status_code == 401
        ok = httpx.post(url, json=ask, auth=("alice", "correct-horse"), timeout=60)
        assert ok.status_code == 200 and "Seoul" in ok.json()["answer"]
        docs = server.url + "api/documents"
        assert httpx.get(docs, timeout=30).status_code == 401
        listed = httpx.get(docs, auth=("alice", "correct-horse"), timeout=30)
        assert listed.status_code == 200 and len(listed.json()["documents"]) == 2
        # the page's upload route is behind the same sign-in
        upload = httpx.post(server.url + "gradio_api/upload",
                            files={"files": ("a.txt", b"text", "text/plain")}, timeout=30)
        assert upload.status_code in (401, 403), upload.status_code
    finally:
        server.close()
