"""Core value types of the index: documents and passages."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A loaded source document.

    ``text`` is the text that all offsets refer to: the decoded file for .txt and .md,
    the extracted text for .html.
    """

    doc_id: str
    path: str
    text: str
    sha256: str
    kind: str
    title: str = ""
    author: str = ""
    pages: tuple[int, ...] = ()  # PDF: offset in ``text`` where each page starts
    headings: tuple[tuple[int, str], ...] = ()  # Word, Markdown: (offset, heading)
    size: int = 0  # bytes and modification time of the file when it was read
    mtime_ns: int = 0
    read_ns: int = 0  # when it was read (wall clock, ns)

    def locate(self, offset: int) -> tuple[int | None, str]:
        """The page (1-based, PDF) and the nearest heading before ``offset``."""
        page = bisect_right(self.pages, offset) if self.pages else None
        i = bisect_right([h[0] for h in self.headings], offset)
        return page, (self.headings[i - 1][1] if i else "")

    def page_breaks(self, start: int, end: int) -> tuple[tuple[int, int], ...]:
        """(offset, page) of the page holding ``start`` and of each page starting before ``end``."""
        if not self.pages:
            return ()
        first = bisect_right(self.pages, start)
        inside = [(off, i + 1) for i, off in enumerate(self.pages) if start < off < end]
        return ((start, first), *inside)


@dataclass(frozen=True, slots=True)  # slots: a million passages are held in memory
class Passage:
    """A retrievable unit: ``text == document.text[start:end]``."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    title: str = ""
    author: str = ""
    # absolute (start, end) offsets of each sentence of the passage in the document text
    sentences: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    # PDF: (offset, page number) of the page the passage starts on and of each page that
    # starts inside it; page_at() gives the page of any offset in the passage
    pages: tuple[tuple[int, int], ...] = ()
    section: str = ""  # nearest heading before the passage (Word, Markdown)

    @property
    def page(self) -> int | None:
        return self.pages[0][1] if self.pages else None

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.pages:
            if start > offset:
                break
            page = number
        return page if page is not None else self.page

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "author": self.author,
            "sentences": [list(s) for s in self.sentences],
            "pages": [list(p) for p in self.pages],
            "section": self.section,
        }

    @classmethod
    def from_json(cls, row: dict[str, object]) -> Passage:
        sents = row.get("sentences") or []
        return cls(
            id=str(row["id"]),
            doc_id=str(row["doc_id"]),
            text=str(row["text"]),
            start=int(row["start"]),  # type: ignore[arg-type]
            end=int(row["end"]),  # type: ignore[arg-type]
            title=str(row.get("title", "")),
            author=str(row.get("author", "")),
            sentences=tuple((int(a), int(b)) for a, b in sents),  # type: ignore[union-attr,misc]
            pages=tuple((int(a), int(b)) for a, b in row.get("pages") or []),  # type: ignore[union-attr,misc]
            section=str(row.get("section") or ""),
        )

    def sentence_texts(self) -> list[tuple[int, int, str]]:
        """(start, end, text) of each sentence, offsets absolute in the document."""
        return [(s, e, self.text[s - self.start : e - self.start]) for s, e in self.sentences]


def indexed_text(p: Passage, title_context: bool) -> str:
    """What is embedded and BM25-indexed for a passage."""
    if title_context and p.title and not p.text.startswith(p.title):
        return f"{p.title}\n{p.text}"
    return p.text


def passage_id(doc_id: str, start: int, end: int, text: str) -> str:
    """Stable id: a hash of the document id, the span and the text."""
    h = hashlib.sha256(f"{doc_id}\x00{start}\x00{end}\x00{text}".encode())
    return h.hexdigest()[:16]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
