"""The Gradio app: a chat with a sources panel, settings, feedback, an /ask API endpoint for
gradio_client, and (ui.api) a plain JSON route, POST /api/ask, in the same server.

A thin layer over rag.assistant.Assistant: no retrieval or answer logic lives here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from index.errors import RagError  # noqa: E402
from index.load import SUFFIXES  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.collection import Collection, DocumentRow  # noqa: E402
from rag.conversation import exchange  # noqa: E402
from rag.settings import Mode  # noqa: E402
from rag.types import Answer  # noqa: E402
from ui.api import make_api  # noqa: E402
from ui.feedback import FeedbackLog  # noqa: E402
from ui.render import (  # noqa: E402
    CSS,
    chat_text,
    collection_html,
    conversation_markdown,
    sources_html,
)
from ui.server import Server  # noqa: E402
from ui.settings import UISettings  # noqa: E402

log = logging.getLogger(__name__)
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def offline_theme() -> gr.themes.Base:
    """The default theme with local system fonts only: nothing fetched from the internet."""
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def collection_examples(docs_dir: Path, name: str, limit: int = 8) -> list[str]:
    """Example questions the collection brings: a JSON list of strings in its folder, if any."""
    path = Path(docs_dir) / name
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return []
    if not isinstance(data, list):
        log.warning("ignoring %s: not a JSON list of questions", path)
        return []
    return [q.strip()[:300] for q in data if isinstance(q, str) and q.strip()][:limit]


def build_app(source: Assistant | Collection, settings: UISettings,
              examples: list[str] | None = None) -> gr.Blocks:
    """The chat page over a collection (an Assistant alone is wrapped in one)."""
    collection = as_collection(source, settings)
    if examples is None:
        examples = collection_examples(collection.docs_dir, settings.examples_file)
    feedback = FeedbackLog(settings.feedback_log)
    rag = collection.assistant.settings
    llm_ready = rag.llm.enabled
    answer_modes = ["extractive", "llm"] if llm_ready else ["extractive"]
    exports = Path(tempfile.mkdtemp(prefix="rag-conversations-"))

    def respond(message: str, chat: list[dict[str, Any]], turns: list[dict[str, str]],
                records: list[dict[str, Any]], k: int, mode: str, answer_mode: str
                ) -> Iterator[tuple[Any, ...]]:
        chat, turns, records = list(chat or []), list(turns or []), list(records or [])
        if not isinstance(message, str) or not message.strip():
            gr.Warning("Type a question about the documents first.")
            yield chat, turns, records, gr.update(), message
            return
        assistant = collection.assistant  # this answer finishes on it if the collection changes
        chat.append({"role": "user", "content": escape(message)})
        chat.append({"role": "assistant", "content": "…"})
        yield chat, turns, records, gr.update(), ""  # the box empties once, when the question is taken
        keep = gr.update()  # later steps leave the box alone: the next question may be typed in it
        final: Answer | None = None
        try:
            for step in assistant.stream(message, turns, k=int(k), mode=mode, answer_mode=answer_mode):
                final = step.answer or final
                chat[-1] = {"role": "assistant",
                            "content": chat_text(step.answer) if step.answer else escape(step.text)}
                yield chat, turns, records, gr.update(), keep
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": escape(str(exc))}
            yield chat, turns, records, gr.update(), keep
            return
        if final is None:
            return
        turns += exchange(message, final.text)
        records.append({"message_index": len(chat) - 1, "question": message,
                        "history_length": len(turns) // 2 - 1, "answer": final.text,
                        "abstained": final.abstained,
                        "citations": [{"marker": c.marker, "doc_id": c.passage.doc_id,
                                       "passage_id": c.passage.id} for c in final.citations],
                        "sources": [{"marker": c.marker, "doc_id": c.passage.doc_id,
                                     "title": c.passage.title, "page": c.page,
                                     "section": c.passage.section, "sentence": c.sentence}
                                    for c in final.citations]})
        yield chat, turns, records, sources_html(final), keep

    def on_like(records: list[dict[str, Any]], data: gr.LikeData) -> None:
        index = data.index if isinstance(data.index, int) else data.index[0]
        record = next((r for r in records or [] if r["message_index"] == index), None)
        if record is None:
            return
        try:
            feedback.append({**record, "vote": "up" if data.liked else "down"})
        except OSError as exc:
            gr.Warning(f"Feedback could not be saved ({exc.strerror or exc}); chatting goes on.")
        else:
            gr.Info("Thanks, your feedback was saved.")

    def new_conversation() -> tuple[Any, ...]:
        return [], [], [], sources_html(None), ""

    def save(chat: list[dict[str, Any]], turns: list[dict[str, str]],
             records: list[dict[str, Any]], panel: str) -> tuple[dict[str, Any], Any]:
        """Keep the conversation in the browser (it survives a reload) and offer it as Markdown."""
        state = {"chat": chat or [], "turns": turns or [], "records": records or [],
                 "sources": panel or ""}
        return state, export_markdown(exports, records or [])

    def restore(state: Any) -> tuple[Any, ...]:
        chat, turns, records, panel = restored(state)
        return chat, turns, records, panel or sources_html(None), export_markdown(exports, records)

    def ask(question: str, history: list[dict[str, str]] | None = None, k: int = 5,
            mode: str = "hybrid") -> dict[str, Any]:
        """Answer a question about the documents; returns the answer and its citations.

        Args:
            question: the question to answer.
            history: earlier turns, [{"role": "user"|"assistant", "content": "..."}].
            k: number of passages to retrieve (1-20).
            mode: retrieval mode, one of dense, bm25, hybrid.
        """
        if mode not in list(Mode):
            return {"error": f"mode must be one of {', '.join(Mode)}"}
        try:
            answer = collection.assistant.answer(question, history or [],
                                                 k=max(1, min(int(k), 20)), mode=mode)
        except RagError as exc:
            return {"error": str(exc)}
        return answer.to_json()

    def chat_api(message: str, turns: list[dict[str, str]]) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """One conversational turn; the server keeps this session's history."""
        turns = list(turns or [])
        try:
            answer = collection.assistant.answer(message, turns)
        except RagError as exc:
            return {"error": str(exc)}, turns
        turns += exchange(message, answer.text)
        return answer.to_json(), turns

    def table(rows: list[DocumentRow] | None = None) -> str:
        return collection_html(collection.documents() if rows is None else rows, settings.read_only)

    def listing() -> tuple[str, Any]:
        rows = collection.documents()
        return table(rows), gr.update(choices=[r.doc_id for r in rows], value=[])

    def add_documents(files: list[str] | None, progress: gr.Progress = gr.Progress()  # noqa: B008 (Gradio's way)
                      ) -> tuple[Any, ...]:
        uploads = [(Path(f).name, Path(f)) for f in files or []]
        try:
            change = collection.add(uploads, lambda f, m: progress(f, desc=m))
            message = change.summary()
        except RagError as exc:
            message = f"Nothing was added: {exc}"
            gr.Warning(message)
        return (*listing(), escape(message), None)

    def remove_documents(doc_ids: list[str] | None, progress: gr.Progress = gr.Progress()  # noqa: B008 (Gradio's way)
                         ) -> tuple[Any, ...]:
        try:
            message = collection.remove(list(doc_ids or []), lambda f, m: progress(f, desc=m)
                                        ).summary()
        except RagError as exc:
            message = f"Nothing was removed: {exc}"
            gr.Warning(message)
        return (*listing(), escape(message))

    with gr.Blocks(title="Document assistant", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## Ask the documents\nAnswers quote the documents and cite their sources. "
                    "When the documents do not say, the assistant says so.")
        turns = gr.State([])
        records = gr.State([])
        saved = gr.BrowserState(empty_conversation(), storage_key="rag-conversation")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=460, sanitize_html=True,
                                     elem_id="chat", feedback_options=("Like", "Dislike"))
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the documents…", scale=5,
                                     show_label=False, elem_id="question", max_lines=6)
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                if examples:
                    gr.Examples(examples, inputs=box, label="Try asking")
                with gr.Row():
                    clear = gr.Button("New conversation", elem_id="new-conversation")
                    download = gr.DownloadButton("Download conversation (.md)", elem_id="download",
                                                 variant="secondary")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="sources", label="Sources")
                with gr.Accordion("Documents", open=False, elem_id="documents"):
                    doc_table = gr.HTML(table(), elem_id="doc-table")
                    if not settings.read_only:
                        upload = gr.File(file_count="multiple", file_types=sorted(SUFFIXES),
                                         label=f"Add documents: drop files here (at most "
                                               f"{settings.max_upload_mb:g} MB each)",
                                         elem_id="upload")
                        pick = gr.Dropdown([r.doc_id for r in collection.documents()], value=[],
                                           multiselect=True, label="Remove documents",
                                           elem_id="remove-pick")
                        remove = gr.Button("Remove", variant="stop", elem_id="remove-docs")
                        status = gr.Markdown(elem_id="doc-status")
                        upload.upload(add_documents, [upload], [doc_table, pick, status, upload],
                                      api_visibility="private", concurrency_limit=1)
                        remove.click(remove_documents, [pick], [doc_table, pick, status],
                                     api_visibility="private", concurrency_limit=1)
                        # the collection may have changed since the page was built
                        demo.load(listing, None, [doc_table, pick], api_visibility="private")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 20, value=min(rag.retrieval.k, 20), step=1,
                                  label="Passages to retrieve")
                    mode = gr.Radio([m.value for m in Mode], value=rag.retrieval.mode.value,
                                    label="Retrieval mode")
                    answer_mode = gr.Radio(answer_modes, value=answer_modes[-1] if llm_ready and
                                           rag.answer_mode.value == "llm" else "extractive",
                                           label="Answer mode" + ("" if llm_ready else
                                                                  " (no LLM configured)"))
        inputs = [box, chatbot, turns, records, k, mode, answer_mode]
        outputs = [chatbot, turns, records, sources, box]
        keep = ([chatbot, turns, records, sources], [saved, download])
        # a question sent while an answer is computed runs after it (not dropped)
        box.submit(respond, inputs, outputs, api_visibility="private", trigger_mode="always_last"
                   ).then(save, *keep, api_visibility="private")
        send.click(respond, inputs, outputs, api_visibility="private", trigger_mode="always_last"
                   ).then(save, *keep, api_visibility="private")
        clear.click(new_conversation, None, outputs, api_visibility="private"
                    ).then(save, *keep, api_visibility="private")
        demo.load(restore, [saved], [chatbot, turns, records, sources, download],
                  api_visibility="private")
        if settings.read_only:  # the collection may have changed since the page was built
            demo.load(table, None, [doc_table], api_visibility="private")
        chatbot.like(on_like, [records], None, api_visibility="private")
        gr.api(ask, api_name="ask")
        api_turns = gr.State([])
        api_message = gr.Textbox(visible=False)
        api_answer = gr.JSON(visible=False)
        api_message.submit(chat_api, [api_message, api_turns], [api_answer, api_turns],
                           api_name="chat")
    return demo


def as_collection(source: Assistant | Collection, settings: UISettings) -> Collection:
    if isinstance(source, Collection):
        return source
    return Collection(source, max_upload_bytes=settings.max_upload_bytes,
                      max_files=settings.max_upload_files)


def empty_conversation() -> dict[str, Any]:
    return {"chat": [], "turns": [], "records": [], "sources": ""}


def restored(state: Any) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[dict[str, Any]], str]:
    """The conversation kept in the browser, checked: anything malformed gives an empty one."""
    try:
        chat = [{"role": m["role"], "content": _message_text(m["content"])} for m in state["chat"]]
        turns, records, panel = state["turns"], state["records"], state["sources"]
        ok = (all(m["role"] in ("user", "assistant") for m in chat)
              and all(isinstance(t, dict) and t.get("role") in ("user", "assistant")
                      and isinstance(t.get("content"), str) for t in turns)
              and all(isinstance(r, dict) for r in records) and isinstance(panel, str))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        return [], [], [], ""
    return chat, turns, records, panel


def _message_text(content: Any) -> str:
    """A chat message's text: a string, or Gradio's list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(b, dict) and b.get("type") == "text"
                                         and isinstance(b.get("text"), str) for b in content):
        return "".join(b["text"] for b in content)
    raise ValueError("not a text message")


def export_markdown(folder: Path, records: list[dict[str, Any]]) -> str | None:
    """Write the conversation as Markdown for the download button (None when there is none);
    exports older than an hour are deleted."""
    if not records:
        return None
    cutoff = time.time() - 3600
    for old in folder.glob("*/conversation.md"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old.parent)
    target = folder / uuid.uuid4().hex / "conversation.md"
    target.parent.mkdir(parents=True)
    target.write_text(conversation_markdown(records), encoding="utf-8")
    return str(target)


def launch(demo: gr.Blocks, settings: UISettings, source: Assistant | Collection,
           block: bool = True) -> Server:
    """Serve the chat page and the JSON API (ui.api) from one FastAPI app on ``settings.host``;
    with ``block=False`` the server runs in a thread and is returned started. Pass the page's
    Collection so both answer from the same, switchable, index."""
    blocked = [str(Path(settings.rag.index.index_dir).resolve()),
               str(Path(settings.rag.index.docs_dir).resolve()),
               str(Path(settings.feedback_log).resolve().parent)]
    app = make_api(as_collection(source, settings), settings.auth, settings.concurrency)
    demo.queue(default_concurrency_limit=settings.concurrency)
    app = gr.mount_gradio_app(
        app, demo, path="",
        server_name=settings.host,
        server_port=settings.port,
        auth=settings.auth,
        theme=offline_theme(),
        css=CSS,
        ssr_mode=False,
        blocked_paths=blocked,
        allowed_paths=[],
        footer_links=["api"],
        mcp_server=settings.mcp,
        max_file_size=settings.max_upload_bytes,
    )
    server = Server(app, settings.host, settings.port)
    if block:
        server.run()
        return server
    return server.start()


def serve(settings: UISettings) -> int:
    """Serve the chat page until stopped; the index must exist (the CLI builds it). The models
    are loaded and run once before the server listens, so the first question is not slow."""
    assistant = Assistant(settings.rag)
    print("Loading the models …", flush=True)
    assistant.warm()
    collection = as_collection(assistant, settings)
    demo = build_app(collection, settings)
    print(f"Serving on http://{settings.host}:{settings.port} (JSON API: POST /api/ask; "
          "Ctrl+C to stop)", flush=True)
    launch(demo, settings, collection, block=True)
    return 0
