"""Candidate answer sentences and the features the learned scorer reads.

Every sentence of the top passages is a candidate. Its features are cheap to compute from what
the index already holds (sentence vectors, the BM25 analyser and its idf table): meaning
(cosines), words (idf-weighted overlap with the question and the conversation, question words
the sentence or its passage lacks), the passage's retrieval rank, the sentence's shape and
position, and whether it offers the kind of fact the question asks for. The learned scorer
(rag.scorer) turns them into probabilities; no weight here is set by hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from index.bm25 import idf_table
from index.search import SearchIndex
from rag.qtype import KINDS, expected_kind, offers
from rag.text import without_markers
from rag.types import Hit

BACK_REFERENCE = re.compile(
    r"^[\"“‘']?(this|that|these|those|it|such|but|however|yet|still|thus|hence|therefore|so|"
    r"for this reason|as a result|in other words|in turn|indeed|he|she|they|his|her|their)\b", re.I)
_WORD = re.compile(r"\w+")

READER_FEATURES = ("reader", "reader_to_max", "reader_logp")  # missing without a reader
SENTENCE_FEATURES = [
    "cos", "cos_gap", "cos_rank", "cos_passage", "lex", "lex_ctx", "bigram", "lex_passage",
    "miss_max", "miss_sum", "miss_passage_max", "inv_rank", "fused", "novelty", "log_words",
    "is_title", "sent_pos", "offers", "new_caps", "has_number", "said", "subject", "back_ref",
    "follow_up", "q_terms", "q_unknown", "prev_lex", "next_lex", "prev_cos", "next_cos",
    *[f"kind_{k}" for k in KINDS], *[f"offers_{k}" for k in KINDS],
    # each relative to the question's other candidates: gap to the best and to the worst
    *[f"{name}_{side}" for name in ("lex", "bigram", "miss_max", "miss_sum", "lex_passage", "fused",
                                     "lex_ctx", "new_caps") for side in ("to_max", "to_min")],
    # where the last answer of the conversation is: this sentence holds it (or is held by it),
    # and the signed distance in characters / 100 to the nearest sentence that does (NaN when
    # no candidate of the same document does). Follow-ups tend to ask about what comes next.
    "last_here", "last_dist",
    # the reader's logit (rag.reader), its gap to the question's best, and its log-probability
    # in a softmax over the sentences read plus a "none of them" option at logit 0 (the
    # listwise loss the reader is trained with); NaN where it did not read the sentence
    # (outside its top, or no reader)
    *READER_FEATURES,
]
RELATIVE = ("lex", "bigram", "miss_max", "miss_sum", "lex_passage", "fused", "lex_ctx", "new_caps")
QUESTION_FEATURES = [
    "p1", "p2", "p_gap", "p_sum", "cos_max", "lex_best", "miss_max_best", "miss_passage_best",
    "miss_passage_min", "lex_max", "offers_best", "offers_any_top3", "q_terms", "q_unknown",
    "q_unknown_max", "top_fused", "follow_up", *[f"kind_{k}" for k in KINDS],
    # the reader's best logit and its gap to the second; the log-probability of "none" in the
    # softmax of reader_logp, and that of the sentence the scorer ranks first (-10 when the
    # reader read others but not it)
    "reader_max", "reader_gap", "reader_none", "reader_best_logp",
]


@dataclass
class Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    features: np.ndarray = field(repr=False)
    prob: float = 0.0


def squash(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class SentenceText:
    """What the features need of a sentence's text alone, whatever the question: worked out
    once per sentence text and kept (CandidateBuilder.sentence)."""

    terms: frozenset[str]        # its BM25 terms
    bigrams: frozenset[tuple[str, str]]
    words: tuple[str, ...]       # its words of three letters or more, lower-cased
    caps: tuple[str, ...]        # capitalised words not opening a sentence
    squashed: str
    log_words: float
    is_title: float
    has_number: float
    back_ref: float
    subject: str

    @classmethod
    def of(cls, text: str, analyze: Callable[[str], list[str]], first: bool) -> SentenceText:
        seq = analyze(text)
        return cls(frozenset(seq), frozenset(zip(seq, seq[1:], strict=False)),
                   tuple(w for w in _WORD.findall(text.lower()) if len(w) > 2),
                   tuple(re.findall(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'-]*", text)), squash(text),
                   math.log1p(len(text.split())),
                   float(first or not re.search(r"[.!?…][\"'”’)\]]*$", text.strip())),
                   float(bool(re.search(r"\d", text))), float(bool(BACK_REFERENCE.match(text))),
                   _subject(text))


class CandidateBuilder:
    """Candidate sentences of the top passages, with features, for one question. What a
    sentence's or passage's text alone gives is kept for the next questions, by text (at most
    ``cache_size`` sentences, about 5 KB each): the seed dev set's candidates took 2.9 ms an
    answer to build without it."""

    def __init__(self, index: SearchIndex, embedder: object, passages: int = 5,
                 cache_size: int = 5_000) -> None:
        self.index = index
        self.embedder = embedder
        self.passages = passages
        self._vocab, self._idf = idf_table(index.bm25)
        self._max_idf = float(self._idf.max()) if len(self._idf) else 1.0
        analyze = index.bm25.analyze
        # the question-free part of a sentence's features, and a passage's BM25 terms, by text
        # (and whether the sentence opens its document); least recently used dropped first
        self.sentence = lru_cache(maxsize=cache_size)(
            lambda text, first: SentenceText.of(text, analyze, first))
        self.passage_terms = lru_cache(maxsize=cache_size)(
            lambda text: frozenset(analyze(text)))

    def _weights(self, terms: list[str]) -> dict[str, float]:
        return {t: float(self._idf[self._vocab[t]]) if t in self._vocab else self._max_idf
                for t in dict.fromkeys(terms)}

    def build(self, question: str, qvec: np.ndarray, hits: list[Hit], context: str = "",
              focus: str | None = None, said: tuple[str, ...] = ()) -> list[Candidate]:
        analyze = self.index.bm25.analyze
        qterms = analyze(question)
        qbigrams = set(zip(qterms, qterms[1:], strict=False))
        qw = self._weights(qterms)
        cw = {t: w for t, w in self._weights(analyze(context)).items() if t not in qw}
        total_q = sum(qw.values()) or 1.0
        total_c = sum(cw.values()) or 1.0
        unknown = [t for t in qw if t not in self._vocab]
        kind = expected_kind(question)
        qwords = {w for w in _WORD.findall(question.lower())}
        subjects = {focus.split()[-1].lower()} if focus else set()
        earlier = [squash(t) for t in said]
        top_score = hits[0].score if hits and hits[0].score > 0 else 1.0
        rows: list[tuple[Hit, int, int, str, list[float]]] = []
        neighbours: list[tuple[int | None, int | None]] = []  # rows of the sentences before/after
        seen: set[tuple[str, int]] = set()
        for hit in hits[: self.passages]:
            p = hit.passage
            vecs = self.index.sentence_vectors_of(p)
            sents = p.sentence_texts()
            if vecs is None:
                vecs = self.embedder.encode_documents([t for _, _, t in sents])  # type: ignore[attr-defined]
            sims = vecs @ qvec
            row = self.index.row_of(p.id)
            cos_passage = float(self.index.vectors[row] @ qvec) if row is not None else float(np.max(sims))
            pterms = self.passage_terms(p.text)
            lex_passage = sum(w for t, w in qw.items() if t in pterms) / total_q
            missing_p = [w for t, w in qw.items() if t not in pterms]
            previous_row: int | None = None
            for n, ((s, e, text), sim) in enumerate(zip(sents, sims, strict=True)):
                if (p.doc_id, s) in seen:
                    previous_row = None
                    continue
                seen.add((p.doc_id, s))
                if previous_row is not None:
                    neighbours[previous_row] = (neighbours[previous_row][0], len(rows))
                neighbours.append((previous_row, None))
                previous_row = len(rows)
                st = self.sentence(text, s == 0)
                terms = st.terms
                missing = [w for t, w in qw.items() if t not in terms]
                bigram = len(qbigrams & st.bigrams) / len(qbigrams) if qbigrams else 0.0
                words = st.words
                new = sum(1 for w in words if w not in qwords) / len(words) if words else 0.0
                caps = [w for w in st.caps if w.lower() not in qwords]
                squashed = st.squashed
                feats = {
                    "cos": float(sim),
                    "cos_passage": cos_passage,
                    "lex": sum(w for t, w in qw.items() if t in terms) / total_q,
                    "lex_ctx": sum(w for t, w in cw.items() if t in terms) / total_c if cw else 0.0,
                    "bigram": bigram,
                    "lex_passage": lex_passage,
                    "miss_max": max(missing, default=0.0) / self._max_idf,
                    "miss_sum": sum(missing) / total_q,
                    "miss_passage_max": max(missing_p, default=0.0) / self._max_idf,
                    "inv_rank": 1.0 / hit.rank,
                    "fused": hit.score / top_score,
                    "novelty": new,
                    "log_words": st.log_words,
                    "is_title": st.is_title,
                    "sent_pos": n / max(1, len(sents) - 1),
                    "offers": float(offers(kind, text, question)) if kind else 0.0,
                    "new_caps": min(len(caps), 5) / 5,
                    "has_number": st.has_number,
                    "said": float(bool(earlier and squashed and any(squashed in t for t in earlier))),
                    "subject": float(bool(subjects) and st.subject in subjects),
                    "back_ref": st.back_ref,
                    "follow_up": float(bool(context)),
                    "q_terms": math.log1p(len(qw)),
                    "q_unknown": len(unknown) / max(1, len(qw)),
                }
                rows.append((hit, s, e, text, [feats.get(name, 0.0) for name in SENTENCE_FEATURES]))
        if not rows:
            return []
        matrix = np.asarray([r[4] for r in rows], dtype=np.float32)
        col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
        cos = matrix[:, col["cos"]]
        matrix[:, col["cos_gap"]] = cos - cos.max()
        order = np.argsort(-cos, kind="stable")
        ranks = np.empty(len(cos), dtype=np.float32)
        ranks[order] = np.arange(len(cos), dtype=np.float32)
        matrix[:, col["cos_rank"]] = 1.0 / (1.0 + ranks)
        lex, cosv = matrix[:, col["lex"]].copy(), matrix[:, col["cos"]].copy()
        for i, (before, after) in enumerate(neighbours):
            if before is not None:
                matrix[i, col["prev_lex"]], matrix[i, col["prev_cos"]] = lex[before], cosv[before]
            if after is not None:
                matrix[i, col["next_lex"]], matrix[i, col["next_cos"]] = lex[after], cosv[after]
        for name in RELATIVE:
            v = matrix[:, col[name]]
            matrix[:, col[f"{name}_to_max"]] = v - v.max()
            matrix[:, col[f"{name}_to_min"]] = v - v.min()
        for k in KINDS:
            if kind == k:
                matrix[:, col[f"kind_{k}"]] = 1.0
                matrix[:, col[f"offers_{k}"]] = matrix[:, col["offers"]]
        if kind is None:
            matrix[:, col["kind_none"]] = 1.0
        matrix[:, col["last_here"]], matrix[:, col["last_dist"]] = last_answer_place(
            [(r[0].passage.doc_id, r[1], r[3]) for r in rows], said[-1] if said else "")
        matrix[:, [col[name] for name in READER_FEATURES]] = np.nan
        return [Candidate(h, s, e, t, matrix[i]) for i, (h, s, e, t, _) in enumerate(rows)]


def last_answer_place(rows: list[tuple[str, int, str]], last: str) -> tuple[np.ndarray, np.ndarray]:
    """For (document id, start, text) rows: whether each holds the last answer (the answer's
    words inside the sentence's, or the sentence's inside the answer's, as the assistant's own
    answers quote sentences), and the signed distance from the nearest row of the same document
    that does, in characters / 100, clipped to ±30 (NaN where none does)."""
    here = np.zeros(len(rows), dtype=np.float32)
    dist = np.full(len(rows), np.nan, dtype=np.float32)
    target = squash(without_markers(last))
    if not target:
        return here, dist
    padded = f" {target} "
    for i, (_, _, text) in enumerate(rows):
        sq = squash(text)
        here[i] = float(bool(sq) and (padded in f" {sq} " or (len(sq.split()) >= 3 and f" {sq} " in padded)))
    starts: dict[str, list[int]] = {}
    for (doc, start, _), h in zip(rows, here, strict=True):
        if h:
            starts.setdefault(doc, []).append(start)
    for i, (doc, start, _) in enumerate(rows):
        if doc in starts:
            d = min((start - m for m in starts[doc]), key=abs)
            dist[i] = float(np.clip(d / 100.0, -30.0, 30.0))
    return here, dist


def reader_key(features: np.ndarray) -> np.ndarray:
    """The order in which the reader reads a question's candidates: the sum of their ranks by
    cosine and by idf-weighted word overlap, higher first. Of the 7,113 questions of the three
    shared sets, the top 8 by this key hold a right sentence for 0.962 of the answerable ones
    (by cosine alone 0.944, by words alone 0.948, by the fused retrieval score 0.934; the top 6
    by this key 0.940, the top 10 0.976)."""
    m = np.atleast_2d(features)
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}

    def rank(v: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(-v, kind="stable"), kind="stable")

    return -(rank(m[:, col["cos"]]) + rank(m[:, col["lex"]])).astype(np.float64)


def reader_pick(key: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` candidates by ``reader_key``, best first."""
    return np.argsort(-key, kind="stable")[:top]


def before_text(c: Candidate) -> str:
    """The sentence before a candidate in its passage ("" for the first)."""
    sents = c.hit.passage.sentence_texts()
    pos = next((i for i, (s, _, _) in enumerate(sents) if s == c.start), None)
    return sents[pos - 1][2] if pos else ""


def reader_log_total(logits: np.ndarray) -> float:
    """The log of the softmax's denominator over the reader's logits plus "none" at logit 0 (the
    listwise loss's): a logit minus this is its log-probability, and minus this alone is that of
    "none"."""
    return float(np.logaddexp.reduce(np.append(np.asarray(logits, dtype=np.float64), 0.0)))


def set_reader(cands: list[Candidate], picked: np.ndarray, logits: np.ndarray) -> None:
    """Write the reader's logits of the ``picked`` candidates into their features."""
    col, gap, logp = (SENTENCE_FEATURES.index(name) for name in READER_FEATURES)
    best = float(np.max(logits)) if len(logits) else np.nan
    total = reader_log_total(logits)
    for i, v in zip(picked, logits, strict=True):
        cands[int(i)].features[col] = float(v)
        cands[int(i)].features[gap] = float(v) - best
        cands[int(i)].features[logp] = float(v) - total


def _subject(sentence: str) -> str:
    """The last word of a sentence-opening capitalised name, lower-cased."""
    m = re.match(r"[\"“‘']?((?:[A-Z][\w’'-]*\s+){0,2}[A-Z][\w’'-]*)", sentence)
    return m.group(1).split()[-1].lower() if m else ""


def question_features(cands: list[Candidate], probs: np.ndarray) -> np.ndarray:
    """Question-level features for answerability, from the scored candidates."""
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    out = dict.fromkeys(QUESTION_FEATURES, 0.0)
    if len(cands):
        m = np.stack([c.features for c in cands])
        order = np.argsort(-probs, kind="stable")
        best = m[order[0]]
        top3 = m[order[:3]]
        out.update({
            "p1": float(probs[order[0]]),
            "p2": float(probs[order[1]]) if len(order) > 1 else 0.0,
            "p_sum": float(probs.sum()),
            "cos_max": float(m[:, col["cos"]].max()),
            "lex_best": float(best[col["lex"]]),
            "miss_max_best": float(best[col["miss_max"]]),
            "miss_passage_best": float(best[col["miss_passage_max"]]),
            "miss_passage_min": float(m[:, col["miss_passage_max"]].min()),
            "lex_max": float(m[:, col["lex"]].max()),
            "offers_best": float(best[col["offers"]]),
            "offers_any_top3": float(top3[:, col["offers"]].max()),
            "q_terms": float(best[col["q_terms"]]),
            "q_unknown": float(best[col["q_unknown"]]),
            "q_unknown_max": float(best[col["q_unknown"]] > 0),
            "top_fused": float(m[:, col["fused"]].max()),
            "follow_up": float(best[col["follow_up"]]),
        })
        out["p_gap"] = out["p1"] - out["p2"]
        read = np.sort(m[:, col["reader"]][np.isfinite(m[:, col["reader"]])])[::-1]
        if len(read):
            out["reader_max"] = float(read[0])
            out["reader_gap"] = float(read[0] - read[1]) if len(read) > 1 else 0.0
            out["reader_none"] = -reader_log_total(read)
            mine = best[col["reader_logp"]]
            out["reader_best_logp"] = float(mine) if np.isfinite(mine) else -10.0
        for k in KINDS:
            out[f"kind_{k}"] = float(best[col[f"kind_{k}"]])
    return np.asarray([out[n] for n in QUESTION_FEATURES], dtype=np.float32)
