"""`rag eval` output formats, and the ranking metrics against an independent implementation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evals.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from evals.run_eval import run
from tests.conftest import DEV_SET, ROOT


def test_eval_writes_predictions_metrics_and_report(assistant, tmp_path: Path) -> None:  # noqa: ANN001
    metrics = run(assistant, DEV_SET, tmp_path)
    preds = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == sum(1 for line in DEV_SET.read_text().splitlines() if line.strip())
    items = {json.loads(line)["id"]: json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()}
    for p in preds:
        follow_up = {"repeats_history"} if items[p["id"]]["history"] else set()
        assert set(p) == {"id", "answer", "abstained", "citations", "retrieved", "latency_ms", "confidence",
                          "reader_used", *follow_up}
        assert p["reader_used"] in (True, False)  # the bundled scorer reads unless its fast stage is sure
        assert len(p["retrieved"]) >= 5
        for c in p["citations"]:
            source = (ROOT / "seeds" / c["doc_id"]).read_text(encoding="utf-8")
            assert source[c["start"] : c["end"]] == c["text"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["metrics"]["all"]["n"] == len(preds)
    assert saved["git_commit"] and saved["index_manifest_sha256"]
    assert metrics["metrics"]["follow-up"]["answerable"] > 0
    assert 0 <= metrics["metrics"]["follow-up"]["repeats_history"] <= 1
    assert 0 <= saved["metrics"]["all"]["unread_share"] <= 1
    assert (tmp_path / "accuracy_by_type.png").stat().st_size > 1000
    assert "| follow-up |" in (tmp_path / "report.md").read_text()


def test_eval_replays_conversations_with_its_own_answers(assistant, tmp_path: Path) -> None:  # noqa: ANN001
    metrics = run(assistant, DEV_SET, tmp_path, own_history=True)
    assert "own answers" in metrics["held_out"]
    follow = metrics["metrics"]["follow-up"]
    assert follow["answerable"] > 0 and 0 <= follow["accuracy"] <= 1


def test_ranking_metrics_match_ranx() -> None:
    from ranx import Qrels, Run, evaluate

    qrels = {"q1": {"d1": 1, "d4": 1}, "q2": {"d2": 1}, "q3": {"d9": 1}}
    ranked = {"q1": ["d3", "d1", "d2", "d4"], "q2": ["d2", "d5"], "q3": ["d1", "d2"]}
    run_dict = {q: {d: float(len(ds) - i) for i, d in enumerate(ds)} for q, ds in ranked.items()}
    want = evaluate(Qrels(qrels), Run(run_dict), ["ndcg@10", "recall@100", "mrr@10"])
    ours = {
        "ndcg@10": sum(ndcg_at_k(ranked[q], qrels[q], 10) for q in qrels) / 3,
        "recall@100": sum(recall_at_k(ranked[q], qrels[q], 100) for q in qrels) / 3,
        "mrr@10": sum(mrr_at_k(ranked[q], qrels[q], 10) for q in qrels) / 3,
    }
    for key, value in ours.items():
        assert abs(value - want[key]) < 1e-9, key


def test_help_is_fast_and_imports_no_torch_or_gradio() -> None:
    code = ("import sys; from ui.cli import build_parser; build_parser().format_help(); "
            "print('torch' in sys.modules, 'gradio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
    helped = subprocess.run([sys.executable, "-m", "ui.cli", "--help"], capture_output=True,
                            text=True, check=True)
    assert "index" in helped.stdout and "serve" in helped.stdout


def test_cli_reports_errors_without_traceback(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "ui.cli", "index", "info", "--index-dir",
                          str(tmp_path / "nothing")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "rag index build" in out.stderr and "Traceback" not in out.stderr


def test_llm_judge_scores_faithfulness_and_relevance(assistant, tmp_path: Path) -> None:  # noqa: ANN001
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from evals.judge import judge

    items = [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()][:3]
    preds = [{"answer": "x [1]", "abstained": False, "citations": [{"marker": 1, "text": "t"}]},
             {"answer": "y [1]", "abstained": False, "citations": [{"marker": 1, "text": "t"}]},
             {"answer": "z", "abstained": True, "citations": []}]
    model = FakeListChatModel(responses=["YES", "5", "NO", "I think 3"])
    result = judge(model, items, preds)
    assert result["judged"] == 2
    assert result["faithfulness"] == 0.5
    assert result["relevance"] == (1.0 + 0.5) / 2
