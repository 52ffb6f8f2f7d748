"""make_passages: whole sentences packed per section, verbatim offsets, sizes within the limit."""

from __future__ import annotations

import re

import pytest

from index.clean import CleanResult, clean_text, units_of
from index.split import make_passages
from index.types import Document, Passage, passage_id


def count(texts: list[str]) -> list[int]:
    """A stand-in for the model tokenizer: one word piece per word."""
    return [len(t.split()) for t in texts]


SKY = """Night Sky Notes

Jupiter rises after sunset this month. Its four large moons show in small binoculars. The Great Red Spot faces us on odd nights.

Saturn follows two hours later. Its rings are tilted wide open.

Subscribe to our newsletter

A meteor shower peaks on the twelfth. Expect twenty meteors an hour from a dark site.
"""
# word counts of the sentences: 3 | 6, 8, 9 | 5, 6 || 7, 9


def doc_of(text: str, doc_id: str = "sky.txt") -> Document:
    return Document(doc_id=doc_id, path=f"/docs/{doc_id}", text=text, sha256="0" * 64, kind="text",
                    title="Night Sky", author="Ann Vega")


def texts(passages: list[Passage]) -> list[str]:
    return [p.text for p in passages]


def check_invariants(doc: Document, passages: list[Passage], max_tokens: int) -> None:
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert p.doc_id == doc.doc_id and p.title == doc.title and p.author == doc.author
        assert p.id == passage_id(doc.doc_id, p.start, p.end, p.text)
        assert count([p.text])[0] <= max_tokens
        assert p.sentences and p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
        prev = p.start
        for s, e in p.sentences:
            assert prev <= s < e <= p.end
            assert doc.text[s:e] == doc.text[s:e].strip()
            prev = e
    assert len({p.id for p in passages}) == len(passages)
    assert [p.start for p in passages] == sorted(p.start for p in passages)


def test_default_sizes_pack_each_section_whole() -> None:
    doc = doc_of(SKY)
    passages = make_passages(doc, clean_text(SKY), count)
    end_first = SKY.index("wide open.") + len("wide open.")
    meteor = SKY.index("A meteor")
    assert [(p.start, p.end) for p in passages] == [(0, end_first), (meteor, len(SKY.rstrip()))]
    assert "newsletter" not in " ".join(texts(passages))
    assert len(passages[0].sentences) == 6 and len(passages[1].sentences) == 2
    check_invariants(doc, passages, 160)


def test_small_limit_with_overlap_by_hand() -> None:
    doc = doc_of(SKY)
    passages = make_passages(doc, clean_text(SKY), count, max_tokens=20, min_tokens=1, overlap=1)
    assert texts(passages) == [
        "Night Sky Notes",
        "Jupiter rises after sunset this month. Its four large moons show in small binoculars.",
        # the paragraph is split over two passages: the second repeats one sentence
        "Its four large moons show in small binoculars. The Great Red Spot faces us on odd nights.",
        "Saturn follows two hours later. Its rings are tilted wide open.",
        "A meteor shower peaks on the twelfth. Expect twenty meteors an hour from a dark site.",
    ]
    assert passages[1].sentences[1] == passages[2].sentences[0]
    check_invariants(doc, passages, 20)


def test_without_overlap_no_sentence_repeats() -> None:
    doc = doc_of(SKY)
    passages = make_passages(doc, clean_text(SKY), count, max_tokens=20, min_tokens=1, overlap=0)
    assert texts(passages)[2] == "The Great Red Spot faces us on odd nights."
    spans = [s for p in passages for s in p.sentences]
    assert len(spans) == len(set(spans)) == 8
    for a, b in zip(passages, passages[1:], strict=False):
        assert a.end <= b.start
    check_invariants(doc, passages, 20)


def test_overlap_is_dropped_when_it_would_not_fit() -> None:
    doc = doc_of(SKY)
    passages = make_passages(doc, clean_text(SKY), count, max_tokens=12, min_tokens=1, overlap=1)
    # 8 + 9 > 12: the carried sentence does not fit, so each sentence stands alone
    assert texts(passages)[1:4] == [
        "Jupiter rises after sunset this month.",
        "Its four large moons show in small binoculars.",
        "The Great Red Spot faces us on odd nights.",
    ]
    check_invariants(doc, passages, 12)


def test_short_paragraphs_merge_with_the_next() -> None:
    doc = doc_of(SKY)
    passages = make_passages(doc, clean_text(SKY), count, max_tokens=20, min_tokens=10, overlap=1)
    # the 3-word title is shorter than min_tokens, so it joins the next paragraph
    assert passages[0].text.startswith("Night Sky Notes\n\nJupiter rises")
    assert passages[0].text.endswith("small binoculars.")
    assert passages[0].sentences[0] == (0, 15)
    check_invariants(doc, passages, 20)


def test_passages_never_cross_dropped_text() -> None:
    doc = doc_of(SKY)
    cleaned = clean_text(SKY)
    (dropped, _), = cleaned.dropped
    for max_tokens in (5, 12, 20, 60, 160):
        for p in make_passages(doc, cleaned, count, max_tokens=max_tokens, min_tokens=48):
            assert p.end <= dropped.start or p.start >= dropped.end


def test_long_sentence_is_cut_at_word_boundaries() -> None:
    words = [f"w{i:02d}" for i in range(30)]
    text = "The recipe lists " + " ".join(words) + ".\n"
    doc = doc_of(text, "long.txt")
    sentence_words = text.split()
    passages = make_passages(doc, clean_text(text), count, max_tokens=10, min_tokens=1)
    sizes = [len(p.text.split()) for p in passages]
    # 33 words cut into pieces of max(8, max_tokens // 2) = 8 words: 8, 8, 8, 8, 1;
    # packing then puts the last two pieces (8 + 1 <= 10) into one passage
    assert sizes == [8, 8, 8, 9]
    assert [len(p.sentences) for p in passages] == [1, 1, 1, 2]
    assert " ".join(texts(passages)).split() == sentence_words
    for p in passages:
        assert re.fullmatch(r"\S(.*\S)?", p.text, re.S)
        assert p.start == 0 or text[p.start - 1] == " "
    check_invariants(doc, passages, 10)


@pytest.mark.parametrize("max_tokens", [5, 7, 9, 16, 40])
@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_invariants_over_sizes(max_tokens: int, overlap: int) -> None:
    text = (
        "Brightloop Support Handbook\n\n"
        "Answer every ticket within a day. Escalate outages to the on-call engineer at once. "
        "Write a short summary when a ticket closes, with the cause and the fix.\n\n"
        "Refunds need a manager's approval. Partial refunds are fine for annual plans.\n\n"
        "Advertisement\n\n"
        "The office is closed on public holidays. Urgent calls go to the shared phone.\n"
    )
    doc = doc_of(text, "handbook.md")
    passages = make_passages(doc, clean_text(text), count, max_tokens=max_tokens, min_tokens=3,
                             overlap=overlap)
    check_invariants(doc, passages, max_tokens)
    # every word of the kept text appears in some passage, in order
    covered = sorted({(s, e) for p in passages for s, e in p.sentences})
    kept_words = " ".join(u.text for u in clean_text(text).kept).split()
    assert " ".join(text[s:e] for s, e in covered).split() == kept_words
    assert "Advertisement" not in " ".join(texts(passages))


def test_hand_built_clean_result_and_stable_ids() -> None:
    text = "Knead the dough. Let it rise for an hour.\n\nBake at two hundred degrees.\n"
    units = units_of(text)
    cleaned = CleanResult(kept=units, sections=[units])
    doc = doc_of(text, "bread.txt")
    first = make_passages(doc, cleaned, count, max_tokens=8, min_tokens=1)
    assert texts(first) == ["Knead the dough.", "Let it rise for an hour.", "Bake at two hundred degrees."]
    assert [p.sentences for p in first] == [((0, 16),), ((17, 41),), ((43, 71),)]
    again = make_passages(doc, cleaned, count, max_tokens=8, min_tokens=1)
    assert [p.id for p in again] == [p.id for p in first]
    other = make_passages(doc_of(text, "rolls.txt"), cleaned, count, max_tokens=8, min_tokens=1)
    assert not {p.id for p in other} & {p.id for p in first}


def test_nothing_kept_means_no_passages() -> None:
    assert make_passages(doc_of("Share\n"), CleanResult(), count) == []


def test_counter_receives_lists_of_sentence_texts() -> None:
    calls: list[list[str]] = []

    def recording(batch: list[str]) -> list[int]:
        assert isinstance(batch, list)
        calls.append(list(batch))
        return count(batch)

    make_passages(doc_of(SKY), clean_text(SKY), recording)
    counted = [t for batch in calls for t in batch]
    assert "Saturn follows two hours later." in counted
    assert "Subscribe to our newsletter" not in counted
