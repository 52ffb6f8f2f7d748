"""What a build records and reports about each document: its passages as the settings cut
them, its manifest entry and its report line (shared by full builds, updates and the delta
segment: index.delta)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.clean import CleanResult, clean_text
from index.settings import IndexSettings
from index.split import make_passages
from index.types import Document, Passage


@dataclass(frozen=True)
class DocReport:
    doc_id: str
    status: str  # new, changed, unchanged
    passages: int
    kept_chars: int
    dropped_chars: int
    kept_units: int
    dropped_units: int
    dropped_by_reason: dict[str, int]
    title: str
    author: str


def split_document(doc: Document, cleaned: CleanResult, count: Any,
                   settings: IndexSettings) -> list[Passage]:
    """A document's passages as the settings cut them (builds and embedding jobs alike)."""
    return make_passages(doc, cleaned, count, settings.max_passage_tokens,
                         settings.min_passage_tokens, settings.overlap_sentences)


def clean_document(doc: Document, enabled: bool = True) -> CleanResult:
    if enabled:
        return clean_text(doc.text)
    from index.clean import units_of

    units = units_of(doc.text)
    return CleanResult(kept=list(units), dropped=[], sections=[list(units)] if units else [])


def doc_entry(doc: Document, cleaned: CleanResult, n: int) -> dict[str, Any]:
    return {"sha256": doc.sha256, "title": doc.title, "author": doc.author, "kind": doc.kind,
            "passages": n, "kept_chars": cleaned.kept_chars(), "dropped_chars": cleaned.dropped_chars(),
            "kept_units": len(cleaned.kept), "dropped_units": len(cleaned.dropped),
            "dropped_by_reason": cleaned.dropped_by_reason(), "path": Path(doc.path).name,
            "size": doc.size, "mtime_ns": doc.mtime_ns, "read_ns": doc.read_ns}


CLEANING_FIGURES = ("kept_chars", "dropped_chars", "kept_units", "dropped_units", "dropped_by_reason")


def unchanged_entry(doc: Document, old: dict[str, Any], n: int
                     ) -> tuple[dict[str, Any] | None, DocReport | None]:
    """An unchanged document's manifest entry and report from the live manifest, without
    cleaning it again (a tenth of an update's time at 100,000 passages); (None, None) when the
    manifest predates these figures."""
    if not all(k in old for k in CLEANING_FIGURES):
        return None, None
    entry = {**old, "title": doc.title, "author": doc.author, "kind": doc.kind, "passages": n,
             "path": Path(doc.path).name, "size": doc.size, "mtime_ns": doc.mtime_ns,
             "read_ns": doc.read_ns}
    return entry, DocReport(doc.doc_id, "unchanged", n, int(old["kept_chars"]),
                            int(old["dropped_chars"]), int(old["kept_units"]),
                            int(old["dropped_units"]), dict(old["dropped_by_reason"]),
                            doc.title, doc.author)


def doc_report(doc: Document, cleaned: CleanResult, status: str, n: int) -> DocReport:
    return DocReport(doc.doc_id, status, n, cleaned.kept_chars(), cleaned.dropped_chars(),
                     len(cleaned.kept), len(cleaned.dropped), cleaned.dropped_by_reason(),
                     doc.title, doc.author)
