"""`rag api`'s worker set-up (rag.threads, ui.api_server): each worker's thread pools hold its
share of the cores; the listening socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ui.api_server import tcp_socket

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from rag.settings import AnswerSettings, RagSettings
from rag.threads import share_cores, worker_settings
import torch
from threadpoolctl import threadpool_info
share = share_cores(int(sys.argv[1]))
given = RagSettings(answer=AnswerSettings(reader_threads=3))
print(json.dumps({"share": share, "torch": torch.get_num_threads(),
                  "reader": worker_settings(RagSettings(), int(sys.argv[1])).answer.reader_threads,
                  "reader_given": worker_settings(given, int(sys.argv[1])).answer.reader_threads,
                  "queries": worker_settings(RagSettings(), int(sys.argv[1])).index.query_threads,
                  "pools": [(p["internal_api"], p["filepath"], p["num_threads"])
                            for p in threadpool_info()]}))
"""


@pytest.mark.parametrize("workers", [1, 2, 64])
def test_every_thread_pool_of_a_worker_gets_its_share_of_the_cores(workers: int) -> None:
    # a process of its own: thread limits are global to a process
    out = subprocess.run([sys.executable, "-c", PROBE, str(workers)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    want = max(1, (os.cpu_count() or 1) // workers)
    assert got["share"] == got["torch"] == want
    # the reader and the bf16 query encoder get the share too, unless the reader's were set
    assert got["reader"] == got["queries"] == want and got["reader_given"] == 3
    # numpy's BLAS, FAISS's own BLAS and OpenMP, PyTorch's OpenMP
    assert any("faiss" in path for _, path, _ in got["pools"])
    assert {api for api, _, _ in got["pools"]} >= {"openblas", "openmp"}
    assert all(n == want for _, _, n in got["pools"]), got["pools"]


def test_the_listening_socket_is_tcp_and_on_the_asked_address() -> None:
    sock = tcp_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
