"""The command line turns every bad input into one line on stderr and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rag(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, expected", [
    (["ask", "x", "-k", "0"], "--k"),
    (["ask", "x", "--mode", "nonsense"], "hybrid"),
    (["eval", "--dataset", "missing.jsonl"], "missing.jsonl"),
    (["serve", "--docs", "/nonexistent"], "/nonexistent"),
    (["index", "build", "--docs", "README.md"], "not a folder"),
    (["search", "x", "--fusion", "borda"], "weighted"),
])
def test_bad_input_is_one_clear_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    out = rag(*args, "--index-dir", str(tmp_path / "idx"))
    assert out.returncode == 2, out.stderr
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
    assert expected in lines[0] and "Traceback" not in out.stderr


def test_environment_values_are_checked_too(tmp_path: Path) -> None:
    out = rag("ask", "x", "--index-dir", str(tmp_path), env={"RAG_ANSWER_MODE": "poetry"})
    assert out.returncode == 2
    assert "RAG_ANSWER_MODE" in out.stderr and "extractive" in out.stderr


def test_every_subcommand_has_help() -> None:
    for cmd in (["index", "build"], ["search"], ["ask"], ["chat"], ["serve"], ["eval"],
                ["eval-retrieval"], ["bench"]):
        out = rag(*cmd, "--help")
        assert out.returncode == 0 and "usage: rag" in out.stdout, cmd


def test_build_report_lists_only_what_changed_in_a_large_collection(capsys, tmp_path) -> None:  # noqa: ANN001
    from index.build import BuildReport, DocReport
    from ui.commands import print_build_report

    def doc(i: int, status: str) -> DocReport:
        return DocReport(f"doc{i}.txt", status, 3, 100, 0, 2, 0, {}, f"Doc {i}", "")

    small = BuildReport(tmp_path, documents=[doc(0, "unchanged"), doc(1, "new")], extended=0)
    print_build_report(small)
    out = capsys.readouterr().out
    assert "doc0.txt" in out and "doc1.txt" in out and "extended" not in out

    large = BuildReport(tmp_path, documents=[doc(i, "unchanged") for i in range(60)] + [doc(60, "new")],
                        extended=2)
    print_build_report(large)
    out = capsys.readouterr().out
    assert "doc60.txt" in out and "doc0.txt " not in out
    assert "60 unchanged documents" in out and "2 HNSW indexes extended" in out
    assert "delta" not in out
    appended = BuildReport(tmp_path, documents=[doc(0, "unchanged"), doc(1, "new")], delta_passages=3)
    print_build_report(appended)
    assert "3 added passages kept in the delta segment" in capsys.readouterr().out
