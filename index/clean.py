"""Boilerplate removal by general rules over a document's units (lines or paragraphs).

The cleaner never rewrites text: it returns the spans it keeps, so every passage stays a
verbatim slice of the source. Rules are generic page-chrome patterns (browser notices,
navigation, teaser lists of other articles, captions and photo credits, promotions,
repeated pull quotes), never lines of particular documents.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    text: str
    indent: int
    bullet: bool

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class CleanResult:
    kept: list[Unit] = field(default_factory=list)
    dropped: list[tuple[Unit, str]] = field(default_factory=list)
    # groups of kept units with no dropped unit between them: passages never cross a gap
    sections: list[list[Unit]] = field(default_factory=list)

    def kept_chars(self) -> int:
        return sum(u.end - u.start for u in self.kept)

    def dropped_chars(self) -> int:
        return sum(u.end - u.start for u, _ in self.dropped)

    def dropped_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.dropped))


_BULLET = re.compile(r"^([•·▪●◦*–—-]|\d{1,2}[.)])\s+")
_TERMINAL = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_BROWSER = re.compile(
    r"(\b(browser|javascript|internet explorer|ie ?\d+)\b.*\b(not supported|unsupported|upgrade|"
    r"enable|optimal experience|update|out of date|outdated)\b)|"
    r"(\b(not supported|unsupported|upgrade|enable)\b.*\b(browser|javascript)\b)|"
    r"(\bwe use cookies\b|\baccept (all )?cookies\b)",
    re.I,
)
_NAV = re.compile(
    r"^(back to|return to|go to|skip to|jump to|continue reading|read more|next article|"
    r"previous article|view all|see all|show more|load more|menu|search|home|print|share|"
    r"comments?|sign in|log in|login|register)\b|\b(homepage|home page|main menu|"
    r"table of contents|breadcrumb)\b",
    re.I,
)
_PROMO = re.compile(
    r"\b(subscribe|sign up|newsletter|download (our|the) app|advertisement|sponsored|"
    r"promoted|follow us|join (us|our)|get the latest|become a member|donate|"
    r"free trial|buy now|shop now)\b",
    re.I,
)
_TEASER_HEAD = re.compile(
    r"^(latest|related|recent|popular|recommended|trending|more|most read|most popular|"
    r"most viewed|you (may|might) also like|read (more|next)|further reading|also read|"
    r"see also|top stories|editor'?s picks|what to read next|other articles|in other news)\b",
    re.I,
)
_DATE_LINE = re.compile(
    r"^((\d{1,2}\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(\s+\d{1,2})?,?"
    r"\s+\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})$",
    re.I,
)
_CREDIT = re.compile(
    r"((/|\||—|–|-)\s*[\w .,&'-]*\b(getty images|afp|reuters|associated press|ap photo|epa|"
    r"shutterstock|alamy|bloomberg|via getty|file photo)\s*\)?\s*$)|"
    r"^(photo|image|picture|illustration|credit|photograph)s?\s*(:|by\b)",
    re.I,
)
PROSE_WORDS = 40


def units_of(text: str) -> list[Unit]:
    """Paragraph-sized units with offsets; lines that are not hard-wrapped are units alone."""
    units: list[Unit] = []
    for block in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text):
        lines = [m for m in re.finditer(r"[^\n]+", block.group(0)) if m.group(0).strip()]
        base = block.start()
        if _hard_wrapped([m.group(0) for m in lines]):
            units.append(_unit(text, base + lines[0].start(), base + lines[-1].end()))
            continue
        first = lines[0]
        for prev, m in zip(lines, lines[1:], strict=False):
            if not _continues(prev.group(0), m.group(0)):
                units.append(_unit(text, base + first.start(), base + prev.end()))
                first = m
        units.append(_unit(text, base + first.start(), base + lines[-1].end()))
    return units


# a line of prose that stops mid-sentence, and a next line that cannot start a sentence, a
# heading or a list item: text copied from a web page puts sub- and superscripts on lines of
# their own ("an emergency supply of O" / "2 automatically supplied to them ..."). A number of
# three digits or more (a year: "2018 was ...") may start a sentence, so it does not join.
_CONTINUATION = re.compile(r"^(?:[a-z)\]}.,;:%−–-]|[0-9]{1,2}(?![0-9]))")
_CONTINUED_WORDS = 8


def _continues(line: str, nxt: str) -> bool:
    return (len(line.split()) >= _CONTINUED_WORDS and not _TERMINAL.search(line.rstrip())
            and not _BULLET.match(line.strip()) and not _BULLET.match(nxt.strip())
            and bool(_CONTINUATION.match(nxt.lstrip())))


def _hard_wrapped(lines: list[str]) -> bool:
    if len(lines) < 2:
        return False
    lengths = [len(s.rstrip()) for s in lines[:-1]]
    widest = max(lengths)
    if widest > 100 or widest < 40:
        return False
    if any(_BULLET.match(s.strip()) for s in lines[1:]):
        return False
    return all(n >= 0.6 * widest for n in lengths) and not any(
        _TERMINAL.search(s.rstrip()) and n < 0.75 * widest for s, n in zip(lines, lengths, strict=False)
    )


def _unit(text: str, start: int, end: int) -> Unit:
    raw = text[start:end]
    lead = len(raw) - len(raw.lstrip())
    trail = len(raw) - len(raw.rstrip())
    s, e = start + lead, end - trail
    body = text[s:e]
    indent = len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())
    return Unit(s, e, body, indent, bool(_BULLET.match(body)))


def _is_sentence(u: Unit) -> bool:
    return bool(_TERMINAL.search(u.text))


def _is_short_label(u: Unit) -> bool:
    return u.words <= 10 and not _is_sentence(u)


def _is_prose(u: Unit) -> bool:
    return u.words >= PROSE_WORDS and not u.bullet and u.indent == 0


def classify(u: Unit) -> str | None:
    """The reason a unit is boilerplate on its own, or None."""
    t = u.text
    if not re.search(r"\w", t):
        return "punctuation only"
    if u.words <= 30 and _BROWSER.search(t):
        return "browser notice"
    if u.words <= 8 and not _is_sentence(u) and _NAV.search(t):
        return "navigation"
    if u.words <= 25 and _PROMO.search(t) and (u.words <= 12 or not _is_sentence(u)):
        return "promotion"
    if _CREDIT.search(t):
        return "caption or photo credit"
    return None


def clean_text(text: str) -> CleanResult:
    units = units_of(text)
    reasons: list[str | None] = [classify(u) for u in units]
    _mark_teaser_regions(units, reasons)
    _mark_nav_runs(units, reasons)
    _mark_repeats(units, reasons)
    _mark_trailing_chrome(units, reasons)
    result = CleanResult()
    section: list[Unit] = []
    for u, r in zip(units, reasons, strict=True):
        if r is None:
            result.kept.append(u)
            section.append(u)
        else:
            result.dropped.append((u, r))
            if section:
                result.sections.append(section)
                section = []
    if section:
        result.sections.append(section)
    return result


def _mark_teaser_regions(units: list[Unit], reasons: list[str | None]) -> None:
    """A teaser heading, or a list whose items carry dates, starts a region of links to other
    articles; it runs until the next prose paragraph outside a list."""
    i = 0
    while i < len(units):
        u = units[i]
        starts = (u.words <= 6 and not _is_sentence(u) and _TEASER_HEAD.match(u.text)) or (
            u.bullet and _dated_list_follows(units, i)
        )
        if not starts:
            i += 1
            continue
        j = i
        while j < len(units) and (j == i or not _is_prose(units[j])):
            if reasons[j] is None:
                reasons[j] = "teaser list of other articles"
            j += 1
        i = j


def _dated_list_follows(units: list[Unit], i: int) -> bool:
    window = units[i : i + 12]
    bullets = sum(1 for u in window if u.bullet)
    dates = sum(1 for u in window if _DATE_LINE.match(u.text))
    return bullets >= 2 and dates >= 2


def _mark_nav_runs(units: list[Unit], reasons: list[str | None]) -> None:
    """A run of short labels that holds a navigation line is navigation as a whole."""
    i = 0
    while i < len(units):
        if not _is_short_label(units[i]) and reasons[i] is None:
            i += 1
            continue
        j = i
        while j < len(units) and (_is_short_label(units[j]) or reasons[j] is not None):
            j += 1
        if any(reasons[k] in ("navigation", "teaser list of other articles") for k in range(i, j)):
            for k in range(i, j):
                if reasons[k] is None:
                    reasons[k] = "navigation"
        i = max(j, i + 1)


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _mark_repeats(units: list[Unit], reasons: list[str | None]) -> None:
    """Captions and pull quotes repeat text found elsewhere on the page: drop the shorter copy."""
    toks = [set(_tokens(u.text)) for u in units]
    for i, u in enumerate(units):
        if reasons[i] is not None or u.words > 45 or len(toks[i]) < 5:
            continue
        for j, v in enumerate(units):
            if i == j or len(v.text) < len(u.text) or (len(v.text) == len(u.text) and j > i):
                continue
            if len(toks[i] & toks[j]) >= 0.8 * len(toks[i]):
                reasons[i] = "repeated caption or pull quote"
                break


def _mark_trailing_chrome(units: list[Unit], reasons: list[str | None]) -> None:
    """After the last sentence of prose, short labels are page furniture."""
    last_prose = max(
        (i for i, u in enumerate(units) if reasons[i] is None and _is_sentence(u) and u.words >= 8),
        default=-1,
    )
    for k in range(last_prose + 1, len(units)):
        if reasons[k] is None and _is_short_label(units[k]):
            reasons[k] = "trailing page furniture"
