"""Thread pools of one process among several that share the machine's cores."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.settings import RagSettings


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


def worker_settings(rag: RagSettings, workers: int) -> RagSettings:
    """Set this process up as one of ``workers`` (share_cores) and give the reader and the
    bf16 query encoder the share of the cores, unless their threads are set: what each `rag
    api` worker answers with, and what the load test's compute bound measures
    (evals.load.answer_loop)."""
    share = share_cores(workers)
    if not rag.index.query_threads:
        rag = rag.model_copy(update={"index": rag.index.model_copy(update={"query_threads": share})})
    if rag.answer.reader_threads:
        return rag
    return rag.model_copy(update={"answer": rag.answer.model_copy(update={"reader_threads": share})})


def quiet_other_pools() -> None:
    """One thread for numpy's BLAS and FAISS's OpenMP, so that only the reader's pool (ONNX
    Runtime's; for bf16 OpenVINO's, else PyTorch's: rag.reader) computes on several cores: the
    others' idle threads spin after their own work and take the cores from it. 80 SQuAD
    questions on an AMX host (reader p50, answer p50; bf16 then PyTorch's autocast, before
    OpenVINO): bf16 115 and 129 ms before, 28 and 42 ms after; ONNX fp32 69
    and 82 ms before, 49 and 63 after; the seed set, whose tiny index hardly wakes those pools,
    about the same either way. A single question's searches use one thread in those pools
    anyway (FAISS parallelises over queries); an index built in the same process afterwards
    builds its HNSW graphs on one thread. numpy's BLAS limit holds for the process; FAISS's
    OpenMP setting is the calling thread's own, so answers computed on other threads (a
    server's workers) keep FAISS's default there: measured in one thread only. Setting it on
    each answer's thread, with PyTorch's pool set back to the reader's share before each read,
    was tried: seed answers took 167 ms instead of 45 (not analysed further)."""
    import faiss  # first, as in share_cores: only loaded libraries are limited
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    faiss.omp_set_num_threads(1)
