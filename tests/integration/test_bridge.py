"""Two-document (bridge) questions on made-up documents: both documents are cited."""

from __future__ import annotations

from pathlib import Path

import pytest

DOCS = {
    "film.txt": "The Silver Harbour\n\nThe Silver Harbour is a 1998 drama film about a fishing town "
                "in decline. The film was directed by Tomas Lindqvist and shot on the coast of Norway "
                "over one winter. It won the audience prize at a small festival in Bergen.\n",
    "director.txt": "Tomas Lindqvist\n\nTomas Lindqvist is a film director who was born in Uppsala, "
                    "Sweden, in 1961. He studied painting in Stockholm before turning to cinema. "
                    "Lindqvist now lives in Gothenburg with his family.\n",
    "bakery.txt": "Rye bread\n\nRye bread is made with flour from rye grain. It is darker and denser "
                  "than wheat bread and keeps fresh for longer. Bakers in the north often add "
                  "caraway seeds to the dough.\n",
    "comets.txt": "Comets\n\nA comet is an icy body that releases gas when it passes close to the Sun. "
                  "Its tail always points away from the Sun. Some comets return every few years.\n",
}


@pytest.fixture(scope="module")
def small_assistant(tmp_path_factory: pytest.TempPathFactory, embedder, model_path: str):  # noqa: ANN001, ANN201
    from index.build import build_index
    from index.search import SearchIndex
    from index.settings import IndexSettings
    from rag.assistant import Assistant
    from rag.settings import RagSettings

    root = tmp_path_factory.mktemp("bridge")
    for name, text in DOCS.items():
        (root / "docs").mkdir(exist_ok=True)
        (root / "docs" / name).write_text(text, encoding="utf-8")
    settings = IndexSettings(docs_dir=Path(root / "docs"), index_dir=root / "idx", model_path=model_path,
                             precision="fp32")
    build_index(settings, embedder=embedder)
    return Assistant(RagSettings(index=settings), index=SearchIndex.load(settings), embedder=embedder)


def test_bridge_question_cites_both_documents(small_assistant) -> None:  # noqa: ANN001
    answer = small_assistant.answer("In which city was the director who made The Silver Harbour born?")
    assert not answer.abstained, answer
    assert "Uppsala" in answer.text
    assert {c.doc_id for c in answer.citations} == {"film.txt", "director.txt"}
    for c in answer.citations:  # each cited sentence is a verbatim slice of its document
        assert DOCS[c.doc_id][c.sentence_start:c.sentence_end] == c.sentence


def test_a_plain_question_stays_in_one_document(small_assistant) -> None:  # noqa: ANN001
    answer = small_assistant.answer("Where does the tail of a comet point?")
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} == {"comets.txt"}
    assert "away from the Sun" in answer.text
