"""HTML for the sources panel and chat messages. Every piece of text is escaped here."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from rag.collection import DocumentRow
from rag.types import Answer, Citation, Hit

CSS = """
.src-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; margin: 8px 0;}
.src-head {font-weight: 600; margin-bottom: 4px;}
.src-meta {color: #57606a; font-size: 0.85em; margin-bottom: 6px;}
.src-text {white-space: pre-wrap; line-height: 1.45;}
.src-text mark {background: #fff3b0; padding: 0 1px;}
.src-phrase {background: #ffd33d; font-weight: 700;}
.src-card:target {outline: 3px solid #0969da; background: #ddf4ff;}
.src-label {font-weight: 600; margin: 6px 0;}
.src-abstain {color: #9a6700;}
.src-notice {color: #9a6700; margin: 6px 0;}
.doc-table {border-collapse: collapse; width: 100%; font-size: 0.9em;}
.doc-table th, .doc-table td {border-bottom: 1px solid #d0d7de; padding: 4px 6px; text-align: left;}
.doc-table td.num {text-align: right;}
"""


def chat_text(answer: Answer) -> str:
    """The answer as shown in the chat bubble: escaped text whose citation markers link to
    their source cards, notices in italics below."""
    body = escape(answer.text)
    if answer.citations:
        body = re.sub(r"\[(\d+)\]", r'<a href="#src-\1" class="cite">[\1]</a>', body)
    for note in answer.notices:
        body += f"\n\n_{escape(note)}_"
    return body


def _highlighted(passage_text: str, start: int, marks: list[tuple[int, int]],
                 phrases: list[tuple[int, int]] | None = None) -> str:
    """Escape the passage, wrapping the cited sentences (absolute offsets) in <mark> and the
    phrases that answer the question inside them in <strong class="src-phrase">."""
    out, pos = [], 0
    for s, e in sorted(marks):
        s, e = max(s - start, pos), min(e - start, len(passage_text))
        if s >= e:
            continue
        out.append(escape(passage_text[pos:s]))
        out.append(f"<mark>{_phrased(passage_text, s, e, start, phrases or [])}</mark>")
        pos = e
    out.append(escape(passage_text[pos:]))
    return "".join(out)


def _phrased(text: str, s: int, e: int, start: int, phrases: list[tuple[int, int]]) -> str:
    for ps, pe in phrases:
        ps, pe = ps - start, pe - start
        if s <= ps < pe <= e:
            return (escape(text[s:ps]) + f'<strong class="src-phrase">{escape(text[ps:pe])}</strong>'
                    + escape(text[pe:e]))
    return escape(text[s:e])


def _card(label: str, hit_or_cite: Citation | Hit, marks: list[tuple[int, int]],
          phrases: list[tuple[int, int]] | None = None, anchor: str = "") -> str:
    p = hit_or_cite.passage
    author = f" · {escape(p.author)}" if p.author else ""
    attr = f' id="{escape(anchor)}"' if anchor else ""
    page = hit_or_cite.page if isinstance(hit_or_cite, Citation) else p.page
    where = (f" · page {page}" if page else "") + (f" · {escape(p.section)}" if p.section else "")
    return (
        f'<div class="src-card"{attr}>'
        f'<div class="src-head">{escape(label)} {escape(p.title)}</div>'
        f'<div class="src-meta">{escape(p.doc_id)}{author}{where} · characters {p.start}–{p.end}</div>'
        f'<div class="src-text">{_highlighted(p.text, p.start, marks, phrases or [])}</div></div>'
    )


def sources_html(answer: Answer | None) -> str:
    if answer is None:
        return '<div class="src-label">Sources appear here after an answer.</div>'
    parts = [f'<div class="src-notice">{escape(n)}</div>' for n in answer.notices]
    if answer.abstained or not answer.citations:
        parts.append('<div class="src-label src-abstain">Related reading — these passages do '
                     "not contain the answer:</div>")
        for h in answer.hits[:3]:
            parts.append(_card(f"#{h.rank}", h, []))
        return "".join(parts)
    parts.append('<div class="src-label">Sources cited in the answer:</div>')
    by_marker: dict[int, list[Citation]] = {}
    for c in answer.citations:
        by_marker.setdefault(c.marker, []).append(c)
    for marker, cites in sorted(by_marker.items()):
        marks = [(c.sentence_start, c.sentence_end) for c in cites]
        if cites[0].sentence_start == cites[0].passage.start and (
                cites[0].sentence_end == cites[0].passage.end):
            marks = []  # LLM citations point at whole passages
        phrases = [c.phrase for c in cites if c.phrase is not None]
        parts.append(_card(f"[{marker}]", cites[0], marks, phrases, anchor=f"src-{marker}"))
    return "".join(parts)


def collection_html(rows: list[DocumentRow], read_only: bool = False) -> str:
    """What the collection holds: one row per document, with what cleaning dropped."""
    if not rows:
        return '<div class="src-label">The collection is empty.</div>'
    total = sum(r.passages for r in rows)
    head = (f'<div class="src-label">{len(rows)} document{"s" if len(rows) != 1 else ""}, '
            f"{total:,} passages{' (read-only)' if read_only else ''}</div>")
    body = "".join(
        f"<tr><td>{escape(r.doc_id)}</td><td>{escape(r.title)}</td><td>{escape(r.kind)}</td>"
        f'<td class="num">{r.passages:,}</td><td class="num">{r.kept_chars:,}</td>'
        f'<td class="num">{r.dropped_chars:,}</td></tr>' for r in rows)
    return (head + '<table class="doc-table"><thead><tr><th>Document</th><th>Title</th>'
            "<th>Type</th><th>Passages</th><th>Characters kept</th><th>Dropped by cleaning"
            f"</th></tr></thead><tbody>{body}</tbody></table>")


def conversation_markdown(records: list[dict[str, Any]]) -> str:
    """The conversation as Markdown: each question, its answer and the sentences it cites."""
    out = ["# Conversation with the document assistant", ""]
    for r in records:
        out += [f"**Question:** {_md(str(r.get('question', '')))}", "",
                f"**Answer:** {_md(str(r.get('answer', '')))}", ""]
        for c in r.get("sources", []):
            where = f"{c.get('doc_id', '')}" + (f", page {c['page']}" if c.get("page") else "") + (
                f", {c['section']}" if c.get("section") else "")
            out.append(f"- [{c.get('marker')}] {_md(str(c.get('title', '')))} ({_md(where)}): "
                       f"“{_md(str(c.get('sentence', '')))}”")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    """Text safe inside a Markdown line: no HTML, no line breaks that start new blocks."""
    return escape(" ".join(text.split()), quote=False)
