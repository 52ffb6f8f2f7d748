"""Near-duplicate passages (overlapping windows, repeated paragraphs) are shown once."""

from __future__ import annotations

import re


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """True when most words of the shorter text are in the other."""
    return _overlapping(_tokens(a), _tokens(b), threshold)


def _overlapping(ta: set[str], tb: set[str], threshold: float = 0.8) -> bool:
    if not ta or not tb:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= threshold


def first_distinct(rows: list[int], text_of: dict[int, str] | list[str], k: int) -> list[int]:
    """The first ``k`` rows whose text is no near-duplicate of an earlier kept row (each
    row's words taken once)."""
    kept: list[tuple[int, set[str]]] = []
    for i in rows:
        words = _tokens(text_of[i])
        if any(_overlapping(words, other) for _, other in kept):
            continue
        kept.append((i, words))
        if len(kept) >= k:
            break
    return [i for i, _ in kept]
