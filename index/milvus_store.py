"""Milvus as the index store (``--store milvus --milvus-uri PATH_OR_URL``).

The same client runs Milvus Lite embedded from a local file (``.rag/milvus.db``) and talks to a
Milvus standalone server or cluster given its URL (``http://host:19530``, with ``--milvus-token``
if it needs one). Milvus keeps the passages, their vectors, the sentence vectors and the
manifest, and answers the dense (inner product) and BM25 searches; Milvus computes BM25 itself,
over text the project's own analyser has already stemmed (Milvus Lite has no English stemmer).

Every build writes a new version into fresh collections and then flips one ``current`` row in
the meta collection, so readers see the old or the new index, never half of one; the version
before is kept (a reader that loaded it keeps working) and older ones are dropped.

A process that loads the index caches the passages and vectors it needs for answering
(sentence scoring and answer features), as with the local store; the searches themselves run
in Milvus.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import Analyzer
from index.errors import IndexCorrupt, IndexNotFound, RagIndexError
from index.types import Passage

log = logging.getLogger(__name__)
CHUNK = 60_000  # characters per meta row (VARCHAR holds at most 65,535)
BATCH = 2_000
ANALYZED = {"tokenizer": "standard"}  # text arrives analysed: only split, no stemmer or stopwords


class MilvusUnavailable(RagIndexError):
    """The Milvus store cannot be reached or used."""


def connect(uri: str, token: str = "") -> Any:
    """A MilvusClient for a local file (Milvus Lite) or a server URL."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise MilvusUnavailable("The Milvus store needs pymilvus and milvus-lite: "
                                'pip install -e ".[scale]"') from exc
    if "://" not in uri:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its per-query notices are noise here
    try:
        return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
    except Exception as exc:  # noqa: BLE001 - any client failure is one clear error
        raise MilvusUnavailable(f"Cannot open the Milvus store at {uri}: {exc}") from exc


class MilvusStore:
    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self.meta = f"{name}_meta"

    # -- writing ---------------------------------------------------------------------------
    def publish(self, passages: list[Passage], vectors: np.ndarray, analyzed: list[str],
                sentence_vectors: np.ndarray | None, manifest: dict[str, Any]) -> str:
        """Write a new version and make it current; returns its name."""
        from pymilvus import DataType, Function, FunctionType

        version = f"v{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
        dim = int(vectors.shape[1])
        p_name, s_name = f"{self.name}_p_{version}", f"{self.name}_s_{version}"
        try:
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("passage", DataType.VARCHAR, max_length=65_535)
            schema.add_field("analyzed", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                             analyzer_params=ANALYZED)
            schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["analyzed"],
                                         output_field_names=["sparse"]))
            params = self.client.prepare_index_params()
            params.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
            params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX",
                             metric_type="BM25")
            self.client.create_collection(p_name, schema=schema, index_params=params)
            for start in range(0, len(passages), BATCH):
                self.client.insert(p_name, [
                    {"row": i, "passage": json.dumps(passages[i].to_json()),
                     "analyzed": analyzed[i] or "_", "dense": vectors[i].tolist()}
                    for i in range(start, min(start + BATCH, len(passages)))])
            if sentence_vectors is not None:
                self._vector_collection(s_name, sentence_vectors)
            self._ensure_meta()
            self._put(f"manifest:{version}", json.dumps({**manifest, "store": "milvus"}))
            previous = self.current()
            self._put("current", version)  # the switch: one row
        except BaseException:
            for name in (p_name, s_name):
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            raise
        self._drop_older(keep={version, previous})
        return version

    def _vector_collection(self, name: str, vectors: np.ndarray) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
        params = self.client.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        self.client.create_collection(name, schema=schema, index_params=params)
        for start in range(0, len(vectors), BATCH):
            self.client.insert(name, [{"row": i, "vector": vectors[i].tolist()}
                                      for i in range(start, min(start + BATCH, len(vectors)))])

    def _ensure_meta(self) -> None:
        from pymilvus import DataType

        if self.client.has_collection(self.meta):
            return
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("value", DataType.VARCHAR, max_length=65_535)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        params = self.client.prepare_index_params()
        params.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        self.client.create_collection(self.meta, schema=schema, index_params=params)

    def _put(self, key: str, value: str) -> None:
        parts = [value[i:i + CHUNK] for i in range(0, len(value), CHUNK)] or [""]
        rows = [{"key": f"{key}#{n}", "value": part, "unused": [0.0, 0.0]}
                for n, part in enumerate(parts)]
        rows.append({"key": f"{key}#n", "value": str(len(parts)), "unused": [0.0, 0.0]})
        self.client.upsert(self.meta, rows)

    def _get(self, key: str) -> str | None:
        head = self.client.get(self.meta, ids=[f"{key}#n"], output_fields=["value"])
        if not head:
            return None
        n = int(head[0]["value"])
        rows = self.client.get(self.meta, ids=[f"{key}#{i}" for i in range(n)],
                               output_fields=["key", "value"])
        by_key = {r["key"]: r["value"] for r in rows}
        if len(by_key) != n:
            raise IndexCorrupt(f"The Milvus store's {key} record is incomplete.")
        return "".join(by_key[f"{key}#{i}"] for i in range(n))

    def current(self) -> str | None:
        if not self.client.has_collection(self.meta):
            return None
        self._load(self.meta)
        return self._get("current")

    def _load(self, name: str) -> None:
        """Collections start released in a new process: load before get, query or search."""
        self.client.load_collection(name)

    def _drop_older(self, keep: set[str | None]) -> None:
        prefix = f"{self.name}_"
        for name in self.client.list_collections():
            if not name.startswith((f"{prefix}p_", f"{prefix}s_")):
                continue
            if name.rsplit("_", 1)[-1] not in keep:
                self.client.drop_collection(name)

    # -- reading ---------------------------------------------------------------------------
    def read(self) -> tuple[str, dict[str, Any], list[Passage], np.ndarray, np.ndarray | None]:
        """The current version: its name, manifest, passages, vectors, sentence vectors."""
        version = self.current()
        if version is None:
            raise IndexNotFound(f"No index in the Milvus store (collection prefix {self.name!r}).",
                                "Build it with: rag index build --store milvus --milvus-uri ...")
        raw = self._get(f"manifest:{version}")
        if raw is None:
            raise IndexCorrupt(f"The Milvus store has no manifest for version {version}.")
        manifest = json.loads(raw)
        self._load(f"{self.name}_p_{version}")
        rows = self._all(f"{self.name}_p_{version}", ["row", "passage", "dense"])
        passages = [Passage.from_json(json.loads(r["passage"])) for r in rows]
        vectors = np.asarray([r["dense"] for r in rows], dtype=np.float32)
        if len(passages) != manifest.get("count"):
            raise IndexCorrupt(f"The Milvus store holds {len(passages)} passages; its manifest "
                               f"says {manifest.get('count')}.")
        sentences = None
        s_name = f"{self.name}_s_{version}"
        if self.client.has_collection(s_name):
            self._load(s_name)
            srows = self._all(s_name, ["row", "vector"])
            sentences = np.asarray([r["vector"] for r in srows], dtype=np.float32)
        return version, manifest, passages, vectors, sentences

    def _all(self, collection: str, fields: list[str]) -> list[dict[str, Any]]:
        """Every row of a collection, in row order."""
        out: list[dict[str, Any]] = []
        it = self.client.query_iterator(collection, batch_size=BATCH, filter="row >= 0",
                                        output_fields=fields)
        try:
            while batch := it.next():
                out.extend(batch)
        finally:
            it.close()
        out.sort(key=lambda r: r["row"])
        if [r["row"] for r in out] != list(range(len(out))):
            raise IndexCorrupt(f"The Milvus collection {collection} has gaps in its rows.")
        return out


class MilvusSearch:
    """Dense and BM25 search of one version, in Milvus; results as (row, score), best first."""

    def __init__(self, client: Any, collection: str) -> None:
        self.client = client
        self.collection = collection

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        res = self.client.search(self.collection, data=[vector.astype(np.float32).tolist()],
                                 anns_field="dense", limit=k, output_fields=["row"],
                                 search_params={"metric_type": "IP"})
        return [(int(h["entity"]["row"]), float(h["distance"])) for h in res[0]]

    def bm25(self, terms: list[str], k: int) -> list[tuple[int, float]]:
        if not terms:
            return []
        res = self.client.search(self.collection, data=[" ".join(terms)], anns_field="sparse",
                                 limit=k, output_fields=["row"],
                                 search_params={"metric_type": "BM25"})
        # Milvus Lite reports BM25 as a distance (lower is better); a server as a score
        hits = [(int(h["entity"]["row"]), float(h["distance"])) for h in res[0]]
        if hits and hits[0][1] <= 0:
            hits = [(r, -d) for r, d in hits]
        return [(r, s) for r, s in hits if s > 0]


def analyzed_texts(analyze: Analyzer, texts: list[str]) -> list[str]:
    """Each text as the project's BM25 analyser sees it (stems, no stopwords), space-joined."""
    return [" ".join(analyze(t)) for t in texts]


__all__ = ["MilvusSearch", "MilvusStore", "MilvusUnavailable", "analyzed_texts", "connect"]
