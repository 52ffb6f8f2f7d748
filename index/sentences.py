"""Sentence boundaries with character offsets, aware of abbreviations and initials."""

from __future__ import annotations

import re

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "pres", "rev", "hon", "no", "vs", "etc", "e.g", "i.e", "cf", "al",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "u.s", "u.k", "u.n", "e.u", "inc", "ltd", "co", "corp", "dept", "fig", "approx", "est",
    "ph.d", "a.m", "p.m",
}
# a candidate boundary: terminal punctuation, optional closing quotes/brackets and footnote
# markers ("supplies.[h]", "in 1998.[12]"), then space
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?:\[\w{1,4}\])*(?=\s+|$)")
_NEXT_START = re.compile(r"\s+([\"'“‘(\[]*)(\S)")
# Mr, Dr, Sgt, Pfc, Cpl, Blvd: English words need a vowel (or y), so a capitalised word
# without one before a full stop is an abbreviation, listed above or not
_VOWELLESS_TITLE = re.compile(r"[B-DF-HJ-NP-TV-XZ][b-df-hj-np-tv-xz]{1,3}")


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Spans (start, end) of the sentences in ``text``, shifted by ``offset``.

    Line breaks that separate blocks (a blank line) always end a sentence.
    """
    spans: list[tuple[int, int]] = []
    for block in re.finditer(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*$)", text, flags=re.S):
        spans.extend(_split_block(text, block.start(), block.end()))
    return [(s + offset, e + offset) for s, e in spans]


def _split_block(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    cur = start
    for m in _BOUNDARY.finditer(text, start, end):
        stop = m.end()
        if stop >= end:
            break
        if not _is_boundary(text, m.start(), stop, end):
            continue
        nxt = _NEXT_START.match(text, stop, end)
        if nxt is None:
            continue
        spans.append((cur, stop))
        cur = nxt.start(1)
    if cur < end:
        spans.append((cur, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _is_boundary(text: str, punct_start: int, stop: int, end: int) -> bool:
    nxt = _NEXT_START.match(text, stop, end)
    if nxt is None:
        return False
    following = nxt.group(2)
    closed = stop - punct_start > 1 and text[stop - 1] in "\"'”’)]"
    if text[punct_start] == "." and not closed:
        word = re.search(r"([\w.]+)$", text[max(0, punct_start - 12) : punct_start])
        token = word.group(1).lower() if word else ""
        if token == "no":
            return not following.isdigit()
        if token in _ABBREV:
            return following.isupper() and token in {"etc", "u.s", "u.k", "u.n", "inc", "ltd"} and (
                _looks_like_sentence_start(text, nxt.start(2), end)
            )
        if word is not None and _VOWELLESS_TITLE.fullmatch(word.group(1)):
            return False  # a title-case word without vowels is abbreviated: "Pfc. Holmes"
        if re.fullmatch(r"[a-z]", token) and word is not None and word.group(1).isupper():
            return False  # an initial: "Ada B. Lovelace"
        if len(token) == 1 and token.isalpha():
            return False
    return following.isupper() or following.isdigit() or not following.isalnum()


_STARTERS = {
    "the", "a", "an", "but", "and", "in", "it", "this", "that", "he", "she", "they", "we",
    "i", "there", "as", "at", "on", "for", "if", "so", "yet", "while", "after", "before",
}


def _looks_like_sentence_start(text: str, pos: int, end: int) -> bool:
    m = re.match(r"\w+", text[pos:end])
    return bool(m) and m.group(0).lower() in _STARTERS
