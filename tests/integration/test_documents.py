"""A folder with a PDF, a Word file and a text file: built, asked, cited with page or heading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from index.build import build_index
from index.embed import Embedder
from index.search import SearchIndex
from index.settings import IndexSettings
from rag.assistant import Assistant
from rag.settings import RagSettings
from tests.unit.docfiles import make_docx, make_pdf

ROOT = Path(__file__).resolve().parents[2]
PDF_PAGES = [
    ["Annual report of the Brennholt ferry company.",
     "The company was founded by three fishermen in the village of Ostervik.",
     "Its first boat carried mail and passengers across the fjord."],
    ["In 1952 the company bought a steel ferry named Solveig from a yard in Bergen.",
     "The Solveig carried up to forty cars on each crossing.",
     "The old wooden boats were sold to a museum."],
]


def make_folder(tmp: Path) -> Path:
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "ferry.pdf").write_bytes(make_pdf(PDF_PAGES, title="Brennholt ferry report"))
    (docs / "orchard.docx").write_bytes(make_docx([
        ("h1", "The Linden orchard"),
        ("p", "The Linden orchard grows apples and pears on the southern slope."),
        ("h2", "Harvest"),
        ("p", "The apple harvest starts in the second week of September and lasts six weeks."),
        ("p", "Pickers come from the neighbouring valleys every autumn.")], title="Orchard notes"))
    (docs / "bakery.txt").write_text(
        "The corner bakery\n\nThe corner bakery opens at six in the morning. It sells rye bread "
        "baked in a wood-fired oven that the owner built himself in 1987.\n", encoding="utf-8")
    return docs


def test_pdf_docx_and_text_build_and_cite_page_and_heading(tmp_path: Path, embedder: Embedder,
                                                          model_path: str) -> None:
    settings = IndexSettings(docs_dir=make_folder(tmp_path), index_dir=tmp_path / "idx",
                             model_path=model_path, precision="fp32")
    report = build_index(settings, embedder=embedder)
    assert not report.skipped
    bot = Assistant(RagSettings(index=settings), index=SearchIndex.load(settings), embedder=embedder)
    answer = bot.answer("What was the name of the steel ferry bought in 1952?")
    assert not answer.abstained and "Solveig" in answer.text
    cite = answer.citations[0]
    assert cite.doc_id == "ferry.pdf" and cite.page == 2
    assert answer.to_json()["citations"][0]["page"] == 2
    # the cited sentence is a verbatim slice of the text the index keeps for the PDF
    assert cite.passage.text[cite.sentence_start - cite.passage.start:
                             cite.sentence_end - cite.passage.start] == cite.sentence
    answer = bot.answer("When does the apple harvest start?")
    assert "September" in answer.text
    assert answer.citations[0].doc_id == "orchard.docx"
    assert answer.citations[0].passage.section in ("Harvest", "The Linden orchard")


def test_rag_ask_json_cites_the_pdf_page(tmp_path: Path) -> None:
    docs = make_folder(tmp_path)
    env = {**os.environ, "RAG_DOCS_DIR": str(docs), "RAG_INDEX_DIR": str(tmp_path / "idx"),
           "RAG_CACHE_DIR": str(ROOT / ".rag" / "cache"), "HF_HUB_OFFLINE": "1"}
    # no index yet: `ask` builds it, and its report goes to stderr, so stdout stays JSON
    out = subprocess.run([sys.executable, "-m", "ui.cli", "ask", "--json",
                          "How many cars did the Solveig carry on each crossing?"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Building the index" in out.stderr and "ferry.pdf" in out.stderr and "new" in out.stderr
    data = json.loads(out.stdout)
    assert "forty" in data["answer"]
    assert data["citations"][0]["doc_id"] == "ferry.pdf" and data["citations"][0]["page"] == 2
    # `index build` is asked for its report: on stdout
    built = subprocess.run([sys.executable, "-m", "ui.cli", "index", "build"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0 and "ferry.pdf" in built.stdout and "unchanged" in built.stdout
    show = subprocess.run([sys.executable, "-m", "ui.cli", "index", "show", "ferry.pdf"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert show.returncode == 0 and "The Solveig carried up to forty cars" in show.stdout
