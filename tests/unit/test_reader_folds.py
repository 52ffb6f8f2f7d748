"""How many out-of-fold readers train-answerer trains (``--reader-folds``), and on what."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest


def _stage(monkeypatch: pytest.MonkeyPatch, groups: list[str], **settings: Any) -> tuple[dict, np.ndarray]:
    import evals.reader_train as rt
    from evals.settings import TrainSettings
    from evals.train import reader_stage

    class Data:
        def __init__(self) -> None:
            self.groups = groups

        def picks(self, n: int) -> list[np.ndarray]:
            return [np.zeros(0, dtype=np.int64)] * len(groups)

    seen: dict[str, np.ndarray] = {}

    def oof(rd: Any, base: str, cfg: Any, folds: np.ndarray, cache: Any, say: Any) -> list[np.ndarray]:
        seen["folds"] = folds
        return [np.zeros(0, dtype=np.float32)] * len(groups)

    monkeypatch.setattr(rt, "reader_data", lambda data: Data())
    monkeypatch.setattr(rt, "reader_oof", oof)
    monkeypatch.setattr(rt, "reader_quality", lambda rd, logits, top: {"top1_of_read": 0.5, "auc": 0.5})
    info = reader_stage([None] * len(groups), TrainSettings(data=["x"], **settings), lambda m: None)
    return info, seen["folds"]


def test_each_document_goes_to_one_of_the_reader_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = [f"squad/doc{i % 7}" for i in range(40)] + [f"coqa/story{i % 5}" for i in range(20)]
    for k, settings in ((2, {}), (3, {"reader_folds": 3}), (4, {"reader_folds": 4})):
        info, folds = _stage(monkeypatch, groups, **settings)
        assert info["folds"] == k
        assert sorted(set(folds.tolist())) == list(range(k))
        for g in set(groups):  # a document's questions never straddle two readers
            assert len({int(f) for f, h in zip(folds, groups, strict=True) if h == g}) == 1


def test_the_setting_is_validated() -> None:
    from evals.settings import TrainSettings

    for bad in (1, 11):
        with pytest.raises(ValueError):
            TrainSettings(data=["x"], reader_folds=bad)
    assert TrainSettings(data=["x"]).reader_folds == 2
