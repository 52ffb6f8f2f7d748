"""Many concurrent chat sessions against one real server, each a different conversation.

Each session asks about its own person, then follow-ups that only make sense with that
session's history ("What else did he say?"). The server keeps each session's history; an
answer belongs to its session when every word its follow-up was resolved with comes from that
session's own conversation. Used by `rag bench` and by the load test.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.conversation import exchange

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = ROOT / "evals" / "seed_qa_dev.jsonl"


def opening_questions(path: Path = DEV_SET) -> list[str]:
    """Stand-alone questions from a QA dataset that name a person, so that "he" in the
    follow-ups can only be resolved from the session's own conversation."""
    import json

    from rag.conversation import person_candidates

    items = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [d["question"] for d in items
            if not d["history"] and d["answerable"] and person_candidates(d["question"])]


FOLLOW_UPS = ["What else did he say?", "Where is he based now?"]


def conversation(opening: str, turns: int) -> list[str]:
    """The questions of one session: its opening question, then the follow-ups."""
    return [opening, *(FOLLOW_UPS * turns)][:turns]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sessions(url: str, sessions: int, turns: int, via: str = "api") -> dict[str, Any]:
    """``sessions`` conversations at once. ``via="api"``: ``POST /api/ask``, each client
    sending its own history; ``via="gradio"``: gradio_client's ``/chat`` endpoint, the server
    keeping the history per session."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    mixed: list[str] = []
    lock = threading.Lock()

    topics = opening_questions()
    # every client is made before the clock starts: making 32 httpx clients takes about 0.66 s
    # of the load process's CPU (each loads its TLS certificates), which the first run of this
    # test counted against the server
    ready = threading.Barrier(sessions + 1)

    def session(i: int) -> None:
        opening = topics[i % len(topics)]
        try:
            if via == "gradio":
                from gradio_client import Client

                client = Client(url, verbose=False)

                def ask(q: str, history: list[dict[str, str]]) -> dict[str, Any]:
                    return client.predict(q, api_name="/chat")
            else:
                http = httpx.Client(base_url=url, timeout=120)

                def ask(q: str, history: list[dict[str, str]]) -> dict[str, Any]:
                    r = http.post("api/ask", json={"question": q, "history": history})
                    if r.status_code != 200:
                        return {"error": f"HTTP {r.status_code}: {r.text[:200]}"}
                    return r.json()
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"session {i}: {type(exc).__name__}: {exc}")
            ready.wait()
            return
        ready.wait()
        try:
            questions = conversation(opening, turns)
            own = ""
            history: list[dict[str, str]] = []
            for n, q in enumerate(questions):
                t = time.perf_counter()
                result = ask(q, history)
                with lock:
                    latencies.append((time.perf_counter() - t) * 1000)
                if "error" in result:
                    raise RuntimeError(result["error"])
                added = set(result["resolved_query"].split()) - set(q.split())
                if n > 0 and (not added or any(w.strip("'’s?") not in own for w in added)):
                    with lock:
                        mixed.append(f"session {i}: '{q}' resolved to '{result['resolved_query']}'")
                own += f" {q} {result['answer']}"
                history += exchange(q, result["answer"])
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    ready.wait(timeout=600)
    started, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    s = sorted(latencies) or [0.0]
    return {"via": via, "sessions": sessions, "turns": turns, "requests": len(latencies),
            "errors": len(errors), "error_samples": errors[:5], "mixed_sessions": mixed[:5],
            "mixed": len(mixed), "wall_seconds": round(wall, 2),
            # the clients' own CPU on the same cores as the server (all this process's threads)
            "client_cpu_seconds": round(cpu, 2),
            "answers_per_second": round(len(latencies) / wall, 1),
            "latency_ms": {"p50": round(statistics.median(s), 1),
                           "p95": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], 1)}}


def single_answer_ms(url: str, turns: int = 3, repeat: int = 30) -> float:
    """p50 of one client asking alone through the API, the same conversations as the load
    (an opening question and its follow-ups, with the history): the compute the load figures
    compare to."""
    import httpx

    qs = opening_questions()
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=120) as http:
        i = 0
        while len(times) < repeat:
            history: list[dict[str, str]] = []
            for q in conversation(qs[i % len(qs)], turns):
                t = time.perf_counter()
                r = http.post("api/ask", json={"question": q, "history": history})
                r.raise_for_status()
                if i >= 1:  # the first conversation warms up
                    times.append((time.perf_counter() - t) * 1000)
                history += exchange(q, r.json()["answer"])
            i += 1
    return round(statistics.median(times), 2)


def answer_loop(index_dir: Path, docs: Path, processes: int, start_at: float,
                seconds: float, turns: int = 3) -> dict[str, Any]:
    """One of ``processes`` processes answering the load's conversations (an opening question
    and its follow-ups, with the history) in a loop, from
    ``start_at`` (a time.time()) for ``seconds``, with its share of the cores in every thread
    pool and the reader, as a `rag api` worker has: the answer compute alone, no server."""
    from index.settings import IndexSettings
    from rag.assistant import Assistant
    from rag.settings import RagSettings
    from rag.threads import worker_settings

    settings = RagSettings(index=IndexSettings(docs_dir=docs, index_dir=index_dir))
    assistant = Assistant(worker_settings(settings, processes))
    assistant.warm()
    openings = opening_questions()
    for q in openings[:3]:
        assistant.answer(q)
    time.sleep(max(0.0, start_at - time.time()))
    done, times = 0, []
    end = time.time() + seconds
    session = 0
    while time.time() < end:
        history: list[dict[str, str]] = []
        for q in conversation(openings[session % len(openings)], turns):
            if time.time() >= end:
                break
            t = time.perf_counter()
            answer = assistant.answer(q, history)
            times.append((time.perf_counter() - t) * 1000)
            done += 1
            history += exchange(q, answer.text)
        session += 1
    return {"answers": done, "seconds": seconds, "p50_ms": round(statistics.median(times), 1)}


def compute_bound(index_dir: Path, docs: Path, processes: int, seconds: float = 20.0,
                  warm_seconds: float = 40.0, turns: int = 3) -> dict[str, Any]:
    """What the answer compute alone allows, measured rather than assumed: ``processes``
    processes run answer_loop at the same time (each loads its models first, then all start
    together, ``warm_seconds`` from now); answers per second over all of them."""
    import json
    import subprocess
    import sys

    start_at = time.time() + warm_seconds  # for every process to load and warm up
    cmd = [sys.executable, "-m", "evals.load", "--answer-loop", "--index-dir", str(index_dir),
           "--docs", str(docs), "--processes", str(processes), "--start-at", str(start_at),
           "--seconds", str(seconds), "--turns", str(turns)]
    children = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    rows = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise RuntimeError(f"evals.load --answer-loop failed ({child.returncode})")
        rows.append(json.loads(out.strip().splitlines()[-1]))
    total = sum(r["answers"] for r in rows)
    return {"processes": processes, "answers_per_second": round(total / seconds, 2),
            "p50_ms": [r["p50_ms"] for r in rows]}


@contextlib.contextmanager
def served(command: str = "serve", workers: int = 1,
           server_args: Sequence[str] = ()) -> Iterator[tuple[str, Any, Path]]:
    """A seeds index served from a separate `rag serve` process (or `rag api --workers N`: the
    JSON API alone in N processes) on a free loopback port, so the clients do not share its
    interpreter: (url, the server process, its index folder), once it answers."""
    import subprocess
    import sys

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        cmd = [sys.executable, "-m", "ui.cli", command, "--port", str(port), "--docs",
               str(ROOT / "seeds"), "--index-dir", str(Path(tmp) / "index"),
               "--feedback-log", str(Path(tmp) / "fb.jsonl")]
        if command == "api":
            cmd += ["--workers", str(workers)]
        cmd += list(server_args)
        server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.time() + 180
            while time.time() < deadline:
                try:
                    if httpx.get(url + "api/documents", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None:
                    raise RuntimeError("rag serve exited early")
                time.sleep(0.5)
            else:
                raise RuntimeError("rag serve did not come up in 180 s")
            if command == "api":  # the first worker answers; give the others time to load
                time.sleep(5 * workers)
            yield url, server, Path(tmp) / "index"
        finally:
            server.terminate()
            server.wait(timeout=30)


def load_test(sessions: int = 32, turns: int = 3, command: str = "serve",
              workers: int = 1, server_args: Sequence[str] = ()) -> dict[str, Any]:
    """The sessions against a served seeds index (``served``), beside the compute bound."""
    with served(command, workers, server_args) as (url, _, index_dir):
        single = single_answer_ms(url, turns)
        cores = os.cpu_count() or 1
        # the same answers computed by as many processes as serve them, without the server
        alone = compute_bound(index_dir, ROOT / "seeds", workers if command == "api" else 1, turns=turns)
        api = run_sessions(url, sessions, turns, "api")
        return {"single_answer_ms": single, "cores": cores, "compute_alone": alone,
                "throughput_vs_compute_alone":
                    round(api["answers_per_second"] / alone["answers_per_second"], 2),
                # what the answer compute alone allows: every core busy, no overhead
                "compute_bound_answers_per_second": round(cores * 1000 / single, 1),
                "compute_bound_p50_ms": round(sessions * single / cores, 1),
                "api": api,
                "throughput_vs_compute_bound":
                    round(api["answers_per_second"] * single / (cores * 1000), 2),
                "p50_vs_compute_bound": round(api["latency_ms"]["p50"] / (sessions * single / cores), 2),
                **({"gradio_client": run_sessions(url, sessions, turns, "gradio")}
                   if command == "serve" else {"workers": workers})}


def server_rss_mb(server: Any) -> float:
    """Resident memory of the server process and its children (the API's workers), in MB."""
    import psutil

    proc = psutil.Process(server.pid)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return round(total / 2**20, 1)


def memory_test(questions: int = 2000, turns: int = 3, command: str = "serve", workers: int = 1,
                clients: int = 2, every: int = 500) -> dict[str, Any]:
    """Server RSS as it answers ``questions`` questions (the load's conversations, from
    ``clients`` clients at once): after start-up and warm-up, then every ``every`` answers.
    Memory that grows with the questions asked (caches, histories) shows here."""
    import httpx

    with served(command, workers) as (url, server, _):
        marks = [{"answers": 0, "rss_mb": server_rss_mb(server)}]
        lock = threading.Lock()
        done = [0]
        errors: list[str] = []
        openings = opening_questions()

        def client(c: int) -> None:
            session = c
            with httpx.Client(base_url=url, timeout=120) as http:
                while True:
                    history: list[dict[str, str]] = []
                    for q in conversation(openings[session % len(openings)], turns):
                        with lock:
                            if done[0] >= questions:
                                return
                            done[0] += 1
                            n = done[0]
                        r = http.post("api/ask", json={"question": q, "history": history})
                        if r.status_code != 200:
                            with lock:
                                errors.append(f"HTTP {r.status_code}")
                            continue
                        history += exchange(q, r.json()["answer"])
                        if n % every == 0:
                            with lock:
                                marks.append({"answers": n, "rss_mb": server_rss_mb(server)})
                    session += clients

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"command": command, "workers": workers if command == "api" else 1,
                "questions": questions, "errors": len(errors),
                "seconds": round(time.perf_counter() - started, 1),
                "rss_mb": sorted(marks, key=lambda m: m["answers"]),
                "final_rss_mb": server_rss_mb(server)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Load test, or (internal) one answer loop.")
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--command", choices=("serve", "api"), default="api")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", type=int, metavar="N", default=0,
                        help="instead of the load test: server RSS while it answers N questions")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for the server's command line (repeatable), "
                             "e.g. --server-arg=--concurrency --server-arg=2")
    parser.add_argument("--answer-loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--docs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=20.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.answer_loop:
        print(json.dumps(answer_loop(args.index_dir, args.docs, args.processes, args.start_at,
                                     args.seconds, args.turns)))
        return 0
    if args.memory:
        print(json.dumps(memory_test(args.memory, args.turns, args.command, args.workers), indent=2))
        return 0
    print(json.dumps(load_test(args.sessions, args.turns, args.command, args.workers,
                               args.server_arg), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
