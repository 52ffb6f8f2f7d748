"""Answer and retrieval metrics, with the normalisation of evals/SCHEMA (shared)."""

from __future__ import annotations

import math
import re
from collections import Counter

from rag.text import without_markers

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def normalize(text: str) -> str:
    """Lower-case, curly quotes straightened, punctuation removed, whitespace folded."""
    text = text.translate(_QUOTES).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def contains_answer(answer: str, golds: list[str]) -> bool:
    a = normalize(without_markers(answer))
    return any(normalize(g) in a for g in golds if normalize(g))


def covers(passage: str, evidence: list[str]) -> bool:
    p = normalize(passage)
    return any(normalize(e) in p for e in evidence if normalize(e))


def token_f1(prediction: str, reference: str) -> float:
    p = normalize(without_markers(prediction)).split()
    r = normalize(reference).split()
    common = sum((Counter(p) & Counter(r)).values())
    if not p or not r or not common:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def ndcg_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    rel = {d for d, r in relevant.items() if r > 0}
    return len(rel & set(ranked[:k])) / len(rel) if rel else 0.0


def mrr_at_k(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0
