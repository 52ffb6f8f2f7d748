"""The on-disk index: versioned directories behind an atomically replaced CURRENT pointer.

    index_dir/CURRENT        name of the live version directory
    index_dir/v-…/manifest.json, passages.jsonl, vectors.npy, sentences.npy, dense.faiss, bm25/
    index_dir/v-…/delta/      documents added since the base was built (index.delta), if any

An update that only adds documents to a large index hard-links the base files of the live
version into the new one and writes only the delta.

A build writes a new version in a temporary directory, renames it into place, then replaces
CURRENT (os.replace is atomic), so a crash at any moment leaves the previous index live.
No pickle anywhere: JSON, JSON lines, .npy with allow_pickle=False, FAISS's own format.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound, build_hint, rebuild_hint
from index.rowfile import RowFile, rows_of
from index.types import Passage

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: the BM25 analyser is saved (bm25/analyzer.json)
DELTA_FORMAT_VERSION = 3  # 3: format 2 with a delta segment (index.delta)
READABLE_FORMATS = (FORMAT_VERSION, DELTA_FORMAT_VERSION)
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
DATA_FILES = ("passages.jsonl", "vectors.npy", "sentences.npy", "dense.faiss")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def live_version(index_dir: Path) -> Path:
    """The directory of the live index version, or an IndexNotFound that says how to build."""
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():
        return index_dir
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexNotFound(f"No index at {index_dir}.", build_hint(index_dir))
    name = pointer.read_text(encoding="utf-8").strip()
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} is damaged.", rebuild_hint(index_dir))
    version = index_dir / name
    if not (version / MANIFEST).is_file():
        raise IndexCorrupt(f"{pointer} names {name}, which is missing.", rebuild_hint(index_dir))
    return version


def read_manifest(version: Path, index_dir: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"{version / MANIFEST} is unreadable ({exc}).", rebuild_hint(index_dir)) from exc
    if not isinstance(manifest, dict) or "format_version" not in manifest:
        raise IndexCorrupt(f"{version / MANIFEST} is not an index manifest.", rebuild_hint(index_dir))
    if manifest["format_version"] not in READABLE_FORMATS:
        raise IndexMismatch(
            f"The index at {index_dir} has format {manifest['format_version']}, this program "
            f"reads formats {' and '.join(map(str, READABLE_FORMATS))}.", rebuild_hint(index_dir))
    for key in ("model", "settings", "documents", "files", "count"):
        if key not in manifest:
            raise IndexCorrupt(f"{version / MANIFEST} lacks '{key}'.", rebuild_hint(index_dir))
    return manifest


def verify_files(version: Path, manifest: dict[str, Any], index_dir: Path) -> None:
    """Every file the manifest lists exists and has the recorded SHA-256."""
    for rel, digest in manifest["files"].items():
        path = version / rel
        if not path.is_file():
            raise IndexCorrupt(f"Index file {path} is missing.", rebuild_hint(index_dir))
        if file_sha256(path) != digest:
            raise IndexCorrupt(f"Index file {path} is damaged (checksum differs).",
                               rebuild_hint(index_dir))


def read_passages(path: Path, index_dir: Path) -> list[Passage]:
    passages = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    passages.append(Passage.from_json(json.loads(line)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{path} is unreadable ({exc}).", rebuild_hint(index_dir)) from exc
    return passages


def load_rows(path: Path, index_dir: Path, in_memory_below: int) -> np.ndarray | RowFile:
    """A saved matrix, in memory below ``in_memory_below`` rows, else read by rows on demand
    (index.rowfile)."""
    try:
        return rows_of(path, in_memory_below)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is unreadable ({exc}).", rebuild_hint(index_dir)) from exc


class VersionWriter:
    """Writes one new version into a temporary directory, then publishes it atomically."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = self.index_dir / f".tmp-{uuid.uuid4().hex[:12]}"
        self.tmp.mkdir()

        self.linked: dict[str, str] = {}  # files of the live version, by their recorded hash
        self.copied: set[str] = set()  # those of them copied (no hard links): to be synced

    def write_passages(self, passages: list[Passage], name: str = "passages.jsonl") -> None:
        (self.tmp / name).parent.mkdir(parents=True, exist_ok=True)
        with open(self.tmp / name, "w", encoding="utf-8") as f:
            for p in passages:
                f.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")

    def write_array(self, name: str, array: np.ndarray) -> None:
        (self.tmp / name).parent.mkdir(parents=True, exist_ok=True)
        np.save(self.tmp / name, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)

    def link(self, version: Path, files: dict[str, str]) -> None:
        """Carry files of the live ``version`` (name: recorded SHA-256) into the new one
        unread: hard links where the file system has them, else copies. Versions never write
        into a file once published, so sharing one is safe."""
        for rel, digest in files.items():
            target = self.tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(version / rel, target)
            except OSError:
                if not self.copied:
                    log.warning("no hard links in %s: copying the index's files instead",
                                self.index_dir)
                shutil.copy2(version / rel, target)
                self.copied.add(rel)
            self.linked[rel] = digest

    def publish(self, manifest: dict[str, Any]) -> Path:
        files = {}
        for path in sorted(self.tmp.rglob("*")):
            if path.is_file():
                rel = path.relative_to(self.tmp).as_posix()
                if rel in self.linked:  # already on disk and hashed in the live version
                    files[rel] = self.linked[rel]
                    if rel in self.copied:
                        _fsync_file(path)
                    continue
                _fsync_file(path)
                files[rel] = file_sha256(path)
        # a version with a delta segment is format 3, so a program that predates it says so
        # instead of finding the counts wrong
        fmt = DELTA_FORMAT_VERSION if manifest.get("delta") else FORMAT_VERSION
        manifest = {**manifest, "format_version": fmt, "files": files}
        # compact: json's C encoder runs only without indent; with it, the manifest of a
        # 100,000-document collection took 4.5 s to write on every update (index.store)
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, separators=(",", ":")),
                                         encoding="utf-8")
        _fsync_file(self.tmp / MANIFEST)
        name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        final = self.index_dir / name
        os.rename(self.tmp, final)
        pointer_tmp = self.index_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        _fsync_file(pointer_tmp)
        os.replace(pointer_tmp, self.index_dir / CURRENT)
        _fsync_dir(self.index_dir)
        remove_stale(self.index_dir, keep=name)
        return final

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def remove_stale(index_dir: Path, keep: str) -> None:
    """Old versions and leftovers of interrupted builds."""
    for child in index_dir.iterdir():
        if child.name == keep or child.name in (CURRENT, ".lock"):
            continue
        if child.is_dir() and (child.name.startswith("v-") or child.name.startswith(".tmp-")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name.startswith(f".{CURRENT}."):
            child.unlink(missing_ok=True)


def check_compatible(manifest: dict[str, Any], model: dict[str, Any], settings: dict[str, Any],
                     index_dir: Path | str) -> None:
    built = manifest["model"]
    if built.get("sha256") != model.get("sha256"):
        raise IndexMismatch(
            f"The index at {index_dir} was built with the model '{built.get('name')}' "
            f"({built.get('path')}), not the configured '{model.get('name')}'.",
            rebuild_hint(index_dir))
    if manifest["settings"] != settings:
        was = manifest["settings"]
        diff = {k: (was.get(k), settings.get(k)) for k in sorted(set(was) | set(settings))
                if was.get(k) != settings.get(k)}
        rules = diff.pop("text_rules", None)
        why = ([f"other settings {diff} (built, now)"] if diff else []) + (
            [f"version {rules[0] or 1} of the rules for cutting text into passages (now {rules[1]})"]
            if rules else [])
        raise IndexMismatch(
            f"The index at {index_dir} was built with {' and '.join(why)}.", rebuild_hint(index_dir))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync_file(path)
    except OSError:
        pass
