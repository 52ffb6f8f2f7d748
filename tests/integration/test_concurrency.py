"""Load: concurrent sessions against one server, and many questions in one process."""

from __future__ import annotations

import gc

import psutil
import pytest

from evals.load import run_sessions


@pytest.mark.slow
def test_32_concurrent_sessions_each_keep_their_own_conversation(ui_server) -> None:  # noqa: ANN001
    url, _, _ = ui_server
    for via in ("api", "gradio"):
        result = run_sessions(url, sessions=32, turns=3, via=via)
        print(f"\n32 sessions x 3 turns via {via}: p50 {result['latency_ms']['p50']} ms, "
              f"p95 {result['latency_ms']['p95']} ms, wall {result['wall_seconds']} s")
        assert result["errors"] == 0, result["error_samples"]
        assert result["requests"] == 96
        assert result["mixed"] == 0, result["mixed_sessions"]


@pytest.mark.slow
def test_2000_questions_in_one_process_memory_levels_off(assistant, dev_items) -> None:  # noqa: ANN001
    questions = [d["question"] for d in dev_items]
    proc = psutil.Process()
    samples = []
    for i in range(2000):
        q = questions[i % len(questions)]
        history = dev_items[i % len(dev_items)]["history"]
        answer = assistant.answer(f"{q} ({i})" if i % 3 == 0 else q, history)
        assert answer.text
        if i % 250 == 249:
            gc.collect()
            samples.append(proc.memory_info().rss / 2**20)
    growth_second_half = samples[-1] - samples[3]
    print(f"\nRSS MB every 250 questions: {[round(s, 1) for s in samples]}")
    assert growth_second_half < 20, samples
