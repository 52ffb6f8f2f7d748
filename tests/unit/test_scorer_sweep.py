"""python -m evals.scorer_sweep on made-up candidates: each setting is cross-validated by
document and its held-out figures written, one JSON line a setting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import evals.scorer_sweep as sweep_mod
from evals.answerer_train import Example
from evals.settings import TrainSettings
from evals.train import Gathered
from index.types import Passage
from rag.candidates import SENTENCE_FEATURES, Candidate
from rag.types import Hit

RIGHT, WRONG = "The bridge opened to traffic in 1932.", "The river below it is wide and slow."


def example(n: int, rng: np.random.Generator) -> Example:
    answerable = n % 3 != 0
    text = f"{RIGHT} {WRONG}"
    p = Passage("p", "d.txt", text, 0, len(text), "", "", ((0, len(RIGHT)), (len(RIGHT) + 1, len(text))))
    hit = Hit(p, 1.0, 1)
    cos = SENTENCE_FEATURES.index("cos")
    right, wrong = (np.zeros(len(SENTENCE_FEATURES), dtype=np.float32) for _ in range(2))
    right[cos] = (0.8 if answerable else 0.35) + 0.05 * rng.normal()
    wrong[cos] = 0.3 + 0.05 * rng.normal()
    cands = [Candidate(hit, 0, len(RIGHT), RIGHT, right),
             Candidate(hit, len(RIGHT) + 1, len(text), WRONG, wrong)]
    item = {"answerable": answerable, "answers": ["1932"] if answerable else [], "question": "When?",
            "history": [], "type": "factoid"}
    return Example(item, f"set/doc{n % 10}", cands, np.array([answerable, False]))


def test_each_setting_is_cross_validated_and_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    data = [example(n, rng) for n in range(300)]
    monkeypatch.setattr(sweep_mod, "gather", lambda settings, say: Gathered(
        data, [e.group for e in data], [], 0.0, None))
    out = tmp_path / "sweep.jsonl"
    names = ["default", "sentence: 150 trees"]
    rows = sweep_mod.sweep(TrainSettings(data=["x"], folds=2, compare=False), names, out, say=lambda _: None)
    assert [r["setting"] for r in rows] == names
    assert rows[1]["sentence"]["trees"] == 150 and rows[0]["sentence"]["trees"] == 300
    for r in rows:  # the right sentence is easy to tell here: held out, it is found
        m = r["held_out"]
        assert m["accuracy"] > 0.9 and m["answerable"] == 200 and m["unanswerable"] == 100
        assert set(r["by_source"]) >= {"set"}
    assert [json.loads(line)["setting"] for line in out.read_text().splitlines()] == names


def test_unknown_settings_are_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("sys.argv", ["scorer_sweep", "--data", "x", "--only", "no such setting"])
    with pytest.raises(SystemExit):
        sweep_mod.main()
    assert "unknown settings" in capsys.readouterr().err
