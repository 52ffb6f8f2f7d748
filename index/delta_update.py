"""An update that only adds documents to a large index: the new passages go to the delta
segment (index.delta) and the base's files are linked into the new version unread.

What it costs grows with the documents added (and a stat of each file): the live index is
neither loaded nor re-hashed, BM25 is not re-indexed, no vector file or graph is rewritten.
It declines (returns False, and the build takes its usual path, merging the delta) when a
document changed or went, when the HNSW settings are not the base graph's, when the base is
not an HNSW index (below the ANN threshold a full write is quick), or when the delta would hold
more than IndexSettings.delta_max_passages passages or a tenth of the base.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import ANALYZER_FILE, Analyzer
from index.bm25_delta import DeltaBM25
from index.delta import DELTA, DeltaSegment, delta_counts, is_delta_file, read_delta
from index.doc_entries import clean_document, doc_entry, doc_report, split_document, unchanged_entry
from index.embed import Embedder
from index.errors import RagIndexError
from index.load import LoadResult
from index.settings import IndexSettings
from index.store import VersionWriter, check_compatible, live_version, read_manifest
from index.types import Passage, indexed_text

log = logging.getLogger(__name__)


def live_manifest(settings: IndexSettings, model: dict[str, Any]) -> tuple[Path, dict[str, Any]] | None:
    """The live version of a local index and its manifest, when it fits the settings (None:
    no index, another store, or one the build must replace)."""
    if settings.store != "local":
        return None
    try:
        version = live_version(settings.index_dir)
        manifest = read_manifest(version, settings.index_dir)
        check_compatible(manifest, model, settings.chunk_fingerprint(), settings.index_dir)
    except RagIndexError:
        return None
    return version, manifest


def delta_cap(settings: IndexSettings, base_passages: int) -> int:
    """Passages the delta may hold: the setting, and at most a tenth of the base (searched
    exactly, and the base's BM25 keeps its own mean length: index.bm25_delta)."""
    return min(settings.delta_max_passages, base_passages // 10)


def _graph_fits(settings: IndexSettings, manifest: dict[str, Any], base_passages: int) -> bool:
    """The base is an HNSW index a full build would make again with these settings."""
    dense = manifest.get("dense") or {}
    return (settings.delta_max_passages > 0 and dense.get("kind") in ("hnsw", "hnsw-int8")
            and base_passages >= settings.ann_threshold
            and dense.get("hnsw_m") == settings.hnsw_m
            and dense.get("ef_construction") == settings.hnsw_ef_construction
            and dense.get("hnsw_vectors") == settings.hnsw_vectors)


def append_to_delta(settings: IndexSettings, version: Path, manifest: dict[str, Any],
                    loaded: LoadResult, embedder: Embedder, count: Any, report: Any,
                    progress: bool = False) -> bool:
    """Publish a version whose delta holds the live delta plus the new documents of
    ``loaded``, and fill ``report`` (an index.build.BuildReport); False when it cannot."""
    n_delta, _ = delta_counts(manifest)
    base_passages = int(manifest["count"]) - n_delta
    if (not _graph_fits(settings, manifest, base_passages)
            or live_version(settings.index_dir) != version):
        return False
    old_docs: dict[str, Any] = manifest["documents"]
    if set(old_docs) - {d.doc_id for d in loaded.documents}:
        return False  # a document went: its rows must go
    entries: dict[str, Any] = {}
    lines: dict[str, Any] = {}
    new_docs = []
    for doc in loaded.documents:
        old = old_docs.get(doc.doc_id)
        if old is None:
            new_docs.append(doc)
            continue
        if old.get("sha256") != doc.sha256:
            return False  # changed: its rows change
        entries[doc.doc_id], lines[doc.doc_id] = unchanged_entry(doc, old, int(old["passages"]))
        if entries[doc.doc_id] is None:  # a manifest from before the cleaning figures
            return False
    added: list[Passage] = []
    for doc in new_docs:
        cleaned = clean_document(doc, settings.clean)
        passages = split_document(doc, cleaned, count, settings)
        entries[doc.doc_id] = doc_entry(doc, cleaned, len(passages))
        lines[doc.doc_id] = doc_report(doc, cleaned, "new", len(passages))
        added.extend(passages)
    if n_delta + len(added) > delta_cap(settings, base_passages):
        log.info("the delta would hold %d passages (at most %d): merging it into the base",
                 n_delta + len(added), delta_cap(settings, base_passages))
        return False
    try:
        old_delta = read_delta(version, manifest, settings.index_dir)
        analyzer = Analyzer.from_json(json.loads(
            (version / "bm25" / ANALYZER_FILE).read_text(encoding="utf-8")))
    except (RagIndexError, OSError, ValueError) as exc:
        log.info("not appending to the delta: %s", exc)
        return False
    dim = int(manifest["model"]["dimension"])
    delta = _grown(settings, old_delta, added, embedder, analyzer, dim,
                   "sentences.npy" in manifest["files"], progress)
    writer = VersionWriter(settings.index_dir)
    try:
        try:
            writer.link(version, {rel: digest for rel, digest in manifest["files"].items()
                                  if not is_delta_file(rel)})
        except OSError as exc:  # a base file is missing: the usual build finds what is wrong
            log.info("not appending to the delta: %s", exc)
            writer.abandon()
            return False
        out = dict(manifest)
        for key in ("files", "format_version", "delta"):
            out.pop(key, None)
        if delta.passages:
            writer.write_passages(delta.passages, f"{DELTA}/passages.jsonl")
            writer.write_array(f"{DELTA}/vectors.npy", delta.vectors)
            if delta.sentence_vectors is not None:
                writer.write_array(f"{DELTA}/sentences.npy", delta.sentence_vectors)
            delta.bm25.save(writer.tmp / DELTA / "bm25")
            out["delta"] = {"count": len(delta.passages),
                            "sentences": len(delta.sentence_vectors)
                            if delta.sentence_vectors is not None else 0}
        order = [d.doc_id for d in loaded.documents]  # the manifest and report in folder order
        base_count = int(manifest["count"]) - n_delta
        out.update(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                   documents={d: entries[d] for d in order},
                   count=base_count + len(delta.passages))
        report.version_dir = writer.publish(out)
    except BaseException:
        writer.abandon()
        raise
    report.documents = [lines[d] for d in order]
    report.embedded_passages = len(added)
    report.reused_passages = int(manifest["count"])
    report.dense_kind = str(manifest["dense"]["kind"])
    report.delta_passages = len(delta.passages)
    return True


def _grown(settings: IndexSettings, old: DeltaSegment | None, added: list[Passage],
           embedder: Embedder, analyzer: Analyzer, dim: int, sentences: bool,
           progress: bool) -> DeltaSegment:
    """The live delta with the added passages after its own: their vectors, their sentences'
    (rows in sentence_keys order: the added documents are new, so the old rows stay a prefix),
    and BM25 term counts of the whole delta (small, so counted again)."""
    empty = np.zeros((0, dim), dtype=np.float32)
    texts = [indexed_text(p, settings.title_context) for p in added]
    vectors = embedder.encode_documents(texts, progress=progress) if added else empty
    passages = (old.passages if old else []) + added
    all_vectors = np.vstack([old.vectors if old else empty, vectors]).astype(np.float32)
    sentence_vectors = None
    if sentences:
        keyed: dict[tuple[str, int, int], str] = {}  # in sentence_keys order
        for p in added:
            for s, e in p.sentences:
                keyed.setdefault((p.doc_id, s, e), p.text[s - p.start : e - p.start])
        new = (embedder.encode_documents(list(keyed.values()), progress=progress) if keyed
               else empty)
        before = old.sentence_vectors if old is not None and old.sentence_vectors is not None else empty
        sentence_vectors = np.vstack([before, new]).astype(np.float32)
    bm25 = DeltaBM25.build([indexed_text(p, settings.title_context) for p in passages], analyzer)
    return DeltaSegment(passages, all_vectors, sentence_vectors, bm25)
