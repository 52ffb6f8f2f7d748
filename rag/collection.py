"""The collection behind a running server: list, add and remove documents while it answers.

A change copies the new files into the documents folder (or moves removed ones aside), updates
the index incrementally (only new text is embedded; the store publishes a new version
atomically), loads it, and only then swaps the live :class:`Assistant`. A question already being
answered finishes on the assistant it started with; a failed change puts the folder back as it
was, and the previous index stays live. One change at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from index.build import build_index
from index.errors import RagError
from index.formats import UnusableFile
from index.load import SUFFIXES, load_file
from index.search import SearchIndex
from rag.assistant import Assistant

REMOVED_DIR = ".removed"  # hidden, so the loader skips it; removed files can be restored from it
MAX_NAME_CHARS = 120
Progress = Callable[[float, str], None]


class CollectionError(RagError):
    """A change to the collection that was refused or failed; the collection is unchanged."""


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    title: str
    kind: str
    passages: int
    kept_chars: int
    dropped_chars: int


@dataclass(frozen=True)
class Change:
    """What a change did: documents added or removed, files refused with their reasons."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0

    def summary(self) -> str:
        parts = []
        if self.added:
            parts.append(f"Added {', '.join(self.added)}.")
        if self.removed:
            parts.append(f"Removed {', '.join(self.removed)} (the file was moved to "
                         f"{REMOVED_DIR}/ in the documents folder).")
        parts += [f"Not added: {name}: {reason}." for name, reason in self.refused]
        if self.added or self.removed:
            parts.append(f"The index was updated in {self.seconds:.1f} s.")
        return " ".join(parts) or "Nothing changed."


def safe_name(name: str) -> str:
    """A plain file name for an upload: no folders, no hidden or control characters, a
    supported extension. Raises CollectionError when nothing usable is left."""
    if not isinstance(name, str):
        raise CollectionError("The file has no name.")
    base = PureWindowsPath(PurePosixPath(name).name).name  # drop any folder, either separator
    base = unicodedata.normalize("NFKC", base)
    base = "".join(ch if ch.isprintable() else "_" for ch in base)
    base = re.sub(r"[^\w.\- ()]", "_", base).strip(" .")
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower()
    if suffix not in SUFFIXES:
        raise CollectionError(f"{name!r}: not a supported type (supported: "
                              f"{', '.join(sorted(SUFFIXES))}).")
    stem = stem.strip(" .")[: MAX_NAME_CHARS - len(suffix)]
    if not stem:
        raise CollectionError(f"{name!r}: the file name is empty once cleaned.")
    return stem + suffix


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem (2).ext`` and so on if that exists: nothing is replaced."""
    path = folder / name
    stem, suffix = os.path.splitext(name)
    n = 2
    while path.exists():
        path = folder / f"{stem} ({n}){suffix}"
        n += 1
    return path


@dataclass
class Collection:
    """The live assistant and the documents folder it answers from."""

    current: Assistant
    max_upload_bytes: int = 10 * 1024 * 1024
    max_files: int = 20
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def assistant(self) -> Assistant:
        """The assistant to answer with now (take it once per question)."""
        return self.current

    @property
    def docs_dir(self) -> Path:
        return Path(self.current.settings.index.docs_dir)

    def documents(self) -> list[DocumentRow]:
        docs = self.current.index.manifest.get("documents", {})
        return [DocumentRow(doc_id, str(d.get("title", "")), str(d.get("kind", "")),
                            int(d.get("passages", 0)), int(d.get("kept_chars", 0)),
                            int(d.get("dropped_chars", 0))) for doc_id, d in sorted(docs.items())]

    def add(self, files: Sequence[tuple[str, Path]], progress: Progress | None = None) -> Change:
        """Add uploaded files, given as (name the user gave, where the upload is). Files that
        cannot be read are refused with a reason; the rest are indexed together."""
        note = progress or (lambda _f, _m: None)
        if not files:
            raise CollectionError("Choose one or more files to add.")
        if len(files) > self.max_files:
            raise CollectionError(f"At most {self.max_files} files at once ({len(files)} given).")
        started = time.perf_counter()
        limit = min(self.max_upload_bytes, self.current.settings.index.max_file_bytes)
        with self._locked():
            accepted: list[tuple[str, Path]] = []
            refused: list[tuple[str, str]] = []
            for i, (name, upload) in enumerate(files):
                note(0.05 + 0.15 * i / len(files), f"Reading {name}")
                try:
                    clean = safe_name(name)
                    _check(Path(upload), clean, limit)
                except (CollectionError, UnusableFile, OSError) as exc:
                    refused.append((str(name), str(exc).removeprefix(f"{name!r}: ")))
                    continue
                accepted.append((clean, Path(upload)))
            if not accepted:
                return Change(refused=tuple(refused), seconds=time.perf_counter() - started)
            placed: list[Path] = []
            try:
                for clean, upload in accepted:
                    placed.append(_place(upload, free_name(self.docs_dir, clean)))
                note(0.25, "Indexing the new documents")
                self._rebuild(note)
            except BaseException:
                for path in placed:
                    path.unlink(missing_ok=True)
                raise
            added = tuple(p.relative_to(self.docs_dir).as_posix() for p in placed)
            return Change(added=added, refused=tuple(refused), seconds=time.perf_counter() - started)

    def remove(self, doc_ids: Sequence[str], progress: Progress | None = None) -> Change:
        """Remove documents by id: their files move to ``.removed/`` in the documents folder."""
        note = progress or (lambda _f, _m: None)
        started = time.perf_counter()
        with self._locked():
            known = self.current.index.manifest.get("documents", {})
            unknown = [d for d in doc_ids if d not in known]
            if unknown or not doc_ids:
                raise CollectionError(f"Not in the collection: {', '.join(map(repr, unknown))}."
                                      if unknown else "Choose a document to remove.")
            if len(set(doc_ids)) >= len(known):
                raise CollectionError("The collection cannot be left empty: add a document "
                                      "before removing the last one.")
            aside = self.docs_dir / REMOVED_DIR
            moved: list[tuple[Path, Path]] = []
            try:
                for doc_id in dict.fromkeys(doc_ids):
                    source = (self.docs_dir / doc_id).resolve()
                    if not source.is_relative_to(self.docs_dir.resolve()) or not source.is_file():
                        raise CollectionError(f"{doc_id!r} is no longer a file in the folder.")
                    aside.mkdir(exist_ok=True)
                    target = free_name(aside, f"{time.strftime('%Y%m%d-%H%M%S')} "
                                              f"{source.name}")
                    os.replace(source, target)
                    moved.append((source, target))
                note(0.3, "Updating the index")
                self._rebuild(note)
            except BaseException:
                for source, target in reversed(moved):
                    os.replace(target, source)
                raise
            return Change(removed=tuple(dict.fromkeys(doc_ids)),
                          seconds=time.perf_counter() - started)

    # -- internals -------------------------------------------------------------------------
    def _locked(self) -> _TryLock:
        return _TryLock(self._lock)

    def _rebuild(self, note: Progress) -> None:
        old = self.current
        s = old.settings.index
        build_index(s, embedder=old.embedder, progress=True)
        note(0.9, "Switching to the new index")
        # just built and hashed by this process (an update hashes only what it wrote)
        self.current = old.with_index(SearchIndex.load(s, verify=False))
        note(1.0, "Done")


class _TryLock:
    """Hold the collection's lock, or refuse at once: a second change waits for nobody."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise CollectionError("Another change to the collection is running; try again "
                                  "when it has finished.")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _check(upload: Path, name: str, limit: int) -> None:
    """Refuse a file that is too large or that the loader cannot read (read as ``name``)."""
    size = upload.stat().st_size
    if size > limit:
        raise CollectionError(f"larger than the limit ({size:,} > {limit:,} bytes)")
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as tmp:
        copy = Path(tmp) / name
        shutil.copyfile(upload, copy)
        load_file(copy, name, limit)


def _place(upload: Path, target: Path) -> Path:
    """Copy an upload to ``target`` through a hidden temporary file in the same folder, so a
    concurrent build never reads half a file and ``target`` appears whole or not at all."""
    tmp = target.with_name(f".{target.name}.part")
    shutil.copyfile(upload, tmp)
    os.replace(tmp, target)
    return target


__all__ = ["Change", "Collection", "CollectionError", "DocumentRow", "safe_name"]
