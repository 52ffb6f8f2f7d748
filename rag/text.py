"""Small text helpers shared by follow-up resolution and the extractive answerer."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[\w][\w'’.-]*[\w]|\w")
MARKER = re.compile(r"\[\d+\]")  # a citation marker in an answer: "[2]"


def without_markers(text: str, sep: str = " ") -> str:
    """The text with its citation markers replaced by ``sep``."""
    return MARKER.sub(sep, text)

STOP = frozenset(
    """a an the and or but if then so of to in on at by for with from about as into over after
    before between under again further once is are was were be been being am do does did doing
    have has had having i me my we our you your he him his she her it its they them their what
    which who whom whose this that these those there here when where why how all any both each
    few more most other some such no nor not only own same than too very can will just should
    would could may might must shall now also according say said says tell told think thinks
    did does do one ones still yet ever even much many what's whats it's""".split()
)
PRONOUNS_PERSON = {"he", "him", "his", "she", "her", "hers", "himself", "herself"}
ANAPHORA = PRONOUNS_PERSON | {
    "they", "them", "their", "theirs", "it", "its", "this", "that", "these", "those", "there",
    "then", "such", "the same", "former", "latter",
}
FOLLOW_UP_START = re.compile(
    r"^(and|but|so|also|then|what about|how about|what else|why|why not|until when|since when|"
    r"how come|really|is it|was it|are they|were they|does it|did it|did they|do they)\b",
    re.I,
)


def normalize_question(text: str) -> str:
    """Drop control characters and NULs, fold whitespace; keep everything else as typed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if (c.isprintable() or c in " \t\n") else " " for c in text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    return [w.lower().strip("'’.-") for w in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w and w not in STOP]


def entities(text: str) -> list[str]:
    """Capitalised word runs; a lone capitalised word that starts a sentence does not count."""
    found = []
    for m in re.finditer(r"(?:[A-Z][\w’'-]*)(?:\s+[A-Z][\w’'-]*)*", text):
        parts = m.group(0).split()
        sentence_start = m.start() == 0 or re.search(r"[.!?:;\"“]\s*$", text[: m.start()])
        if sentence_start and len(parts) == 1:
            continue
        while parts and parts[0].lower() in STOP:
            parts = parts[1:]
        if parts:
            found.append(" ".join(parts))
    return found
