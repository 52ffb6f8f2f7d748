"""Text out of PDF and Word files, with where each page (PDF) or heading (Word) starts.

The extracted text is what the index keeps and what every offset refers to, so a cited
sentence is a verbatim slice of it (``rag index show DOC`` prints it). Unusable files raise
``UnusableFile`` with the reason: encrypted, no text layer (a scan), damaged.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)


class UnusableFile(Exception):
    """A file that cannot be indexed; the message is the reason."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str = ""
    author: str = ""
    pages: tuple[int, ...] = ()  # offset where each page starts (page n is pages[n - 1])
    headings: tuple[tuple[int, str], ...] = ()  # (offset, heading text), in order


def _tidy(text: str) -> str:
    """Page text as paragraphs: trailing spaces off, runs of blank lines to one."""
    text = re.sub(r"[ \t]+\n", "\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def pdf_text(data: bytes) -> Extracted:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - pypdf is a dependency
        raise UnusableFile("PDF support needs pypdf (pip install pypdf)") from exc
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # noqa: BLE001 - any failure: cannot open
                raise UnusableFile(f"encrypted PDF that cannot be opened ({exc})") from exc
            if not opened:
                raise UnusableFile("encrypted PDF (it needs a password); save an unencrypted copy")
        texts = [_tidy(page.extract_text() or "") for page in reader.pages]
        meta = reader.metadata or {}
        title = str(meta.get("/Title") or "").strip()
        author = str(meta.get("/Author") or "").strip()
    except UnusableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnusableFile(f"damaged or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on bad input
        raise UnusableFile(f"damaged or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if not any(t.strip() for t in texts):
        raise UnusableFile(f"no text layer in {len(texts)} page(s): a scanned PDF? "
                           "Run OCR on it first")
    parts, pages, pos = [], [], 0
    for t in texts:
        pages.append(pos)
        parts.append(t)
        pos += len(t) + 2
    return Extracted("\n\n".join(parts), title, author, tuple(pages))


def docx_text(data: bytes) -> Extracted:
    try:
        import docx
        from docx.table import Table
    except ImportError as exc:  # pragma: no cover - python-docx is a dependency
        raise UnusableFile("Word support needs python-docx (pip install python-docx)") from exc
    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[tuple[str, bool]] = []  # (text, is heading)
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                    if cells:
                        blocks.append((" | ".join(cells), False))
                continue
            text = block.text.strip()
            style = (block.style.name if block.style is not None else "") or ""
            if text:
                blocks.append((text, style.startswith(("Heading", "Title"))))
        props = document.core_properties
        title, author = (props.title or "").strip(), (props.author or "").strip()
    except Exception as exc:  # noqa: BLE001 - zip, XML and docx errors alike
        raise UnusableFile(f"damaged or unreadable Word file ({type(exc).__name__}: {exc})") from exc
    if not blocks:
        raise UnusableFile("no text in the Word file")
    parts, headings, pos = [], [], 0
    for text, heading in blocks:
        if heading:
            headings.append((pos, text))
        parts.append(text)
        pos += len(text) + 2
    return Extracted("\n\n".join(parts), title, author, headings=tuple(headings))


MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def markdown_headings(text: str) -> tuple[tuple[int, str], ...]:
    return tuple((m.start(), m.group(1).strip()) for m in MD_HEADING.finditer(text))
