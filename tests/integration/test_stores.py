"""One contract, two stores: the local FAISS + bm25s directory and Milvus (embedded Milvus Lite
from a file, and a Milvus Lite server on 127.0.0.1 reached by URL). Build, incremental update,
delete, search, reload; and the answers on the seed dev set agree."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evals.load import free_port
from tests.conftest import loopback

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

NOTE = ("Harbour notes\n\nThe Kellerman Point lighthouse was restored in 1998 by fourteen "
        "volunteers led by the engineer Marta Ruiz. Its light was switched on again in 2001.\n")


def settings_for(store: str, tmp_path: Path, seed_settings, uri: str = ""):  # noqa: ANN001, ANN201
    docs = tmp_path / "docs"
    if not docs.exists():
        shutil.copytree(seed_settings.docs_dir, docs)
    return seed_settings.model_copy(update={
        "docs_dir": docs, "index_dir": tmp_path / "index", "store": store, "milvus_uri": uri})


@pytest.fixture
def milvus_server(tmp_path: Path):  # noqa: ANN201
    """`milvus-lite server` on 127.0.0.1, as a separate process: (url, port)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir",
                             str(tmp_path / "milvus-data"), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"milvus-lite server did not start: {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", port
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.parametrize("store", ["local", "milvus"])
def test_store_contract_build_update_delete_search_reload(store: str, tmp_path: Path, seed_settings,  # noqa: ANN001
                                                          embedder) -> None:  # noqa: ANN001
    run_contract(settings_for(store, tmp_path, seed_settings), embedder)


def test_store_contract_against_a_milvus_server_on_loopback(tmp_path: Path, seed_settings, embedder,  # noqa: ANN001
                                                            milvus_server) -> None:  # noqa: ANN001
    url, port = milvus_server
    run_contract(settings_for("milvus", tmp_path, seed_settings, url), embedder)
    if shutil.which("ss") is None:
        pytest.skip("no ss here to list sockets")
    out = subprocess.run(["ss", "-tan"], capture_output=True, text=True).stdout
    lines = [ln for ln in out.splitlines() if f":{port} " in ln or ln.rstrip().endswith(f":{port}")]
    assert lines, out
    for line in lines:
        local, peer = line.split()[3:5]
        assert loopback(local) and (peer.startswith("*") or loopback(peer)), line



def run_contract(settings, embedder) -> None:  # noqa: ANN001
    from index.build import build_index
    from index.search import SearchIndex

    first = build_index(settings, embedder=embedder)
    index = SearchIndex.load(settings)
    n = len(index.passages)
    assert n == first.passages > 0 and set(index.documents) == {d.doc_id for d in first.documents}
    vector = embedder.encode_queries(["Where does Andrei Lankov live now?"])[0]
    dense = index.dense_search(vector, 5)
    assert len(dense) == 5 and dense[0][1] >= dense[-1][1]
    assert "Seoul" in index.passages[dense[0][0]].text
    sparse = index.bm25_search("Andrei Lankov Seoul", 5)
    assert sparse and "Lankov" in index.passages[sparse[0][0]].text

    # incremental: only the new document is embedded; it is searchable after a reload
    (settings.docs_dir / "harbour.txt").write_text(NOTE, encoding="utf-8")
    update = build_index(settings, embedder=embedder)
    assert update.reused_passages == n and 0 < update.embedded_passages <= 2
    index = SearchIndex.load(settings)
    assert "harbour.txt" in index.documents
    top = index.bm25_search("Kellerman lighthouse volunteers", 3)
    assert index.passages[top[0][0]].doc_id == "harbour.txt"
    q = embedder.encode_queries(["Who led the lighthouse restoration?"])[0]
    assert index.passages[index.dense_search(q, 1)[0][0]].doc_id == "harbour.txt"

    # delete: the document's passages are gone from both searches
    (settings.docs_dir / "harbour.txt").unlink()
    removed = build_index(settings, embedder=embedder)
    assert removed.removed == ["harbour.txt"] and removed.embedded_passages == 0
    index = SearchIndex.load(settings)
    assert len(index.passages) == n and "harbour.txt" not in index.documents
    assert all(index.passages[i].doc_id != "harbour.txt"
               for i, _ in index.bm25_search("Kellerman lighthouse volunteers", 5))
    again = SearchIndex.load(settings)  # reload: the same passages in the same order
    assert [p.id for p in again.passages] == [p.id for p in index.passages]


def test_milvus_answers_match_local_on_the_seed_dev_set(tmp_path: Path, seed_settings, embedder,  # noqa: ANN001
                                                        assistant, dev_items) -> None:  # noqa: ANN001
    from evals.metrics import covers
    from index.build import build_index
    from index.search import SearchIndex
    from rag.assistant import Assistant

    settings = settings_for("milvus", tmp_path, seed_settings)
    build_index(settings, embedder=embedder)
    remote = Assistant(assistant.settings.model_copy(update={"index": settings}),
                       index=SearchIndex.load(settings), embedder=embedder)
    same = hit_local = hit_milvus = answerable = 0
    for item in dev_items:
        a = assistant.answer(item["question"], item["history"])
        b = remote.answer(item["question"], item["history"])
        same += a.text == b.text
        if item["answerable"] and item.get("evidence"):
            answerable += 1
            hit_local += any(covers(h.passage.text, item["evidence"]) for h in a.hits[:5])
            hit_milvus += any(covers(h.passage.text, item["evidence"]) for h in b.hits[:5])
    assert same / len(dev_items) >= 0.9, same
    assert abs(hit_local - hit_milvus) / answerable <= 0.02, (hit_local, hit_milvus)


def test_cli_builds_into_milvus_and_another_process_answers_from_it(tmp_path: Path,  # noqa: ANN001
                                                                     seed_settings) -> None:
    import json

    rag = [sys.executable, "-m", "ui.cli"]
    where = ["--store", "milvus", "--index-dir", str(tmp_path / "index"), "--docs",
             str(seed_settings.docs_dir)]
    root = Path(__file__).resolve().parents[2]
    built = subprocess.run([*rag, "index", "build", *where], capture_output=True, text=True,
                           cwd=root, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    assert (tmp_path / "index" / "milvus.db").exists()  # the default Milvus Lite file
    asked = subprocess.run([*rag, "ask", "Where does Andrei Lankov live now?", "--json", *where],
                           capture_output=True, text=True, cwd=root, timeout=600)
    assert asked.returncode == 0, asked.stderr[-2000:]
    answer = json.loads(asked.stdout)
    assert "Seoul" in answer["answer"] and answer["citations"]
