"""The default answerer: verbatim sentences from the retrieved passages, each cited.

Every candidate sentence of the top passages gets a probability of answering the question
from the learned sentence model (rag.scorer); the answer model turns the scored candidates
into a probability that the documents answer the question at all, and below the scorer's
threshold (chosen on held-out folds, see ``rag train-answerer``) the assistant abstains.
The answer leads with the best sentence; another sentence joins only when the best one leans
on it (a back-reference), when a why/how question needs the explanation next to it, when
the question spans two documents (the scorer's ``lean``, ``explain`` and ``both``), or when a
second sentence is nearly as likely as the best (``second_ratio``), or, in the other kind of
policy, while a sentence's likely gain is worth its words (``per_word``); all chosen by
held-out measurement in ``rag train-answerer``, which simulates answers through ``choose``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rag.candidates import BACK_REFERENCE, SENTENCE_FEATURES, Candidate, question_features
from rag.qtype import answer_span, expected_kind
from rag.scorer import AnswerScorer
from rag.settings import AnswerSettings
from rag.types import Answer, Citation, Hit

ABSTAIN_TEXT = "The documents do not say. The closest passages are listed as related reading."
CROSS_DOC = re.compile(r"\b(both|each|two articles|the articles|do they agree|compare|differ|"
                       r"the two|either)\b", re.I)
TITLE = SENTENCE_FEATURES.index("is_title")
SAID = SENTENCE_FEATURES.index("said")
COS = SENTENCE_FEATURES.index("cos")
# a question that reaches its answer through something it describes: "the director who made X"
BRIDGE = re.compile(r"^\s*\S+.*\b(who|whom|whose|which|that)\b.*\b[A-Z]", re.I)
EXPLAIN = re.compile(r"^\s*(why|how come|how|what (made|led|caused|explains))\b", re.I)


@dataclass(frozen=True)
class Shape:
    """Limits of an assembled answer (AnswerSettings: max_answer_words, max_answer_sentences,
    min_similarity)."""

    max_words: int = 80
    max_sentences: int = 3
    min_similarity: float = 0.0

    @classmethod
    def of(cls, a: AnswerSettings) -> Shape:
        return cls(a.max_answer_words, a.max_answer_sentences, a.min_similarity)


def is_near(cands: list[Candidate], min_similarity: float) -> bool:
    """Off topic when no sentence is this close to the question (AnswerSettings.min_similarity
    has the figures)."""
    return max((float(c.features[COS]) for c in cands), default=0.0) >= min_similarity


def choose(cands: list[Candidate], question: str, threshold: float, policy: dict[str, Any],
           shape: Shape = Shape()) -> list[Candidate]:
    """The sentences of the answer, from candidates whose ``prob`` is set; empty: abstain for
    want of an answer sentence. The served answerer and training's held-out simulation
    (evals.answerer_train.outcome) both answer through this, so the figures training reports
    describe the answers users get. (The answer probability's own threshold, and the bridge
    step, which retrieves again, are the caller's.)"""
    # titles, bylines and captions (no sentence punctuation, or a document's first line) are
    # scored, they inform the answer probability, but they are never the answer
    ranked = sorted((c for c in cands if not is_title(c)), key=lambda c: -c.prob)
    if not ranked or not is_near(cands, shape.min_similarity):
        return []
    ranked = not_repeated(ranked, threshold)
    best = ranked[0]
    chosen = [best]
    words = len(best.text.split())

    def add(c: Candidate) -> None:
        nonlocal words
        n = len(c.text.split())
        if c not in chosen and len(chosen) < shape.max_sentences and words + n <= shape.max_words:
            chosen.append(c)
            words += n

    # the sentence the best one leans on (``lean``), a why/how explanation (``explain``) and a
    # second document's best when the question spans two (``both``): each a policy choice made
    # on held-out folds by rag train-answerer (the figures in the scorer's manifest, inner)
    for extra in neighbours(best, ranked, question, bool(policy.get("lean", True)),
                            bool(policy.get("explain", True))):
        if not is_title(extra):
            add(extra)
    if policy.get("both", True) and CROSS_DOC.search(question):
        other = next((c for c in ranked if c.hit.passage.doc_id != best.hit.passage.doc_id), None)
        if other is not None:
            add(other)
    if policy.get("per_word") is not None:
        for c in by_gain_per_word(chosen, ranked, float(policy["per_word"]), shape):
            add(c)
        return chosen
    ratio = float(policy.get("second_ratio", 1.01))
    if len(ranked) > 1 and ranked[1].prob >= ratio * best.prob:
        add(ranked[1])
    return chosen


def by_gain_per_word(chosen: list[Candidate], ranked: list[Candidate], per_word: float,
                     shape: Shape = Shape()) -> list[Candidate]:
    """More sentences, each while what it is likely to add is worth its length: the chance
    that it answers and none chosen so far does (the sentence probabilities taken as
    independent), at least ``per_word`` per word, within the answer's limits. A long sentence
    must be likelier than a short one, and after a sure best sentence none is worth adding.
    The next few of ``ranked`` are tried in order; ``per_word`` is a policy choice made on
    held-out folds."""
    miss = float(np.prod([1.0 - c.prob for c in chosen]))
    words = sum(len(c.text.split()) for c in chosen)
    out: list[Candidate] = []
    for c in ranked[1:shape.max_sentences + 1]:
        if len(chosen) + len(out) >= shape.max_sentences:
            break
        n = len(c.text.split())
        if c in chosen or words + n > shape.max_words:
            continue
        if c.prob * miss >= per_word * max(1, n):
            out.append(c)
            miss *= 1.0 - c.prob
            words += n
    return out


def neighbours(best: Candidate, ranked: list[Candidate], question: str, lean: bool = True,
               explain: bool = True) -> list[Candidate]:
    """Sentences the best one leans on (``lean``): the one before when it opens with a
    back-reference; for why/how questions (``explain``), the one after when that opens with
    one, else the likelier neighbour."""
    why = explain and bool(EXPLAIN.match(question))
    if not lean and not why:
        return []
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
        return by_start.get((p.doc_id, s)) or Candidate(best.hit, s, e, t, best.features, 0.0)

    out = []
    before = cand(pos - 1)
    if lean and before is not None and BACK_REFERENCE.match(best.text) and not re.match(
            r"^[\"“‘']?(he|she|they|his|her|their)\b", best.text, re.I):
        out.append(before)
    if not why:
        return out
    nxt = cand(pos + 1)
    if nxt is not None and re.match(r"^[\"“‘']?(this|that|these|it|such|thus|hence|therefore)\b",
                                    nxt.text, re.I):
        out.append(nxt)
    else:
        options = [c for c in (nxt, before) if c is not None]
        if options:
            out.append(max(options, key=lambda c: c.prob))
    return out


class ExtractiveAnswerer:
    def __init__(self, scorer: AnswerScorer, shape: Shape = Shape()) -> None:
        self.scorer = scorer
        self.shape = shape

    def score(self, cands: list[Candidate], probs: np.ndarray | None = None) -> float:
        """Set each candidate's probability (``probs``: this scorer's, already computed);
        return the probability the question is answered."""
        if not cands:
            return 0.0
        if probs is None:
            probs = self.scorer.sentence_proba(np.stack([c.features for c in cands]))
        for c, p in zip(cands, probs, strict=True):
            c.prob = float(p)
        return self.scorer.answer_proba(question_features(cands, probs))

    def answer(self, question: str, cands: list[Candidate], hits: list[Hit], resolved: str = "",
               bridge: Callable[[Candidate], list[Candidate]] | None = None,
               probs: np.ndarray | None = None) -> Answer:
        """``bridge``: for a question that goes through an entity (a relative clause), more
        candidates retrieved with the best sentence's names; the best of another document joins.
        ``probs``: the candidates' sentence probabilities, when already computed."""
        answerable = self.score(cands, probs)
        near = is_near(cands, self.shape.min_similarity)
        chosen = choose(cands, question, self.scorer.threshold, self.scorer.policy, self.shape) \
            if answerable >= self.scorer.threshold else []
        if not chosen:
            return replace(abstain(hits, resolved), confidence=answerable if near else 0.0)
        if bridge is not None and BRIDGE.search(question) and len(chosen) < self.shape.max_sentences:
            extra = self._bridged(chosen, bridge(chosen[0]))
            if extra is not None:
                chosen.append(extra)
                hits = [*hits, *({h.passage.id: h for h in [extra.hit]
                                  if h.passage.id not in {x.passage.id for x in hits}}.values())]
        return replace(compose(chosen, hits, resolved, resolved or question), confidence=answerable)

    def _bridged(self, chosen: list[Candidate], found: list[Candidate]) -> Candidate | None:
        docs = {c.hit.passage.doc_id for c in chosen}
        found = [c for c in found if c.hit.passage.doc_id not in docs and not is_title(c)]
        if not found:
            return None
        probs = self.scorer.sentence_proba(np.stack([c.features for c in found]))
        best = int(np.argmax(probs))
        found[best].prob = float(probs[best])
        words = sum(len(c.text.split()) for c in chosen) + len(found[best].text.split())
        # measured on made-up two-document questions (tests/integration/test_bridge.py)
        if found[best].prob >= 0.5 * chosen[0].prob and words <= self.shape.max_words:
            return found[best]
        return None


def not_repeated(ranked: list[Candidate], threshold: float) -> list[Candidate]:
    """A follow-up wants something new: sentences the assistant already said in this
    conversation go after the others, when another sentence is likely enough on its own (at
    least the abstention threshold). The scorer learned ``said`` from gold histories of short
    answers; in a real chat the history holds the assistant's own sentences, so it is not
    trusted to decide this. Measured on the 639 CoQA follow-ups replayed with the assistant's
    own answers as history (``rag eval --own-history``, a scorer trained on SQuAD and the seeds
    only): accuracy 0.391 with this rule (0.437 of the answers say nothing new, every
    sentence already said), 0.394 never moving said sentences (0.470), 0.149 always moving
    them (0.003): in conversations like CoQA's the next question often asks about the same
    sentence."""
    fresh = [c for c in ranked if not c.features[SAID]]
    if len(fresh) == len(ranked) or not fresh or fresh[0].prob < threshold:
        return ranked
    return fresh + [c for c in ranked if c.features[SAID]]


def is_title(c: Candidate) -> bool:
    return bool(c.features[TITLE]) or not re.search(r"[.!?…][\"'”’)\]]*$", c.text.strip())


def compose(chosen: list[Candidate], hits: list[Hit], resolved: str = "", question: str = "") -> Answer:
    """The chosen sentences with their markers; the phrase that answers ``question`` is marked
    in the lead sentence's citation."""
    # the best sentence's document first, in reading order; other documents after it
    lead = chosen[0].hit.passage.doc_id
    same = sorted((c for c in chosen if c.hit.passage.doc_id == lead), key=lambda c: c.start)
    other = sorted((c for c in chosen if c.hit.passage.doc_id != lead), key=lambda c: (c.hit.rank, c.start))
    ordered = same + other
    kind = expected_kind(question)
    markers: dict[str, int] = {}
    parts, citations = [], []
    for c in ordered:
        pid = c.hit.passage.id
        if pid not in markers:
            markers[pid] = len(markers) + 1
        m = markers[pid]
        parts.append(f"{c.text.strip()} [{m}]")
        span = answer_span(kind, c.text, question) if c is chosen[0] else None
        phrase = (c.start + span[0], c.start + span[1]) if span else None
        citations.append(Citation(m, c.hit.passage, c.start, c.end, phrase))
    return Answer(" ".join(parts), tuple(citations), False, tuple(hits), resolved_query=resolved)


def abstain(hits: list[Hit], resolved: str = "", notices: tuple[str, ...] = ()) -> Answer:
    return Answer(ABSTAIN_TEXT, (), True, tuple(hits), notices, resolved_query=resolved)
