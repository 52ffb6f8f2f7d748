"""Building the index: load, clean, split, embed (only what changed), store atomically."""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import Analyzer, BM25Index
from index.delta_update import append_to_delta, live_manifest
from index.dense import build_faiss, kind_of, save_faiss, vectors_of
from index.doc_entries import (
    CLEANING_FIGURES,
    DocReport,
    clean_document,
    doc_entry,
    doc_report,
    split_document,
    unchanged_entry,
)
from index.embed import Embedder, model_fingerprint
from index.errors import RagIndexError
from index.load import LoadResult, Skipped, load_folder
from index.pieces import PieceCounter
from index.search import SearchIndex, sentence_keys
from index.settings import IndexSettings
from index.split import token_counter
from index.store import VersionWriter
from index.types import Document, Passage, indexed_text

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    index_dir: Path
    documents: list[DocReport] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    embedded_passages: int = 0
    reused_passages: int = 0
    extended: int = 0  # FAISS indexes extended with the new rows instead of rebuilt
    delta_passages: int = 0  # passages in the delta segment after an update (index.delta)
    seconds: float = 0.0
    precision: str = "fp32"
    dense_kind: str = "flat-ip"
    version_dir: Path | None = None

    @property
    def passages(self) -> int:
        return sum(d.passages for d in self.documents)


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("sentence-transformers", "faiss-cpu", "bm25s", "torch", "transformers", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RagIndexError(f"Another build of {index_dir} is running; wait for it.") from exc
        yield


def build_index(
    settings: IndexSettings,
    full: bool = False,
    progress: bool = False,
    embedder: Embedder | None = None,
    documents: LoadResult | None = None,
) -> BuildReport:
    """Build (or update) the index at ``settings.index_dir`` from ``settings.docs_dir``."""
    started = time.perf_counter()
    model = model_fingerprint(settings.model_path)
    live = None if full else live_manifest(settings, model)
    embedder = embedder or Embedder.from_settings(settings)
    if live is not None and (live[1]["model"].get("precision") == "int8") != (embedder.precision == "int8"):
        # int8 and float vectors differ by about 0.007 of cosine: an update would mix them
        log.info("Document precision changed (%s to %s): building the index anew",
                 live[1]["model"].get("precision"), embedder.precision)
        full, live = True, None
    # files unchanged since the live index (size and modification time) are not read again
    known = {k: v for k, v in live[1]["documents"].items() if all(f in v for f in CLEANING_FIGURES)
             } if live is not None else None
    loaded = documents or load_folder(settings.docs_dir, settings.max_file_bytes, known)
    report = BuildReport(index_dir=settings.index_dir, skipped=list(loaded.skipped),
                         precision=embedder.precision)
    # the sentences' word pieces are kept to embed passages and sentences (index.pieces)
    count = token_counter(settings.model_path, keep_pieces=True)
    with build_lock(settings.index_dir):
        # only documents added to an HNSW index: they go to the delta segment
        if live is not None and append_to_delta(settings, *live, loaded, embedder, count, report,
                                                progress):
            report.seconds = time.perf_counter() - started
            return report
        previous = None if full else _previous(settings)
        all_passages: list[Passage] = []
        vec_parts: list[np.ndarray] = []
        new_passages: list[Passage] = []
        slots: list[tuple[int, int]] = []  # (position in vec_parts, new passages) per document
        doc_meta: dict[str, Any] = {}
        old_docs = previous.documents if previous else {}
        old_rows: dict[str, list[int]] = {}  # each document's passage rows, found in one pass
        for i, p in enumerate(previous.passages if previous is not None else []):
            old_rows.setdefault(p.doc_id, []).append(i)
        loading: threading.Thread | None = None
        for doc in _previous_first(loaded.documents, old_docs, old_rows):
            old = old_docs.get(doc.doc_id)
            if previous is not None and old and old.get("sha256") == doc.sha256:
                rows = old_rows.get(doc.doc_id, [])
                passages = [previous.passages[i] for i in rows]
                vec_parts.append(previous.vectors[rows])
                report.reused_passages += len(passages)
                entry, line = unchanged_entry(doc, old, len(passages))
                if entry is None:  # an index from before the cleaning figures were kept
                    cleaned = clean_document(doc, settings.clean)
                    entry = doc_entry(doc, cleaned, len(passages))
                    line = doc_report(doc, cleaned, "unchanged", len(passages))
            else:
                if loading is None:  # something to embed: load the model while splitting
                    loading = _load_in_background(embedder)
                cleaned = clean_document(doc, settings.clean)
                passages = split_document(doc, cleaned, count, settings)
                slots.append((len(vec_parts), len(passages)))
                vec_parts.append(np.zeros((0, 0), dtype=np.float32))
                new_passages.extend(passages)
                entry = doc_entry(doc, cleaned, len(passages))
                line = doc_report(doc, cleaned, "changed" if old else "new", len(passages))
            all_passages.extend(passages)
            doc_meta[doc.doc_id] = entry
            report.documents.append(line)
        order = {d.doc_id: i for i, d in enumerate(loaded.documents)}  # reports in folder order
        doc_meta = dict(sorted(doc_meta.items(), key=lambda kv: order[kv[0]]))
        report.documents.sort(key=lambda d: order[d.doc_id])
        report.removed = sorted(set(old_docs) - set(doc_meta))
        if loading is not None:  # None: every document was unchanged, nothing to embed
            loading.join()
        if not all_passages:
            raise RagIndexError("The documents hold no text left to index after cleaning.")
        pieces = count if isinstance(count, PieceCounter) else None
        _fill_new_vectors(embedder, new_passages, vec_parts, slots, progress,
                          previous.vectors.shape[1] if previous is not None else None,
                          settings.title_context, pieces)
        report.embedded_passages = len(new_passages)
        vectors = np.vstack([v for v in vec_parts if len(v)])
        assert len(vectors) == len(all_passages)
        sentence_vectors = None
        # sentence rows of the new and the live index: a tuple per sentence, made once a build
        sentence_rows = old_sentence_rows = None
        if settings.embed_sentences:
            sentence_rows = sentence_keys(all_passages)
            old_sentence_rows = previous.sentence_row_map() if previous is not None else {}
            sentence_vectors = _sentence_vectors(embedder, all_passages, previous, progress,
                                                 sentence_rows, old_sentence_rows, pieces)
        report.dense_kind = write_version(settings, all_passages, vectors, sentence_vectors,
                                          doc_meta, model, embedder, report, previous,
                                          sentence_rows, old_sentence_rows)
    report.seconds = time.perf_counter() - started
    return report


def _load_in_background(embedder: Embedder) -> threading.Thread:
    """Start loading the document encoder on a thread of its own, so that its import and load
    (about 5 s) overlap cleaning and splitting (the tokenizer gives up Python's lock while it
    counts). A failure is left for the first embedding call, which loads again and reports it."""
    def load() -> None:
        prepare = getattr(embedder, "load_document_encoder", None)  # stand-ins may not have it
        try:
            if prepare is not None:
                prepare()
        except Exception as exc:  # noqa: BLE001 - said again, and raised, by the embedding call
            log.debug("loading the model ahead of embedding failed: %s", exc)

    thread = threading.Thread(target=load, name="load-document-encoder", daemon=True)
    thread.start()
    return thread


def _previous_first(documents: list[Document], old_docs: dict[str, Any],
                    old_rows: dict[str, list[int]]) -> list[Document]:
    """Unchanged documents in the live index's row order, then new and changed ones in folder
    order: when documents are only added, the old rows stay a prefix and the FAISS indexes can
    be extended instead of rebuilt (see _extended)."""
    end = sum(len(r) for r in old_rows.values())

    def key(item: tuple[int, Document]) -> int:
        pos, doc = item
        old = old_docs.get(doc.doc_id)
        rows = old_rows.get(doc.doc_id)
        if old and rows and old.get("sha256") == doc.sha256:
            return rows[0]
        return end + pos

    return [doc for _, doc in sorted(enumerate(documents), key=key)]


def _extended(previous_index: Any, vectors: np.ndarray, settings: IndexSettings) -> Any:
    """A copy of the live HNSW index with the rows after its own added (HNSW insertion is
    incremental: the old graph stays valid), or None when it cannot be extended. The caller
    checks that the live index's rows are the first of ``vectors`` (_old_rows_kept); a live
    index with a delta segment (index.delta) has its graph over the base rows only, and the
    delta's rows follow them, so merging the delta extends the graph with them."""
    from index.dense import extend_faiss

    if (previous_index is None or vectors_of(kind_of(previous_index)) != settings.hnsw_vectors
            or previous_index.ntotal > len(vectors)
            or len(vectors) < settings.ann_threshold  # a rebuild would make it exact
            or previous_index.hnsw.nb_neighbors(1) != settings.hnsw_m  # links changed
            or previous_index.hnsw.efConstruction != settings.hnsw_ef_construction):
        return None
    return extend_faiss(previous_index, vectors[previous_index.ntotal:], settings.hnsw_ef_search)


def _old_rows_kept(previous: SearchIndex | None, passages: list[Passage],
                   sentence_rows: dict[tuple[str, int, int], int] | None, reused: int,
                   old_sentence_rows: dict[tuple[str, int, int], int] | None = None) -> bool:
    """The live index's passages (and sentences) are the first rows of the new one, unchanged:
    every one of them was reused with its vector (``reused`` rows, unchanged documents first),
    so no changed document, whose vectors may differ for the same passage text (its title is
    embedded with ``title_context``), hides in the prefix."""
    if previous is None or reused != len(previous.passages) or reused > len(passages):
        return False
    same = all(a.id == b.id and a.doc_id == b.doc_id and a.text == b.text
               for a, b in zip(previous.passages, passages, strict=False))
    if not same or sentence_rows is None:
        return same
    if old_sentence_rows is None:
        old_sentence_rows = previous.sentence_row_map()
    return all(sentence_rows.get(k) == row for k, row in old_sentence_rows.items())


def _previous(settings: IndexSettings) -> SearchIndex | None:
    """The live index, if it can be reused; anything wrong with it means a full build."""
    try:
        return SearchIndex.load(settings, verify=True)
    except RagIndexError as exc:
        log.info("not reusing the existing index: %s", exc)
        return None


def _fill_new_vectors(embedder: Embedder, new_passages: list[Passage], vec_parts: list[np.ndarray],
                      slots: list[tuple[int, int]], progress: bool, known_dim: int | None,
                      title_context: bool = False, pieces: PieceCounter | None = None) -> None:
    """Embed the new passages and hand each document's rows to its slot, in order."""
    given = [pieces.passage(p, title_context) for p in new_passages] if pieces else None
    vecs = (embedder.encode_documents([indexed_text(p, title_context) for p in new_passages],
                                      progress=progress, pieces=given) if new_passages else None)
    # with nothing new to embed, the model need not even be loaded
    dim = vecs.shape[1] if vecs is not None else (known_dim or embedder.dimension)
    offset = 0
    for slot, n in slots:
        vec_parts[slot] = vecs[offset : offset + n] if vecs is not None and n else np.zeros(
            (0, dim), dtype=np.float32)
        offset += n


def _sentence_vectors(embedder: Embedder, passages: list[Passage], previous: SearchIndex | None,
                      progress: bool, rows: dict[tuple[str, int, int], int],
                      old_rows: dict[tuple[str, int, int], int],
                      pieces: PieceCounter | None = None) -> np.ndarray:
    """One vector per sentence row (``rows``, from sentence_keys): the live index's where it
    has the sentence (``old_rows``: its rows), the rest embedded (with their word pieces from
    ``pieces`` where counted)."""
    texts: dict[tuple[str, int, int], str] = {}
    for p in passages:
        for s, e in p.sentences:
            texts.setdefault((p.doc_id, s, e), p.text[s - p.start : e - p.start])
    todo = []
    reused: list[int] = []
    reused_from: list[int] = []
    can_reuse = previous is not None and previous.sentence_vectors is not None
    for key, row in rows.items():
        old = old_rows.get(key) if can_reuse else None
        if old is not None:
            reused.append(row)
            reused_from.append(old)
        else:
            todo.append(key)
    todo_texts = [texts[k] for k in todo]
    given = [pieces.of(t) for t in todo_texts] if pieces else None
    new = embedder.encode_documents(todo_texts, progress=progress, pieces=given) if todo else None
    dim = new.shape[1] if new is not None else previous.sentence_vectors.shape[1]  # type: ignore[union-attr]
    out = np.zeros((len(rows), dim), dtype=np.float32)
    if reused:  # one read of the old rows (runs of them, when served from disk)
        out[reused] = previous.sentence_vectors[reused_from]  # type: ignore[union-attr]
    if new is not None:
        out[[rows[k] for k in todo]] = new
    return out


def _manifest(settings, passages, vectors, doc_meta, model, embedder, dense_kind: str  # noqa: ANN001
              ) -> dict[str, Any]:
    """What a version records about itself, in either store."""
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": {**model, "path": settings.model_path, "dimension": int(vectors.shape[1]),
                  "precision": embedder.precision},
        "settings": settings.chunk_fingerprint(),
        "dense": dense_entry(settings, dense_kind),
        "count": len(passages),
        "documents": doc_meta,
        "versions": versions(),
    }


def dense_entry(settings: IndexSettings, kind: str) -> dict[str, Any]:
    """The manifest's record of the dense index; an HNSW graph's build settings with it (an
    update may add to the graph's delta segment only while they still hold: index.delta)."""
    entry: dict[str, Any] = {"kind": kind, "ann_threshold": settings.ann_threshold}
    if vectors_of(kind) is not None:
        entry.update(hnsw_m=settings.hnsw_m, ef_construction=settings.hnsw_ef_construction,
                     hnsw_vectors=settings.hnsw_vectors)
    return entry


def _write_milvus(settings, passages, vectors, sentence_vectors, doc_meta, model, embedder,  # noqa: ANN001
                  report) -> str:
    """Publish the index into the Milvus store (index.milvus_store): a new version, then the
    switch; Milvus indexes the dense vectors and computes BM25 over the analysed text."""
    from index.milvus_store import MilvusStore, analyzed_texts, connect

    texts = [indexed_text(p, settings.title_context) for p in passages]
    store = MilvusStore(connect(settings.milvus_target, settings.milvus_token),
                        settings.milvus_collection)
    manifest = _manifest(settings, passages, vectors, doc_meta, model, embedder, "milvus-flat-ip")
    version = store.publish(passages, vectors, analyzed_texts(Analyzer(), texts), sentence_vectors,
                            manifest)
    report.version_dir = Path(f"milvus:{settings.milvus_collection}:{version}")
    return "milvus-flat-ip"


def write_version(settings, passages, vectors, sentence_vectors, doc_meta, model, embedder,  # noqa: ANN001
                  report, previous: SearchIndex | None = None,
                  sentence_rows: dict[tuple[str, int, int], int] | None = None,
                  old_sentence_rows: dict[tuple[str, int, int], int] | None = None) -> str:
    """Publish passages and their vectors as a new version of the index (also used by
    evals.scale for collections made without documents); ``sentence_rows`` and
    ``old_sentence_rows`` (sentence_keys of the passages and of the live index's) are made here
    when not given. Returns the dense index's kind."""
    if settings.store == "milvus":
        return _write_milvus(settings, passages, vectors, sentence_vectors, doc_meta, model,
                             embedder, report)
    s = settings
    if sentence_vectors is None:
        sentence_rows = None
    elif sentence_rows is None:
        sentence_rows = sentence_keys(passages)
    kept = _old_rows_kept(previous, passages, sentence_rows, report.reused_passages,
                          old_sentence_rows)
    writer = VersionWriter(settings.index_dir)
    try:
        writer.write_passages(passages)
        writer.write_array("vectors.npy", vectors)
        if sentence_vectors is not None:
            writer.write_array("sentences.npy", sentence_vectors)
            if len(sentence_vectors) >= settings.ann_threshold:  # below it: exact, with numpy
                old = previous.sentence_dense if kept and previous is not None else None
                sent = _extended(old, sentence_vectors, s)
                report.extended += sent is not None and sent.ntotal > old.ntotal
                if sent is None:
                    sent = build_faiss(sentence_vectors, s.ann_threshold, s.hnsw_m,
                                       s.hnsw_ef_search, s.hnsw_vectors, s.hnsw_ef_construction)
                save_faiss(sent, writer.tmp / "sentences.faiss")
        old = previous.dense if kept and previous is not None else None
        dense = _extended(old, vectors, s)
        report.extended += dense is not None and dense.ntotal > old.ntotal
        if dense is None:
            dense = build_faiss(vectors, s.ann_threshold, s.hnsw_m, s.hnsw_ef_search,
                                s.hnsw_vectors, s.hnsw_ef_construction)
        save_faiss(dense, writer.tmp / "dense.faiss")
        bm25 = BM25Index.build([indexed_text(p, settings.title_context) for p in passages])
        bm25.save(writer.tmp / "bm25")
        manifest = _manifest(settings, passages, vectors, doc_meta, model, embedder, kind_of(dense))
        report.version_dir = writer.publish(manifest)
        return kind_of(dense)
    except BaseException:
        writer.abandon()
        raise


def ensure_index(settings: IndexSettings, progress: bool = False,
                 embedder: Embedder | None = None) -> BuildReport | None:
    """Build the index when there is none, or it no longer fits the settings; else None.

    The documents folder must exist either way, so a mistyped ``--docs`` is an error rather
    than a silent answer from another collection.
    """
    reason = build_reason(settings)
    if reason is None:
        return None
    log.warning("%s Building the index from %s …", reason, settings.docs_dir)
    return build_index(settings, progress=progress, embedder=embedder)


def build_reason(settings: IndexSettings) -> str | None:
    """Why the index must be built (none yet, or it no longer fits the settings), or None;
    loads no model; without the "Rebuild it with" hint, since the callers build. A missing
    documents folder is an error (ensure_index)."""
    from index.errors import IndexMismatch, IndexNotFound, NoDocuments

    docs = Path(settings.docs_dir)
    if docs.exists() and not docs.is_dir():
        raise NoDocuments(f"{docs} is a file, not a folder of documents. Pass --docs DIR.")
    if not docs.is_dir():
        raise NoDocuments(f"Documents folder not found: {docs}. Pass --docs DIR.")
    try:
        SearchIndex.load(settings, verify=False)
        return None
    except (IndexNotFound, IndexMismatch) as exc:
        return exc.reason  # without the command that fixes it by hand: the caller builds
