"""``--reader-train-precision``: auto trains the reader in bf16 only where the CPU has AMX."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("flags", "setting", "want"),
    [({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "auto", "bf16"),
     ({"avx512f", "avx512_bf16", "avx512_vnni"}, "auto", None),  # AVX-512 BF16 alone: fp32
     (set(), "auto", None),
     (set(), "bf16", "bf16"),
     ({"amx_bf16", "amx_tile", "avx512f"}, "fp32", None)],
)
def test_auto_is_bf16_only_with_amx(monkeypatch: pytest.MonkeyPatch, flags: set[str], setting: str,
                                    want: str | None) -> None:
    import index.embed as embed
    from evals.reader_train import ReaderConfig
    from evals.settings import TrainSettings
    from evals.train import reader_config

    monkeypatch.setattr(embed, "cpu_flags", lambda: frozenset(flags))
    settings = TrainSettings(data=["x"], reader_train_precision=setting)
    cfg = reader_config(settings)
    assert cfg.train_precision == want
    # fp32 keeps the cache key it always had (None is left out of the key)
    assert (cfg == ReaderConfig(**{**cfg.__dict__, "train_precision": None})) == (want is None)


def test_the_default_is_auto_and_bad_values_are_refused() -> None:
    from pydantic import ValidationError

    from evals.settings import TrainSettings

    assert TrainSettings(data=["x"]).reader_train_precision == "auto"
    with pytest.raises(ValidationError):
        TrainSettings(data=["x"], reader_train_precision="fp16")
