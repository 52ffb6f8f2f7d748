"""Near-duplicate passages (overlapping windows, repeated paragraphs) are shown once."""

from __future__ import annotations

import re


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """True when most words of the shorter text are in the other."""
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= threshold


def first_distinct(rows: list[int], text_of: dict[int, str] | list[str], k: int) -> list[int]:
    """The first ``k`` rows whose text is no near-duplicate of an earlier kept row."""
    kept: list[int] = []
    for i in rows:
        if any(near_duplicate(text_of[i], text_of[j]) for j in kept):
            continue
        kept.append(i)
        if len(kept) >= k:
            break
    return kept
