"""Faults: a build killed with SIGKILL at several points, damaged index files seen from the CLI,
and a feedback log that cannot be written."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import build_index
from index.search import SearchIndex
from index.settings import IndexSettings
from index.store import live_version
from rag.assistant import Assistant
from rag.settings import RagSettings
from tests.conftest import ROOT, SEEDS
from ui.feedback import FeedbackLog


def build_cmd(docs: Path, idx: Path) -> list[str]:
    return [sys.executable, "-m", "ui.cli", "index", "build", "--full", "--docs", str(docs),
            "--index-dir", str(idx), "--precision", "fp32", "--json"]


@pytest.mark.slow
def test_build_killed_at_any_point_leaves_the_previous_index_loadable(
        tmp_path: Path, docs_copy: Path, model_path: str, embedder) -> None:  # noqa: ANN001
    settings = IndexSettings(docs_dir=docs_copy, index_dir=tmp_path / "idx", model_path=model_path,
                             precision="fp32")
    build_index(settings, embedder=embedder)
    before = [p.id for p in SearchIndex.load(settings).passages]
    started = time.perf_counter()
    subprocess.run(build_cmd(docs_copy, settings.index_dir), check=True, capture_output=True, cwd=ROOT)
    duration = time.perf_counter() - started
    for fraction in (0.3, 0.6, 0.8, 0.9, 0.95, 0.99):
        proc = subprocess.Popen(build_cmd(docs_copy, settings.index_dir), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = SearchIndex.load(settings)  # verifies every checksum
        assert [p.id for p in index.passages] == before
        answer = Assistant(RagSettings(index=settings), index=index, embedder=embedder).answer(
            "Where does Lankov live now?")
        assert "Seoul" in answer.text
    # the next build cleans up whatever the killed ones left behind
    build_index(settings, embedder=embedder)
    leftovers = [p.name for p in settings.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


@pytest.mark.parametrize("name", ["dense.faiss", "passages.jsonl", "manifest.json"])
def test_damaged_index_from_the_cli_is_one_clear_line(seed_settings: IndexSettings, seed_index,  # noqa: ANN001
                                                       tmp_path: Path, name: str) -> None:
    target = tmp_path / "idx"
    shutil.copytree(seed_settings.index_dir, target)
    path = live_version(target) / name
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    out = subprocess.run([sys.executable, "-m", "ui.cli", "ask", "Where does Lankov live?",
                          "--docs", str(SEEDS), "--index-dir", str(target)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.startswith("error:") and "rag index build" in out.stderr
    assert "Traceback" not in out.stderr and "Seoul" not in out.stdout


def test_feedback_log_that_cannot_be_written_raises_a_clear_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(OSError):
        FeedbackLog(blocker / "feedback.jsonl").append({"vote": "up"})
    if os.path.exists("/dev/full"):
        with pytest.raises(OSError) as info:
            FeedbackLog(Path("/dev/full")).append({"vote": "up"})
        assert info.value.errno is not None
    ok = FeedbackLog(tmp_path / "fb.jsonl")
    ok.append({"vote": "down"})
    assert '"vote": "down"' in (tmp_path / "fb.jsonl").read_text()
