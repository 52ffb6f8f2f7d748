"""The default answerer: verbatim sentences from the retrieved passages, each cited.

Every candidate sentence of the top passages is scored by meaning (cosine of precomputed
sentence vectors with the question), by words (idf-weighted share of the question's terms it
holds) and by its passage's rank. The best one to three sentences, in reading order, make
the answer. When the best support is weak, or the question asks for a kind of fact (an exact
date, a count, a name) that no relevant sentence offers, the answerer abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from index.bm25 import idf_table
from index.search import SearchIndex
from rag.qtype import STRICT, expected_kind, offers
from rag.types import Answer, Citation, Hit

ABSTAIN_TEXT = "The documents do not say. The closest passages are listed as related reading."
CROSS_DOC = re.compile(r"\b(both|each|two articles|the articles|do they agree|compare|differ|"
                       r"the two|either)\b", re.I)


@dataclass
class Candidate:
    hit: Hit
    start: int
    end: int
    text: str
    semantic: float
    lexical: float
    score: float = 0.0

    @property
    def support(self) -> float:
        return 0.6 * self.semantic + 0.4 * self.lexical


class ExtractiveAnswerer:
    def __init__(self, index: SearchIndex, embedder: object, threshold: float = 0.42,
                 max_words: int = 80, max_sentences: int = 3, passages: int = 5) -> None:
        self.index = index
        self.embedder = embedder
        self.threshold = threshold
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.passages = passages
        self._vocab, self._idf = idf_table(index.bm25)
        self._max_idf = float(self._idf.max()) if len(self._idf) else 1.0

    # -- scoring ---------------------------------------------------------------------------
    def _weights(self, terms: list[str]) -> dict[str, float]:
        return {t: float(self._idf[self._vocab[t]]) if t in self._vocab else self._max_idf
                for t in dict.fromkeys(terms)}

    def candidates(self, question: str, qvec: np.ndarray, hits: list[Hit],
                   context: str = "", focus: str | None = None,
                   said: tuple[str, ...] = ()) -> list[Candidate]:
        analyze = self.index.bm25.analyze
        qterms = analyze(question)
        qbigrams = set(zip(qterms, qterms[1:], strict=False))
        qw = self._weights(qterms)
        cw = {t: w for t, w in self._weights(analyze(context)).items() if t not in qw}
        total = sum(qw.values()) + 0.3 * sum(cw.values()) or 1.0
        out: list[Candidate] = []
        seen: set[tuple[str, int]] = set()
        for hit in hits[: self.passages]:
            p = hit.passage
            vecs = self.index.sentence_vectors_of(p)
            sents = p.sentence_texts()
            if vecs is None:
                vecs = self.embedder.encode_documents([t for _, _, t in sents])  # type: ignore[attr-defined]
            sims = vecs @ qvec
            for (s, e, text), sim in zip(sents, sims, strict=True):
                if (p.doc_id, s) in seen:
                    continue
                seen.add((p.doc_id, s))
                seq = analyze(text)
                terms = set(seq)
                lex = (sum(w for t, w in qw.items() if t in terms)
                       + 0.3 * sum(w for t, w in cw.items() if t in terms)) / total
                if qbigrams:
                    shared = qbigrams & set(zip(seq, seq[1:], strict=False))
                    lex = 0.75 * lex + 0.25 * min(1.0, 2 * len(shared) / len(qbigrams))
                out.append(Candidate(hit, s, e, text, float(sim), float(lex)))
        subjects = {focus.split()[-1].lower()} if focus else set()
        earlier = [_squash(t) for t in said]
        for c in out:
            c.score = (c.support + 0.04 / c.hit.rank + _novelty_penalty(c.text, question)
                       + _subject_bonus(c.text, subjects))
            if earlier and (squashed := _squash(c.text)) and any(squashed in t for t in earlier):
                c.score -= 0.2  # the conversation already has this sentence: say something new
        return out

    # -- answering -------------------------------------------------------------------------
    def answer(self, question: str, qvec: np.ndarray, hits: list[Hit], context: str = "",
               resolved: str = "", focus: str | None = None, said: tuple[str, ...] = ()) -> Answer:
        """``focus``: the entity a follow-up's pronoun was resolved to; ``said``: earlier answers."""
        cands = self.candidates(question, qvec, hits, context, focus, said)
        if not cands:
            return abstain(hits, resolved)
        kind = expected_kind(question)
        ranked = sorted(cands, key=lambda c: -c.score)
        best = ranked[0]
        if best.support < self.threshold:
            return abstain(hits, resolved)
        if kind is not None:
            fitting = [c for c in ranked if offers(kind, c.text, question)]
            if kind in STRICT:
                # the fitting sentence must itself be about the question, nearly as well as the best
                if not fitting or fitting[0].score < 0.9 * best.score or (
                        fitting[0].support < self.threshold):
                    return abstain(hits, resolved)
                best = fitting[0]
            elif fitting and fitting[0].score >= 0.85 * best.score:
                best = fitting[0]
        chosen = self._select(best, ranked, question)
        return compose(chosen, hits, resolved)

    def _select(self, best: Candidate, ranked: list[Candidate], question: str) -> list[Candidate]:
        chosen = [best]
        words = len(best.text.split())
        for extra in self._neighbours(best, ranked, question):
            n = len(extra.text.split())
            if words + n <= self.max_words and len(chosen) < self.max_sentences:
                chosen.append(extra)
                words += n
        cross = bool(CROSS_DOC.search(question))
        if cross:
            other = next((c for c in ranked if c.hit.passage.doc_id != best.hit.passage.doc_id), None)
            if other is not None and other.score >= 0.6 * best.score:
                chosen.append(other)
                words += len(other.text.split())
        for c in ranked:
            if len(chosen) >= self.max_sentences:
                break
            if c in chosen or c.score < 0.88 * best.score:
                continue
            n = len(c.text.split())
            if words + n > self.max_words:
                continue
            chosen.append(c)
            words += n
        return chosen


    def _neighbours(self, best: Candidate, ranked: list[Candidate], question: str) -> list[Candidate]:
        """Sentences the best one leans on: the one before when it opens with a back-reference,
        the one after when that opens with one; for why/how questions, the better neighbour."""
        p = best.hit.passage
        sents = p.sentence_texts()
        pos = next((i for i, (s, _, _) in enumerate(sents) if s == best.start), None)
        if pos is None:
            return []
        by_start = {(c.hit.passage.doc_id, c.start): c for c in ranked}

        def cand(i: int) -> Candidate | None:
            if not 0 <= i < len(sents):
                return None
            s, e, t = sents[i]
            return by_start.get((p.doc_id, s)) or Candidate(best.hit, s, e, t, 0.0, 0.0)

        out = []
        before = cand(pos - 1)
        if before is not None and BACK_REFERENCE.match(best.text):
            out.append(before)
        i = pos + 1
        while (nxt := cand(i)) is not None and BACK_REFERENCE.match(nxt.text) and len(out) < 2:
            out.append(nxt)  # a chain of sentences that each lean on the one before
            i += 1
        if not out and EXPLAIN.match(question):
            options = [c for c in (cand(pos + 1), before) if c is not None]
            if options:
                out.append(max(options, key=lambda c: c.score))
        return out


BACK_REFERENCE = re.compile(
    r"^[\"“‘']?(this|that|these|those|it|such|but|however|yet|still|thus|hence|therefore|so|"
    r"for this reason|as a result|in other words|in turn|indeed)\b", re.I)
EXPLAIN = re.compile(r"^\s*(why|how come|how|what (made|led|caused|explains))\b", re.I)


def _squash(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _subject_bonus(sentence: str, subjects: set[str]) -> float:
    """A sentence whose grammatical subject is a name the question asks about."""
    m = re.match(r"[\"“‘']?((?:[A-Z][\w’'-]*\s+){0,2}[A-Z][\w’'-]*)", sentence)
    if not m or not subjects:
        return 0.0
    return 0.04 if m.group(1).split()[-1].lower() in subjects else 0.0


def _novelty_penalty(sentence: str, question: str) -> float:
    """A sentence that only restates the question answers nothing."""
    q = set(re.findall(r"\w+", question.lower()))
    s = [w for w in re.findall(r"\w+", sentence.lower()) if len(w) > 2]
    if not s:
        return -0.2
    new = sum(1 for w in s if w not in q) / len(s)
    return -0.15 if new < 0.2 else 0.0


def compose(chosen: list[Candidate], hits: list[Hit], resolved: str = "") -> Answer:
    ordered = sorted(chosen, key=lambda c: (c.hit.rank, c.start))
    # reading order within a document; documents in order of their best hit
    doc_rank: dict[str, int] = {}
    for c in ordered:
        doc_rank.setdefault(c.hit.passage.doc_id, c.hit.rank)
    ordered = sorted(chosen, key=lambda c: (doc_rank[c.hit.passage.doc_id], c.start))
    markers: dict[str, int] = {}
    parts, citations = [], []
    for c in ordered:
        pid = c.hit.passage.id
        if pid not in markers:
            markers[pid] = len(markers) + 1
        m = markers[pid]
        parts.append(f"{c.text.strip()} [{m}]")
        citations.append(Citation(m, c.hit.passage, c.start, c.end))
    return Answer(" ".join(parts), tuple(citations), False, tuple(hits), resolved_query=resolved)


def abstain(hits: list[Hit], resolved: str = "", notices: tuple[str, ...] = ()) -> Answer:
    return Answer(ABSTAIN_TEXT, (), True, tuple(hits), notices, resolved_query=resolved)
