"""The typed settings of the evals package: answer evaluation, BEIR retrieval, benchmarks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ConfigDict, Field

from index.config import Settings
from index.settings import IndexSettings
from rag.settings import RagSettings, RetrievalSettings

FROZEN = ConfigDict(extra="forbid", frozen=True)


class EvalSettings(Settings):
    model_config = FROZEN

    rag: RagSettings = Field(default_factory=RagSettings)
    dataset: Path = Field(Path("evals/seed_qa_dev.jsonl"), description="QA items (JSON lines, evals/SCHEMA)")
    out: Path = Field(Path("out/eval"), description="folder for predictions, metrics and report")
    judge: bool = Field(False, description="add LLM-judged faithfulness and relevance (needs an LLM)")
    sample: int | None = Field(None, ge=1, description="evaluate a seeded random sample of N items")
    seed: int = Field(0, description="seed of the sample")

    def with_own_index(self) -> EvalSettings:
        """Another documents folder gets its own index, never the default one."""
        idx = self.rag.index
        if idx.index_dir != IndexSettings.model_fields["index_dir"].default or (
                Path(idx.docs_dir) == Path("seeds")):
            return self
        key = hashlib.sha256(str(Path(idx.docs_dir).resolve()).encode()).hexdigest()[:8]
        own = Path(".rag/eval") / f"{Path(idx.docs_dir).resolve().name}-{key}"
        return self.model_copy(update={"rag": self.rag.model_copy(
            update={"index": idx.model_copy(update={"index_dir": own})})})


class BeirSettings(Settings):
    """`rag eval-retrieval`: the project's index and retrievers on a BEIR-layout folder."""

    model_config = FROZEN

    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    beir: Path = Field(description="folder with corpus.jsonl, queries.jsonl and qrels/test.tsv")
    out: Path = Field(Path("out/retrieval"), description="folder for metrics.json and the index")
    limit_queries: int | None = Field(None, ge=1, description="evaluate the first N queries")


def beir_defaults(beir: Path | None, out: Path | None) -> dict[str, object]:
    """What differs from the chat defaults on a BEIR corpus: abstracts with titles, no page
    boilerplate to clean, deep candidate lists, every passage kept (README "Retrieval choices")."""
    out = out or Path("out/retrieval")
    return {"docs_dir": beir, "index_dir": out / "index", "clean": False, "title_context": True,
            "fetch_k": 300, "dedupe": False}


class BenchSettings(Settings):
    model_config = FROZEN

    out: Path = Field(Path("out/bench"), description="folder for bench.json, bench.md and plots")
    beir: Path | None = Field(None, description="also benchmark on this BEIR corpus")
    quick: bool = Field(False, description="fewer repetitions, no 100k scaling step")
    load: bool = Field(True, description="run the 32-session load test")
