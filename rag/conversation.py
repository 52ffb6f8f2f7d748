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

from rag.text import ANAPHORA, FOLLOW_UP_START, PRONOUNS_PERSON, STOP, entities, without_markers, words
from rag.types import Query, Turn

# General evidence for people, from any domain: a title before the name, a verb of saying or
# thinking after it; against: a head noun of an organisation, a place or an event inside it,
# "the" or a place preposition before it, an acronym, a month or weekday.
TITLES = frozenset("""mr mrs ms miss dr prof professor sir dame lord lady president vice
    minister premier chancellor senator governor mayor secretary ambassador envoy general
    colonel captain admiral commander chief director chairman chairwoman chair ceo founder
    judge justice king queen prince princess pope bishop father rev reverend coach manager
    spokesman spokeswoman spokesperson official officer analyst expert researcher scientist
    author writer editor reporter columnist correspondent saint st chef nurse detective
    inspector sergeant lieutenant major agent""".split())
AFTER_PERSON = frozenset("""said says say told tells tell added argued wrote writes asked
    asks replied explained believes believed thinks thought warned noted insisted claimed
    who whose himself herself""".split())
NON_PERSON_HEADS = frozenset("""university college school institute academy department
    ministry office agency bureau council committee commission parliament congress senate
    assembly court party union association federation foundation company corporation
    group bank fund inc ltd plc co corp club team league cup games championship festival
    award prize house hall palace church cathedral temple museum library hospital station
    airport port bridge tower street avenue road square park center centre building
    republic kingdom empire state states city town county province region district island
    islands river lake sea ocean bay gulf mountain mountains valley desert coast north south
    east west northern southern eastern western central war act treaty accord agreement
    times post news press journal review daily herald tribune magazine radio television
    army navy force forces police guard program programme project system network""".split())
MONTHS_DAYS = frozenset("""january february march april may june july august september
    october november december monday tuesday wednesday thursday friday saturday
    sunday""".split())
PLACE_PREPOSITIONS = frozenset("in at from into near across throughout inside outside to".split())
_RUN = re.compile(r"(?:[A-Z][\w’'-]*)(?:\s+[A-Z][\w’'-]*)*")


# words that are often not anaphoric ("said that …"): they count only in a question naming nothing
WEAK_ANAPHORA = {"this", "that", "then", "such", "it"}


@dataclass(frozen=True)
class Resolution:
    query: Query
    follow_up: bool
    entity: str | None = None


def exchange(question: str, answer: str) -> list[dict[str, str]]:
    """One turn of a conversation's history, as Assistant.answer, `POST /api/ask` and the
    chat page's session state hold it."""
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


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
        return True  # "Why is that?", "Does Smith buy that?"; not "said that Paris …"
    if re.search(r"\b(the same|the former|the latter|that one|this one)\b", question, re.I):
        return True
    content = [w for w in ws if w not in STOP]
    return not named and len(content) <= 3


def person_candidates(text: str) -> list[tuple[str, int]]:
    """Capitalised runs that may name people, with their evidence score, in order of mention.

    Runs with evidence against them (score below zero) are left out.
    """
    runs = []
    for m in _RUN.finditer(text):
        toks = [t.strip(".,;:’'") for t in m.group(0).split()]
        toks = [re.sub(r"[’']s$", "", t) for t in toks if t]
        before = text[: m.start()].split()[-1:] if m.start() else []
        prev = re.sub(r"\W", "", before[0]).lower() if before else ""
        sentence_start = m.start() == 0 or bool(re.search(r"[.!?:;\"“]\s*$", text[: m.start()]))
        while toks and toks[0].lower() in STOP:
            prev, toks, sentence_start = toks[0].lower(), toks[1:], False
        if prev in PLACE_PREPOSITIONS and len(toks) >= 3:
            prev, toks = "", toks[1:]  # "a diplomat in Lisbon Ana Costa": the place, then the name
        runs.append((m, toks, prev, sentence_start))
    # a surname used again on its own ("Costa said") is evidence of a person
    alone = [toks[0] for _, toks, _, _ in runs if len(toks) == 1]
    out = []
    for m, toks, prev, sentence_start in runs:
        titled = False
        while toks and toks[0].lower().rstrip(".") in TITLES:
            toks, titled = toks[1:], True
        if not toks:
            continue
        if sentence_start and len(toks) == 1 and not titled:
            continue  # a lone capitalised word opening a sentence is any word
        low = [t.lower() for t in toks]
        if len(toks) == 1 and (len(toks[0]) <= 2 or re.search(r"(ian|ese|ish)$", low[0])):
            continue  # initials; demonyms such as "Canadian", "Japanese", "Danish"
        score = 0
        if titled or prev in TITLES:
            score += 2
        after = text[m.end():].split()[:1]
        if after and re.sub(r"\W", "", after[0]).lower() in AFTER_PERSON:
            score += 1
        if 2 <= len(toks) <= 3:
            score += 1
            if toks[-1] in alone:
                score += 2
        if set(low) & (NON_PERSON_HEADS | MONTHS_DAYS):
            score -= 3
        if prev == "the":
            score -= 2
        if prev in PLACE_PREPOSITIONS:
            score -= 2
        if any(t.isupper() and len(t) > 1 for t in toks) or any(c.isdigit() for c in m.group(0)):
            score -= 3  # acronyms and model numbers
        if score >= 0:
            out.append((" ".join(toks[-3:]), score))
    return out


def resolve(question: str, history: list[Turn], max_turns: int = 4,
            context_weight: float = 0.5) -> Resolution:
    if not is_follow_up(question, history):
        return Resolution(Query(question), False)
    recent = history[-2 * max_turns :] if max_turns else []
    entity = _last_person(recent)
    rewritten = question
    if entity and any(w in PRONOUNS_PERSON for w in words(question)):
        rewritten = _substitute(question, entity)
    context = _context(recent)
    return Resolution(Query(rewritten, context, context_weight, _last_exchange(recent)), True, entity)


def _last_person(turns: list[Turn]) -> str | None:
    # the latest turn that names a person wins; within a turn, the first name mentioned
    for turn in reversed(turns):
        found = person_candidates(turn.content)
        if found:
            best = max(score for _, score in found)
            return next(name for name, score in found if score == best)
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


def _last_exchange(turns: list[Turn], answer_words: int = 12) -> str:
    """The last user question and the first words of the answer after it."""
    last = max((i for i, t in enumerate(turns) if t.role == "user"), default=None)
    if last is None:
        return ""
    answer = next((t.content for t in turns[last + 1:] if t.role == "assistant"), "")
    answer = " ".join(without_markers(answer).split()[:answer_words])
    return f"{turns[last].content} {answer}".strip()


def _context(turns: list[Turn]) -> str:
    """The earlier turns, newest first; user turns in full, answers trimmed."""
    parts = []
    for turn in reversed(turns):
        text = turn.content if turn.role == "user" else " ".join(turn.content.split()[:40])
        text = without_markers(text, "")
        parts.append(text)
    return " ".join(parts)
