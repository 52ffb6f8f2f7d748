"""Resolving follow-up questions from the chat history without an LLM.

A follow-up ("Where is he based now?") is recognised by anaphora (pronouns, "that", "there"),
an elliptical opening ("Until when?", "And …") or by being short and naming nothing. For a
follow-up, person pronouns are mapped to the last fitting named entity, and the earlier turns'
text is carried along as retrieval context, weighted below the current question. A question
that names its own subject and refers back to nothing is taken as it stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.retrieve import Query
from rag.text import ANAPHORA, FOLLOW_UP_START, PRONOUNS_PERSON, STOP, entities, words
from rag.types import Turn

# words that make a capitalised run unlikely to be a person
_NOT_PERSON = {
    "korea", "korean", "states", "united", "house", "white", "council", "nations", "olympics",
    "department", "ministry", "office", "university", "institute", "congress", "senate",
    "treasury", "army", "navy", "party", "talks", "games", "winter", "summer", "post", "times",
    "news", "union", "republic", "kingdom", "city", "peninsula", "sea", "river", "act", "war",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "russia", "china", "japan", "america", "american", "russian",
    "chinese", "japanese", "us", "un", "eu", "uk", "usa", "dprk", "rok", "europe", "european",
}


# words that are often not anaphoric ("said that …"): they count only in a question naming nothing
WEAK_ANAPHORA = {"this", "that", "then", "such", "it"}


@dataclass(frozen=True)
class Resolution:
    query: Query
    follow_up: bool
    rewritten: str
    entity: str | None = None


def is_follow_up(question: str, history: list[Turn]) -> bool:
    if not any(t.role == "user" for t in history):
        return False
    ws = words(question)
    if FOLLOW_UP_START.match(question.strip()):
        return True
    named = entities(question)
    if any(w in ANAPHORA - WEAK_ANAPHORA for w in ws):
        return True
    if any(w in WEAK_ANAPHORA for w in ws) and (not named or ws[-1] in WEAK_ANAPHORA):
        return True  # "Why is that?", "Does Fitzpatrick buy that?"; not "said that Russia …"
    if re.search(r"\b(the same|the former|the latter|that one|this one)\b", question, re.I):
        return True
    content = [w for w in ws if w not in STOP]
    return not named and len(content) <= 3


def person_candidates(text: str) -> list[str]:
    """Named entities that may be people, most recent last."""
    out = []
    for ent in entities(text):
        toks = ent.split()
        low = {re.sub(r"[’']s$", "", t.lower()).strip(".,’'") for t in toks}
        if low & _NOT_PERSON or any(c.isdigit() for c in ent):
            continue
        if len(toks) == 1 and len(toks[0]) <= 2:
            continue
        out.append(" ".join(toks[-2:]))  # "Vice President Mike Pence" -> "Mike Pence"
    return out


def resolve(question: str, history: list[Turn], max_turns: int = 4,
            context_weight: float = 0.5) -> Resolution:
    if not is_follow_up(question, history):
        return Resolution(Query(question), False, question)
    recent = history[-2 * max_turns :] if max_turns else []
    entity = _last_person(recent)
    rewritten = question
    if entity and any(w in PRONOUNS_PERSON for w in words(question)):
        rewritten = _substitute(question, entity)
    context = _context(recent)
    return Resolution(Query(rewritten, context, context_weight), True, rewritten, entity)


def _last_person(turns: list[Turn]) -> str | None:
    # the latest turn that names a person wins; within a turn, the first name mentioned
    for turn in reversed(turns):
        found = person_candidates(turn.content)
        if found:
            return max(found[:3], key=lambda e: len(e.split()))
    return None


def _substitute(question: str, entity: str) -> str:
    def repl(m: re.Match[str]) -> str:
        w = m.group(0).lower()
        if w in ("his", "hers"):
            return f"{entity}'s"
        if w == "her" and re.match(r"\s+[a-z]", question[m.end():]):
            return f"{entity}'s"  # possessive "her": "her view"
        return entity

    return re.sub(r"\b(he|him|his|she|her|hers|himself|herself)\b", repl, question, flags=re.I)


def _context(turns: list[Turn]) -> str:
    """The earlier turns, newest first; user turns in full, answers trimmed."""
    parts = []
    for turn in reversed(turns):
        text = turn.content if turn.role == "user" else " ".join(turn.content.split()[:40])
        text = re.sub(r"\[\d+\]", "", text)
        parts.append(text)
    return " ".join(parts)
