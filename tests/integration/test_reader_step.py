"""The reader's training-step benchmark (evals.reader_step) on the seeds, with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.reader_step import main, sample_pairs

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_pairs_are_real_sentences_half_of_them_right() -> None:
    pairs = sample_pairs(SEEDS, 40)
    assert len(pairs) == 40 and sum(p.label for p in pairs) == 20
    text = " ".join(p.read_text(encoding="utf-8") for p in SEEDS.iterdir())
    assert all(p.sentence in text and p.before in text and p.question.endswith("?") for p in pairs)


def test_it_times_both_precisions(model_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--docs", str(SEEDS), "--model-path", model_path, "--steps", "100", "--batch", "2"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["fp32_ms_per_step"] > 0 and result["bf16_ms_per_step"] > 0
    assert result["auto"] == ("bf16" if result["amx"] else "fp32")


def test_bad_step_counts_are_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--steps", "120"])
    with pytest.raises(SystemExit):
        main(["--steps", "100", "--warm", "100"])
    with pytest.raises(SystemExit):  # the first steps build kernels: always left out
        main(["--steps", "100", "--warm", "0"])
