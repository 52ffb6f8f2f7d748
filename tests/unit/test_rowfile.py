"""Rows of a saved matrix read on demand (index.rowfile) give what the array in memory gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.rowfile import CHUNK, RowFile, rows_of


def saved(tmp_path: Path, array: np.ndarray, name: str = "m.npy") -> Path:
    path = tmp_path / name
    np.save(path, array, allow_pickle=False)
    return path


def test_rows_slices_lists_and_products_match_the_array(tmp_path: Path) -> None:
    m = np.random.default_rng(0).standard_normal((CHUNK + 37, 8)).astype(np.float32)
    rows = RowFile(saved(tmp_path, m))
    assert len(rows) == m.shape[0] and rows.shape == m.shape and rows.ndim == 2
    assert np.array_equal(rows[5], m[5]) and np.array_equal(rows[-1], m[-1])
    assert np.array_equal(rows[np.int64(7)], m[7])
    assert np.array_equal(rows[10:20], m[10:20]) and np.array_equal(rows[::4096], m[::4096])
    ids = [9, 3, 4, 5, 3, 65_000, -2]  # any order, runs, repeats, negative
    assert np.array_equal(rows[ids], m[ids])
    assert np.array_equal(rows[np.array(ids)], m[ids])
    assert rows[[]].shape == (0, 8)
    q = np.ones(8, dtype=np.float32)
    # read a chunk at a time; float32 sums of a short tail chunk may round differently (5e-7)
    assert np.allclose(rows @ q, m @ q, atol=1e-5)
    assert np.array_equal(np.asarray(rows), m)
    out = rows[[1, 2]]
    out[0] = 0  # a fresh array, not a view of anything shared
    assert np.array_equal(rows[1], m[1])
    with pytest.raises(IndexError):
        rows[[0, len(m)]]
    with pytest.raises(TypeError):
        rows[np.array([True, False])]


def test_small_matrices_are_read_into_memory(tmp_path: Path) -> None:
    m = np.eye(4, dtype=np.float32)
    assert isinstance(rows_of(saved(tmp_path, m), 5), np.ndarray)
    assert isinstance(rows_of(saved(tmp_path, m), 4), RowFile)


def test_files_that_are_not_such_a_matrix_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="float32"):
        RowFile(saved(tmp_path, np.zeros((3, 2), dtype=np.float64)))
    with pytest.raises(ValueError, match="2-D"):
        RowFile(saved(tmp_path, np.zeros(3, dtype=np.float32)))
    path = saved(tmp_path, np.ones((100, 4), dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    with pytest.raises(ValueError, match="bytes"):
        RowFile(path)
    path.write_bytes(b"not an array")
    with pytest.raises(ValueError):
        RowFile(path)


def test_stacked_rows_read_like_the_stacked_array(tmp_path: Path) -> None:
    from index.rowfile import StackedRows

    rng = np.random.default_rng(1)
    base = rng.standard_normal((50, 8)).astype(np.float32)
    delta = rng.standard_normal((7, 8)).astype(np.float32)
    whole = np.vstack([base, delta])
    rows = StackedRows([RowFile(saved(tmp_path, base)), delta])
    assert len(rows) == 57 and rows.shape == (57, 8) and rows.ndim == 2
    for key in (0, 49, 50, 56, -1, -8, np.int64(51)):
        assert np.array_equal(rows[key], whole[key])
    ids = [55, 3, 49, 50, 50, -1, 0]  # both parts, any order, repeats, negative
    assert np.array_equal(rows[ids], whole[ids]) and np.array_equal(rows[45:53], whole[45:53])
    q = rng.standard_normal(8).astype(np.float32)
    assert np.allclose(rows @ q, whole @ q, atol=1e-5)
    assert np.array_equal(np.asarray(rows), whole) and rows[[]].shape == (0, 8)
    with pytest.raises(IndexError):
        rows[57]
    with pytest.raises(TypeError):
        rows[np.ones(57, dtype=bool)]
    with pytest.raises(ValueError):
        StackedRows([base, np.zeros((2, 4), dtype=np.float32)])


def test_a_read_returning_part_of_a_run_is_continued(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Linux returns at most about 2 GB from one read: a long run is read in several calls."""
    import os

    m = np.random.default_rng(2).standard_normal((1000, 8)).astype(np.float32)
    rows = RowFile(saved(tmp_path, m))
    real = os.preadv
    calls = []

    def partial(fd: int, buffers: list, offset: int) -> int:  # at most 1,000 bytes a call
        calls.append(offset)
        return real(fd, [buffers[0][:1000]], offset)

    monkeypatch.setattr(os, "preadv", partial)
    assert np.array_equal(rows[0:1000], m) and len(calls) > 30
