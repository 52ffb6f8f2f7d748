"""What kind of answer a question asks for, and whether a sentence offers one.

Strict kinds (an exact date, a year, a count, an amount, a name) are required: when no
relevant sentence offers one, the documents do not answer the question. Loose kinds (who,
where, when) only favour sentences that offer them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MONTH = (r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|"
         r"sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)")
DAY_DATE = re.compile(
    rf"\b(\d{{1,2}}(st|nd|rd|th)?\s+(of\s+)?{MONTH}\b|{MONTH}\.?\s+\d{{1,2}}(st|nd|rd|th)?\b(?!\d)|"
    r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}|(monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday))",
    re.I,
)
YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)s?\b")
TIME = re.compile(
    rf"\b({MONTH}|spring|summer|autumn|fall|winter|yesterday|today|tomorrow|week|month|year|"
    r"decade|century|morning|evening|night|ago|since|until|before|after|during|1[5-9]\d\d|20\d\d)\b",
    re.I,
)
NUMBER_WORDS = (r"(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
                r"sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|dozens|"
                r"hundreds|thousands|millions|once|twice|several|few)")
NUMBER = re.compile(rf"(\b\d[\d,.]*\b|\b{NUMBER_WORDS}\b)", re.I)
UNIT = re.compile(
    r"\b(tons?|tonnes?|barrels?|lit(er|re)s?|gallons?|kg|kilograms?|pounds|dollars?|euros?|"
    r"won|yuan|yen|percent|per cent|cubic|met(er|re)s?|miles?|km|kilomet(er|re)s?|bpd|"
    r"million|billion|trillion)\b|[$€£¥%]",
    re.I,
)
PLACE_BEFORE = re.compile(r"\b(in|at|near|from|to|outside|inside|across|around|of)\s+(the\s+)?$", re.I)
UNIT_AFTER = re.compile(rf"(\s*(?:{UNIT.pattern}))+", re.I)
_AUX = (r"(is|are|was|were|do|does|did|have|has|had|will|would|could|can|should|might|must|"
        r"in|of|on|at|by|for|to|from|that|when|did)")


def expected_kind(question: str) -> str | None:
    q = question.lower()
    if re.search(r"\b(exact|precise|specific|particular)\s+(date|day)\b|\bwhat (day|date)\b|"
                 r"\b(on )?which (day|date)\b|\bon what date\b", q):
        return "day_date"
    if re.search(r"\b(what|which) year\b", q):
        return "year"
    if re.search(r"\bhow much\b", q):
        return "amount"
    if re.search(r"\bhow many\b", q):
        return "count"
    if re.search(r"\b(what|which) (was|is|were|are) (the |his |her |their )?names?\b|"
                 r"\bnamed?\s+(of|the)\b|\bwhat .{0,30}\bcalled\b", q):
        return "name"
    if re.match(r"\s*(who|whom|whose)\b", q) or re.search(r"\bwho (was|is|were|are|did)\b", q):
        return "who"
    if re.match(r"\s*where\b", q) or re.search(r"\bin (which|what) (city|country|place)\b", q):
        return "where"
    if re.match(r"\s*(when|until when|since when)\b", q) or re.search(r"\buntil when\b", q):
        return "when"
    return None


STRICT = {"day_date", "year", "amount", "count", "name"}
# every kind expected_kind returns, and "none" for questions of no particular kind
KINDS = ("none", "day_date", "year", "amount", "count", "name", "who", "where", "when")


def count_head(question: str) -> str | None:
    """The counted noun of 'how many X …': the last word before the verb."""
    m = re.search(rf"\bhow many\s+((?:[\w'’-]+\s+){{0,5}}?)(?={_AUX}\b|\?|$)", question, re.I)
    if not m or not m.group(1).strip():
        return None
    return m.group(1).split()[-1].lower()


def _new_caps(sentence: str, question: str) -> list[str]:
    qwords = {w.lower() for w in re.findall(r"[\w'’-]+", question)}
    out = []
    for m in re.finditer(r"[\w'’-]+", sentence):
        w = m.group(0)
        if m.start() == 0 or not w[0].isupper():
            continue
        if w.lower() not in qwords and w.lower().rstrip("’'s") not in qwords:
            out.append(w)
    return out


def offers(kind: str | None, sentence: str, question: str) -> bool:
    """Whether the sentence holds new information of the kind asked for."""
    if kind is None:
        return True
    if kind == "day_date":
        return any(m.group(0).lower() not in question.lower() for m in DAY_DATE.finditer(sentence))
    if kind == "year":
        return any(m.group(0) not in question for m in YEAR.finditer(sentence))
    if kind == "when":
        return bool(TIME.search(sentence))
    if kind == "amount":
        for m in NUMBER.finditer(sentence):
            window = sentence[m.start() : m.end() + 30]
            if UNIT.search(window) or m.group(0).strip().startswith(("$", "€", "£")):
                return True
        return False
    if kind == "count":
        head = count_head(question)
        for m in NUMBER.finditer(sentence):
            if m.group(0).lower() in question.lower():
                continue
            after = sentence[m.end() : m.end() + 60].lower()
            if head is None or re.match(rf"(\W+\w+){{0,3}}?\W+{re.escape(head[:5])}", after) or (
                head.startswith(("time", "occasion")) and re.match(r"\s*times?\b", after)
            ):
                return True
        return bool(head) and bool(re.search(r"\b(once|twice)\b", sentence, re.I)) and (
            head.startswith("time"))
    if kind in ("name", "who", "where"):
        return bool(_new_caps(sentence, question))
    return True


def _caps_runs(sentence: str, question: str) -> list[tuple[int, int]]:
    """Runs of capitalised words the question does not hold ("Maria van Dorp", "New York")."""
    new = set(_new_caps(sentence, question))
    runs: list[tuple[int, int]] = []
    for m in re.finditer(r"[\w'’-]+", sentence):
        if m.group(0) not in new or m.start() == 0:
            continue
        if runs and re.fullmatch(r"\s+|\s+(of|de|la|van|von|the)\s+", sentence[runs[-1][1]:m.start()]):
            runs[-1] = (runs[-1][0], m.end())
        else:
            runs.append((m.start(), m.end()))
    return runs


def answer_span(kind: str | None, sentence: str, question: str) -> tuple[int, int] | None:
    """Where in the sentence the fact the question asks for is (offsets in the sentence): the
    date, year, amount, count or name that is new to the question; None when the question asks
    for no such fact or the sentence holds none."""
    q = question.lower()

    def fresh(matches: Iterator[re.Match[str]]) -> tuple[int, int] | None:
        for m in matches:
            if m.group(0).strip().lower() not in q:
                return m.start(), m.end()
        return None

    if kind == "day_date":
        return fresh(DAY_DATE.finditer(sentence))
    if kind == "year":
        return fresh(YEAR.finditer(sentence))
    if kind == "when":
        return fresh(DAY_DATE.finditer(sentence)) or fresh(YEAR.finditer(sentence)) or fresh(
            TIME.finditer(sentence))
    if kind in ("amount", "count"):
        for m in NUMBER.finditer(sentence):
            if m.group(0).lower() in q:
                continue
            start = m.start() - 1 if m.start() and sentence[m.start() - 1] in "$€£" else m.start()
            unit = UNIT_AFTER.match(sentence, m.end()) if kind == "amount" else None
            if kind == "amount" and unit is None and sentence[start] not in "$€£":
                continue
            return start, unit.end() if unit else m.end()
        return None
    if kind in ("name", "who", "where"):
        runs = _caps_runs(sentence, question)
        if kind == "where":  # a place follows a place preposition: "lives in Seoul"
            placed = [r for r in runs if PLACE_BEFORE.search(sentence[: r[0]])]
            return placed[0] if placed else (runs[0] if runs else None)
        return max(runs, key=lambda r: r[1] - r[0]) if runs else None
    return None
