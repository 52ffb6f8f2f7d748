"""Near-miss questions for training the reader: an answerable question changed so that the
sentence answering it no longer does.

SQuAD 2.0's unanswerable questions were written against the paragraph, mostly by swapping an
entity or a number for another, by negating, or by an antonym (Rajpurkar et al., 2018, table 3).
The reader sees such questions, but never beside the answerable question they were made from,
so nothing shows it that one changed name or an added "not" turns a right sentence wrong.
``perturb`` makes that contrast from any answerable question, with two generic edits of English
text and nothing fitted to a data set:

- **swap**: a name or number of the question that the answering sentence also holds is
  replaced by another of the same kind from the other candidate sentences (the same
  documents), one the answering sentence does not hold; a number with none to take is moved
  by a few units;
- **negate**: the question's first auxiliary verb in its negative form ("When did the war
  end?" becomes "When didn't the war end?").

The changed question paired with the sentences that answered the original is a wrong pair
(label 0) for the reader. Only the reader's training uses them; the scorer and every held-out
figure see the real questions only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

# a run of capitalised words (a name), or a number; the question's first word is never a name
NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of|the|de|von|van|and)?\s*[A-Z][\w'’-]*)*")
NUMBER = re.compile(r"\b\d[\d,.]*\b")
NEGATIVE = {"is": "isn't", "are": "aren't", "was": "wasn't", "were": "weren't", "do": "don't",
            "does": "doesn't", "did": "didn't", "can": "can't", "could": "couldn't",
            "will": "won't", "would": "wouldn't", "has": "hasn't", "have": "haven't",
            "had": "hadn't", "should": "shouldn't", "must": "mustn't"}
AUXILIARY = re.compile(r"\b(" + "|".join(NEGATIVE) + r")\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(not|never|no|none|without)\b|n't\b", re.IGNORECASE)


def _spans(pattern: re.Pattern[str], text: str, skip_first: bool) -> list[tuple[int, int]]:
    out = []
    for m in pattern.finditer(text):
        if skip_first and m.start() == 0:
            continue
        s = m.group(0).strip(".,")
        if s:
            out.append((m.start(), m.start() + len(s)))
    return out


def _values(pattern: re.Pattern[str], texts: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for t in texts:
        for m in pattern.finditer(t):
            v = m.group(0).strip(".,")
            if v and m.start() > 0:  # a sentence's first word is capitalised anyway
                seen[v] = None
    return list(seen)


def _related(a: str, b: str) -> bool:
    """Whether two names share a word's first four letters ("Huguenot", "Huguenots")."""
    heads = {w[:4].lower() for w in a.split()}
    return any(w[:4].lower() in heads for w in b.split())


def swap(question: str, support: str, pool: Sequence[str], rng: random.Random) -> str | None:
    """The question with one of its names or numbers that ``support`` holds replaced by another
    of the same kind from ``pool`` that ``support`` does not hold (None if there is none)."""
    options = []
    for pattern, kind in ((NAME, "name"), (NUMBER, "number")):
        for s, e in _spans(pattern, question, skip_first=(kind == "name")):
            if question[s:e] in support:
                options.append((s, e, kind))
    rng.shuffle(options)
    for s, e, kind in options:
        old = question[s:e]
        candidates = [v for v in _values(NAME if kind == "name" else NUMBER, pool)
                      if v not in support and v.lower() not in question.lower()
                      and not _related(v, old)]
        if kind == "name":
            # a name of about the same length reads like the same kind of name
            words = len(old.split())
            candidates = [v for v in candidates if abs(len(v.split()) - words) <= 1]
        if candidates:
            return question[:s] + rng.choice(sorted(candidates)) + question[e:]
        if kind == "number" and old.replace(",", "").isdigit():
            value = int(old.replace(",", ""))
            moved = str(value + rng.choice([-1, 1]) * rng.randint(1, 9))
            if moved not in support and int(moved) >= 0:
                return question[:s] + moved + question[e:]
    return None


def negate(question: str) -> str | None:
    """The question with its first auxiliary verb made negative (None when it has none, or is
    negated already)."""
    if NEGATION.search(question):
        return None
    m = AUXILIARY.search(question)
    if m is None:
        return None
    word = NEGATIVE[m.group(1).lower()]
    if m.group(1)[0].isupper():
        word = word.capitalize()
    return question[:m.start()] + word + question[m.end():]


def perturb(question: str, support: str, pool: Sequence[str], rng: random.Random,
            swap_share: float = 0.7) -> str | None:
    """One near-miss version of ``question``: a swap (with probability ``swap_share``, or when
    negating is impossible) or a negation; None when neither applies."""
    first, second = ((swap, negate) if rng.random() < swap_share else (negate, swap))
    for kind in (first, second):
        out = kind(question, support, pool, rng) if kind is swap else negate(question)
        if out is not None and out != question:
            return out
    return None
