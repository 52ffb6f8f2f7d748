"""Rows of a saved float32 ``.npy`` matrix, read from the file when a search asks for them.

A large collection's vectors (1,536 bytes a row at 384 dimensions: 6 GB for a million passages
and their sentences) need not be in memory: a question reads a few hundred rows (the candidates
to re-rank and rescore). A memory map would do that too, but every page it touches counts in
the serving process's resident memory, and with the large page-cache folios of recent kernels a
few hundred random rows per question map most of the file: at 1,000,000 synthetic passages
(``python -m evals.scale``) the server showed 9.8 GB resident of which its own memory was
3.6 GB. ``pread`` leaves the file in the kernel's page cache, shared and reclaimable, and out
of the process's resident set.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 65_536  # rows per read when the whole matrix is scanned


class _Rows:
    """What both row readers share: taking rows by an int, a slice or a list of ints (any
    order, repeats, negatives counted from the end); subclasses set ``shape`` and ``_take``."""

    shape: tuple[int, int]

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 2

    def _take(self, ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        n = self.shape[0]
        if ids.size and (ids.min() < -n or ids.max() >= n):
            raise IndexError(f"row out of range for {n} rows")
        ids = np.where(ids < 0, ids + n, ids)
        return self._take(ids)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self._rows(np.array([int(key)], dtype=np.int64))[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            return self._rows(np.arange(start, stop, step, dtype=np.int64))
        ids = np.asarray(key)
        if ids.dtype == bool or ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise TypeError(f"rows are taken by an int, a slice or a list of ints, not {key!r:.60}")
        return self._rows(ids.astype(np.int64, copy=False))


class RowFile(_Rows):
    """A read-only 2-D float32 matrix in a ``.npy`` file: ``len``, ``shape``, ``rows[i]``,
    ``rows[a:b]``, ``rows[ids]`` (any order, repeats allowed), ``rows @ vector`` and
    ``np.asarray(rows)``. ValueError when the file is not such a matrix or is truncated."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if len(shape) != 2 or fortran or np.dtype(dtype) != np.dtype("<f4"):
            raise ValueError(f"{self.path.name} is not a 2-D little-endian float32 matrix "
                             f"(shape {shape}, dtype {dtype}, fortran order {fortran})")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(np.float32)
        self._row_bytes = self.shape[1] * 4
        size = self.path.stat().st_size
        if size != self._offset + self.shape[0] * self._row_bytes:
            raise ValueError(f"{self.path.name} holds {size} bytes, not the "
                             f"{self._offset + self.shape[0] * self._row_bytes} its header says")
        self._fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def _read_run(self, out: np.ndarray, first: int) -> None:
        """Fill ``out`` (consecutive rows) from row ``first`` on."""
        view = memoryview(out).cast("B")
        done, start = 0, self._offset + first * self._row_bytes
        while done < len(view):  # Linux reads at most about 2 GB a call: read on
            got = os.preadv(self._fd, [view[done:]], start + done)
            if got <= 0:
                raise ValueError(f"{self.path.name} was cut short while being read")
            done += got

    def _take(self, ids: np.ndarray) -> np.ndarray:
        """The rows ``ids`` (non-negative, in range)."""
        out = np.empty((len(ids), self.shape[1]), dtype=np.float32)
        if not len(ids):
            return out
        # one read per run of consecutive rows (a passage's sentences are consecutive)
        starts = np.concatenate([[0], np.flatnonzero(np.diff(ids) != 1) + 1, [len(ids)]])
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            self._read_run(out[a:b], int(ids[a]))
        return out


    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        """Every row times ``other``, read a chunk at a time."""
        parts = [self[start:start + CHUNK] @ other for start in range(0, self.shape[0], CHUNK)]
        if not parts:
            return np.zeros((0, *np.shape(other)[1:]), dtype=np.float32)
        return np.concatenate(parts)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"RowFile({self.path.name}, shape={self.shape})"


def rows_of(path: Path, in_memory_below: int) -> np.ndarray | RowFile:
    """A saved matrix: read into memory when it has fewer than ``in_memory_below`` rows (then
    searches scan every row, and a scan of rows read from disk would be slower), else rows read
    on demand."""
    rows = RowFile(path)
    return np.asarray(rows) if len(rows) < in_memory_below else rows


class StackedRows(_Rows):
    """Matrices (arrays or RowFiles) one after another, read as one: ``len``, ``shape``,
    ``rows[i]``, ``rows[a:b]``, ``rows[ids]``, ``rows @ vector`` and ``np.asarray(rows)``
    (an index's base segment and its delta of added documents: index.delta)."""

    def __init__(self, parts: list[Any]) -> None:
        if not parts or len({p.shape[1] for p in parts}) != 1:
            raise ValueError("stacked matrices need at least one part, all of one width")
        self.parts = parts
        self._starts = np.cumsum([0, *(len(p) for p in parts)])
        self.shape: tuple[int, int] = (int(self._starts[-1]), int(parts[0].shape[1]))
        self.dtype = np.dtype(np.float32)

    def _take(self, ids: np.ndarray) -> np.ndarray:
        """The rows ``ids`` (non-negative, in range)."""
        out = np.empty((len(ids), self.shape[1]), dtype=np.float32)
        part = np.searchsorted(self._starts, ids, side="right") - 1
        for i, p in enumerate(self.parts):
            mine = np.flatnonzero(part == i)
            if len(mine):
                out[mine] = np.asarray(p[ids[mine] - self._starts[i]], dtype=np.float32)
        return out


    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(p @ other, dtype=np.float32) for p in self.parts])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = np.concatenate([np.asarray(p, dtype=np.float32) for p in self.parts])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"StackedRows({self.parts!r})"
