"""`rag chat`: a terminal conversation with history, /sources, /reset and /quit."""

from __future__ import annotations

import subprocess
import sys

from index.settings import IndexSettings
from tests.conftest import ROOT, SEEDS


def test_terminal_chat_follow_up_sources_reset(seed_settings: IndexSettings, seed_index) -> None:  # noqa: ANN001
    script = "\n".join([
        "/sources",
        "Which Russian observer does Fitzpatrick quote?",
        "Where is he based now?",
        "/sources",
        "/reset",
        "",
        "/quit",
    ]) + "\n"
    out = subprocess.run([sys.executable, "-m", "ui.cli", "chat", "--docs", str(SEEDS),
                          "--index-dir", str(seed_settings.index_dir)],
                         input=script, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "(no answer yet)" in text
    answers = [line.split("assistant> ", 1)[1] for line in text.splitlines() if "assistant> " in line]
    assert len(answers) == 2
    assert "Lankov" in answers[0] and "Seoul" in answers[1]
    assert "Sources:" in text and "000_021bd418710c3a0f.txt" in text
    assert "(new conversation)" in text
    assert "error: The question is empty" in text
