"""Thread pools of one process among several that share the machine's cores."""

from __future__ import annotations

import os


def share_cores(workers: int) -> int:
    """Threads for one of ``workers`` processes: the cores shared out among them, applied to
    every thread pool the answer path can use (PyTorch; numpy's and FAISS's BLAS and OpenMP:
    FAISS brings its own copies of both, so it is imported first, since only loaded libraries
    are limited). Otherwise each worker keeps a thread per core in each pool, whose idle
    threads can spin while another worker computes. Measured with 32 sessions x 3 turns on
    `rag api --workers 2` (python -m evals.load): 6.4 answers/s against 6.5 before, one run
    each, so no gain at the seeds' size; it keeps workers from oversubscribing the cores."""
    import faiss  # noqa: F401
    import torch
    from threadpoolctl import threadpool_limits

    share = max(1, (os.cpu_count() or 1) // workers)
    torch.set_num_threads(share)
    threadpool_limits(share)
    return share
