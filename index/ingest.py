"""Embedding a large collection as a job on Dask distributed, then building from its output.

    rag index embed-job --docs DIR --parquet OUT [--scheduler tcp://HOST:8786 | --workers N]
    rag index build --docs DIR --vectors-from OUT [--store milvus ...]

The job splits the documents into passages on this machine (the same code as a build), sends
the passage and sentence texts to the workers in parts, and each worker embeds its parts with
the model loaded once per worker process, writing one Parquet file per part: kind (passage or
sentence), passage id, document id, offsets, text, vector. Without ``--scheduler`` it starts a
local cluster bound to 127.0.0.1 with no dashboard; with one, the same script runs on that
cluster (its workers need this project and the model installed). A build then takes its vectors
from the Parquet files (any text not found there is embedded as usual) and writes the index into
the configured store, local or Milvus.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.build import clean_document, split_document
from index.embed import Embedder
from index.errors import RagIndexError
from index.load import load_folder
from index.settings import IndexSettings
from index.split import token_counter
from index.types import indexed_text

log = logging.getLogger(__name__)
PART_TEXTS = 512  # texts per task: large enough to amortise scheduling, small enough to balance


@dataclass
class JobReport:
    documents: int = 0
    passages: int = 0
    sentences: int = 0
    parts: int = 0
    workers: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    @property
    def texts_per_second(self) -> float:
        return (self.passages + self.sentences) / self.seconds if self.seconds else 0.0


def job_texts(settings: IndexSettings) -> tuple[list[dict[str, Any]], int]:
    """Every text a build would embed, with where it comes from; and the document count."""
    loaded = load_folder(settings.docs_dir, settings.max_file_bytes)
    count = token_counter(settings.model_path)
    rows: list[dict[str, Any]] = []
    for doc in loaded.documents:
        cleaned = clean_document(doc, settings.clean)
        seen: set[tuple[int, int]] = set()
        for p in split_document(doc, cleaned, count, settings):
            rows.append({"kind": "passage", "passage_id": p.id, "doc_id": p.doc_id,
                         "start": p.start, "end": p.end, "text": indexed_text(p, settings.title_context)})
            if settings.embed_sentences:
                for s, e, text in p.sentence_texts():
                    if (s, e) not in seen:
                        seen.add((s, e))
                        rows.append({"kind": "sentence", "passage_id": p.id, "doc_id": p.doc_id,
                                     "start": s, "end": e, "text": text})
    return rows, len(loaded.documents)


try:  # the job needs Dask; building from its output (LookupEmbedder) does not
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - without the scale extra
    _PluginBase = object  # type: ignore[assignment,misc]


class EmbedderPlugin(_PluginBase):  # type: ignore[misc,valid-type]
    """Loads the embedding model once in each worker process (a Dask worker plugin)."""

    name = "rag-embedder"

    def __init__(self, model_path: str, precision: str, batch_size: int,
                 cache_dir: str = ".rag/cache") -> None:
        self.model_path, self.precision, self.batch_size = model_path, precision, batch_size
        self.cache_dir = cache_dir  # ONNX exports (int8 documents), shared under a file lock

    def setup(self, worker: Any) -> None:
        import torch

        threads = max(1, int(worker.state.nthreads))
        torch.set_num_threads(threads)
        worker.rag_embedder = Embedder(self.model_path, precision=self.precision,
                                       batch_size=self.batch_size, query_encoder="torch",
                                       cache_dir=Path(self.cache_dir), document_threads=threads)
        worker.rag_embedder.model  # noqa: B018 - load now, not in the first task

    def teardown(self, worker: Any) -> None:
        worker.rag_embedder = None


def embed_part(rows: list[dict[str, Any]], path: str) -> str:
    """On a worker: embed one part's texts and write them with their vectors to ``path``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from distributed import get_worker

    embedder = get_worker().rag_embedder
    order = np.argsort([len(r["text"]) for r in rows], kind="stable")  # less padding
    got = embedder.encode_documents([rows[i]["text"] for i in order])
    vecs = np.empty_like(got)
    vecs[order] = got
    table = pa.table({
        **{k: [r[k] for r in rows] for k in ("kind", "passage_id", "doc_id", "start", "end", "text")},
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1), pa.float32()),
                                                    vecs.shape[1]),
    })
    tmp = f"{path}.part"
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def run_job(settings: IndexSettings, out: Path, scheduler: str = "", workers: int = 2,
            progress: bool = False, on_ready: Callable[[Any], None] | None = None) -> JobReport:
    """Embed the collection on Dask: a local loopback cluster, or the one at ``scheduler``.
    ``on_ready(client)`` runs once the workers have their model (tests inspect the sockets)."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise RagIndexError('The embedding job needs Dask distributed: pip install -e ".[scale]"') from exc
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
                 "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    started = time.perf_counter()
    rows, n_docs = job_texts(settings)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    parts = [rows[i:i + PART_TEXTS] for i in range(0, len(rows), PART_TEXTS)]
    report = JobReport(documents=n_docs, parts=len(parts),
                       passages=sum(r["kind"] == "passage" for r in rows),
                       sentences=sum(r["kind"] == "sentence" for r in rows))
    scratch = out / ".dask"  # Dask's spill space stays inside the output folder
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               local_directory=str(scratch))
        client = Client(cluster)
    try:
        client.register_plugin(EmbedderPlugin(settings.model_path, settings.precision,
                                              settings.batch_size, str(settings.cache_dir.resolve())))
        report.workers = len(client.scheduler_info()["workers"])
        if on_ready is not None:
            on_ready(client)
        futures = [client.submit(embed_part, part, str(out / f"part-{i:05d}.parquet"), pure=False)
                   for i, part in enumerate(parts)]
        for n, future in enumerate(as_completed(futures), 1):
            report.files.append(Path(future.result()).name)
            if progress:
                print(f"\rembedded part {n}/{len(parts)}", end="", flush=True)
        if progress:
            print(flush=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(scratch, ignore_errors=True)
    report.files.sort()
    report.seconds = time.perf_counter() - started
    return report


class LookupEmbedder:
    """Vectors from an embedding job's Parquet files, looked up by text; texts not found there
    are embedded by ``fallback`` (so a build from a stale job is still right, only slower)."""

    def __init__(self, folder: Path, fallback: Embedder) -> None:
        import pyarrow.parquet as pq

        files = sorted(Path(folder).glob("part-*.parquet"))
        if not files:
            raise RagIndexError(f"No embedding job output (part-*.parquet) in {folder}.")
        self._vectors: dict[str, np.ndarray] = {}
        for f in files:
            table = pq.read_table(f, columns=["text", "vector"])
            vecs = np.asarray(table.column("vector").combine_chunks().flatten(),
                              dtype=np.float32).reshape(table.num_rows, -1)
            for text, vec in zip(table.column("text").to_pylist(), vecs, strict=True):
                self._vectors[text] = vec
        self.fallback = fallback
        self.found = self.missed = 0

    @property
    def precision(self) -> str:
        return self.fallback.precision

    @property
    def dimension(self) -> int:
        return int(next(iter(self._vectors.values())).shape[0])

    def encode_documents(self, texts: list[str], progress: bool = False,
                         pieces: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            known = dict(zip(texts, pieces, strict=True)) if pieces is not None else None
            given = [known[t] for t in missing] if known is not None else None
            for text, vec in zip(missing, self.fallback.encode_documents(missing, progress, given),
                                 strict=True):
                self._vectors[text] = vec
        self.missed += len(missing)
        self.found += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


__all__ = ["JobReport", "LookupEmbedder", "run_job"]
