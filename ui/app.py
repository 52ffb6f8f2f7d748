"""The Gradio app: a chat with a sources panel, settings, feedback, an /ask API endpoint for
gradio_client, and (ui.api) a plain JSON route, POST /api/ask, in the same server.

A thin layer over rag.assistant.Assistant: no retrieval or answer logic lives here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from index.errors import RagError  # noqa: E402
from rag.assistant import Assistant  # noqa: E402
from rag.settings import Mode  # noqa: E402
from rag.types import Answer  # noqa: E402
from ui.api import add_api  # noqa: E402
from ui.feedback import FeedbackLog  # noqa: E402
from ui.render import CSS, chat_text, sources_html  # noqa: E402
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


def build_app(assistant: Assistant, settings: UISettings, examples: list[str] | None = None) -> gr.Blocks:
    if examples is None:
        examples = collection_examples(assistant.settings.index.docs_dir, settings.examples_file)
    feedback = FeedbackLog(settings.feedback_log)
    llm_ready = assistant.settings.llm.enabled
    answer_modes = ["extractive", "llm"] if llm_ready else ["extractive"]

    def respond(message: str, chat: list[dict[str, Any]], turns: list[dict[str, str]],
                records: list[dict[str, Any]], k: int, mode: str, answer_mode: str
                ) -> Iterator[tuple[Any, ...]]:
        chat, turns, records = list(chat or []), list(turns or []), list(records or [])
        if not isinstance(message, str) or not message.strip():
            gr.Warning("Type a question about the documents first.")
            yield chat, turns, records, gr.update(), message
            return
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
        turns += [{"role": "user", "content": message}, {"role": "assistant", "content": final.text}]
        records.append({"message_index": len(chat) - 1, "question": message,
                        "history_length": len(turns) // 2 - 1, "answer": final.text,
                        "abstained": final.abstained,
                        "citations": [{"marker": c.marker, "doc_id": c.passage.doc_id,
                                       "passage_id": c.passage.id} for c in final.citations]})
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
            answer = assistant.answer(question, history or [], k=max(1, min(int(k), 20)), mode=mode)
        except RagError as exc:
            return {"error": str(exc)}
        return answer.to_json()

    def chat_api(message: str, turns: list[dict[str, str]]) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """One conversational turn; the server keeps this session's history."""
        turns = list(turns or [])
        try:
            answer = assistant.answer(message, turns)
        except RagError as exc:
            return {"error": str(exc)}, turns
        turns += [{"role": "user", "content": message}, {"role": "assistant", "content": answer.text}]
        return answer.to_json(), turns

    with gr.Blocks(title="Document assistant", analytics_enabled=False) as demo:
        gr.Markdown("## Ask the documents\nAnswers quote the documents and cite their sources. "
                    "When the documents do not say, the assistant says so.")
        turns = gr.State([])
        records = gr.State([])
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
                clear = gr.Button("New conversation", elem_id="new-conversation")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="sources", label="Sources")
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, 20, value=min(assistant.settings.retrieval.k, 20), step=1,
                                  label="Passages to retrieve")
                    mode = gr.Radio([m.value for m in Mode], value=assistant.settings.retrieval.mode.value,
                                    label="Retrieval mode")
                    answer_mode = gr.Radio(answer_modes, value=answer_modes[-1] if llm_ready and
                                           assistant.settings.answer_mode.value == "llm" else "extractive",
                                           label="Answer mode" + ("" if llm_ready else
                                                                  " (no LLM configured)"))
        inputs = [box, chatbot, turns, records, k, mode, answer_mode]
        outputs = [chatbot, turns, records, sources, box]
        # a question sent while an answer is computed runs after it (not dropped)
        box.submit(respond, inputs, outputs, api_visibility="private", trigger_mode="always_last")
        send.click(respond, inputs, outputs, api_visibility="private", trigger_mode="always_last")
        clear.click(new_conversation, None, outputs, api_visibility="private")
        chatbot.like(on_like, [records], None, api_visibility="private")
        gr.api(ask, api_name="ask")
        api_turns = gr.State([])
        api_message = gr.Textbox(visible=False)
        api_answer = gr.JSON(visible=False)
        api_message.submit(chat_api, [api_message, api_turns], [api_answer, api_turns],
                           api_name="chat")
    return demo


def launch(demo: gr.Blocks, settings: UISettings, assistant: Assistant, block: bool = True) -> Server:
    """Serve the chat page and ``POST /api/ask`` (ui.api) from one FastAPI app on
    ``settings.host``; with ``block=False`` the server runs in a thread and is returned started."""
    blocked = [str(Path(settings.rag.index.index_dir).resolve()),
               str(Path(settings.rag.index.docs_dir).resolve()),
               str(Path(settings.feedback_log).resolve().parent)]
    app = FastAPI(title="Document assistant", docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json")
    add_api(app, assistant, settings.auth, settings.concurrency)
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
    demo = build_app(assistant, settings)
    print(f"Serving on http://{settings.host}:{settings.port} (JSON API: POST /api/ask; "
          "Ctrl+C to stop)", flush=True)
    launch(demo, settings, assistant, block=True)
    return 0
