"""The servers' first build runs in a process of its own (ui.commands.build_in_child), so the
build's model and PyTorch never stay in the serving process."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import BuildFailed, NoDocuments
from index.search import SearchIndex
from index.settings import IndexSettings
from ui.commands import build_if_missing


def _settings(docs: Path, tmp_path: Path, model_path: str) -> IndexSettings:
    return IndexSettings(docs_dir=docs, index_dir=tmp_path / "index", model_path=model_path,
                         precision="fp32")


def test_a_missing_index_is_built_in_another_process(docs_copy: Path, tmp_path: Path,
                                                     model_path: str, monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    import index.build

    def in_this_process(*_a: object, **_k: object) -> None:
        raise AssertionError("built in the serving process")

    monkeypatch.setattr(index.build, "build_index", in_this_process)
    settings = _settings(docs_copy, tmp_path, model_path)
    build_if_missing(settings, progress=False, in_child=True)
    index = SearchIndex.load(settings)
    assert len(index.passages) > 10
    assert "separate process" in capfd.readouterr().err
    build_if_missing(settings, progress=False, in_child=True)  # built already: nothing to do
    assert "separate process" not in capfd.readouterr().err


def test_a_failed_build_in_the_child_is_an_error_here(tmp_path: Path, model_path: str,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.bin").write_bytes(b"\x00\x01")  # nothing the index can read
    with pytest.raises(BuildFailed, match="exit status 2"):
        build_if_missing(_settings(empty, tmp_path, model_path), progress=False, in_child=True)
    assert "error:" in capfd.readouterr().err  # the child's own message, on the terminal
    with pytest.raises(NoDocuments, match="not found"):  # told here, before any child starts
        build_if_missing(_settings(tmp_path / "missing", tmp_path, model_path), in_child=True)


def test_the_child_refuses_bad_input(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from ui import build_child

    assert build_child.main(["--full"]) == 2
    assert "usage" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO('{"docs_dir": "seeds", "no_such_setting": 1}'))
    assert build_child.main([]) == 2
    assert "no_such_setting" in capsys.readouterr().err
