"""`rag api --workers 2`: the JSON API alone in two worker processes, on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from evals.load import compute_bound, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_api_workers_answer_refuse_bad_input_and_stay_on_loopback(seed_settings, seed_index,  # noqa: ANN001
                                                                   tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_settings.index_dir, index_dir, ignore=shutil.ignore_patterns("*.lock"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ui.cli", "api", "--workers", "2", "--port",
                             str(port), "--docs", str(seed_settings.docs_dir), "--index-dir",
                             str(index_dir), "--precision", "fp32"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "api/documents", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "rag api did not come up"
            time.sleep(0.5)
        with httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(6):  # both workers get some of them
                r = http.post("api/ask", json={"question": "Where does Andrei Lankov live now?"})
                assert r.status_code == 200 and "Seoul" in r.json()["answer"]
            assert http.post("api/ask", json={"question": ""}).status_code == 422
            assert http.post("api/ask", json={"question": "x", "k": 0}).status_code == 422
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) >= 2  # worker processes (and uvicorn's resource tracker)
        if shutil.which("ss"):
            out = subprocess.run(["ss", "-tln"], capture_output=True, text=True).stdout
            listening = [ln for ln in out.splitlines() if f":{port} " in ln]
            assert listening and all("127.0.0.1:" in ln for ln in listening), listening
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_compute_bound_counts_the_answers_of_processes_running_together(seed_settings,  # noqa: ANN001
                                                                             seed_index) -> None:  # noqa: ANN001
    got = compute_bound(seed_settings.index_dir, seed_settings.docs_dir, 2, seconds=3,
                        warm_seconds=30)
    assert got["processes"] == 2 and len(got["p50_ms"]) == 2
    # each answers several questions in 3 s (an answer takes well under a second here)
    assert got["answers_per_second"] * 3 >= 2 * 2 and all(ms > 0 for ms in got["p50_ms"])


def test_the_memory_test_reads_the_servers_rss_as_it_answers() -> None:
    """evals.load.memory_test (the speed issue's RSS after 2,000 questions) on a few questions:
    a real `rag api` on a loopback port, its RSS read at start and every few answers."""
    from evals.load import memory_test

    got = memory_test(questions=7, turns=3, command="api", workers=1, clients=2, every=3)
    assert got["errors"] == 0 and got["questions"] == 7
    assert [m["answers"] for m in got["rss_mb"]] == [0, 3, 6]
    # a loaded model and index: well over 100 MB, and not gone after the answers
    assert all(m["rss_mb"] > 100 for m in got["rss_mb"]) and got["final_rss_mb"] > 100
