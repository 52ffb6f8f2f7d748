"""The one typed settings object of the rag package: retrieval, answering and the optional LLM,
with the index settings nested. Every field is a flag and an environment variable (index.config)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from index.config import Settings
from index.settings import IndexSettings


class Mode(StrEnum):
    """Which retrievers run."""

    DENSE = "dense"
    BM25 = "bm25"
    HYBRID = "hybrid"


class Fusion(StrEnum):
    """How hybrid retrieval merges the dense and BM25 rankings."""

    RRF = "rrf"
    WEIGHTED = "weighted"


class AnswerMode(StrEnum):
    AUTO = "auto"  # llm when a backend is configured, else extractive
    EXTRACTIVE = "extractive"
    LLM = "llm"


class Backend(StrEnum):
    NONE = "none"
    OPENAI = "openai"
    OLLAMA = "ollama"
    LOCAL = "local"  # the bundled SmolLM2 run by llama.cpp in this process (rag/local_llm.py)


FROZEN = ConfigDict(extra="forbid", frozen=True)


class RetrievalSettings(Settings):
    model_config = FROZEN
    flag_aliases: ClassVar[dict[str, tuple[str, ...]]] = {"k": ("-k",)}

    k: int = Field(5, ge=1, le=100, description="passages to retrieve")
    mode: Mode = Field(Mode.HYBRID, description="retrieval mode")
    # README "Retrieval choices": RRF kept evidence in the top 5 on 0.972 of dev items, weighted 0.889
    fusion: Fusion = Field(Fusion.RRF, description="how hybrid retrieval fuses the rankings")
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion constant")
    dense_weight: float = Field(0.5, ge=0, le=1, description="dense share in weighted fusion")
    fetch_k: int = Field(50, ge=1, le=1000, description="candidates each retriever returns before fusion")
    # README: dev evidence hit@5 (with history) 0.917 -> 0.972 with best-sentence rescoring
    sentence_weight: float = Field(0.7, ge=0, le=1,
                                   description="weight of a passage's best sentence in its dense score")
    dedupe: bool = Field(True, description="drop near-duplicate passages from the results")


class AnswerSettings(Settings):
    model_config = FROZEN

    answer_mode: AnswerMode = Field(AnswerMode.AUTO, description="extractive, llm, or auto")
    history_turns: int = Field(4, ge=0, le=20, description="earlier exchanges used for follow-ups")
    context_weight: float = Field(0.5, ge=0, le=2,
                                  description="weight of the conversation in a follow-up's query")
    max_answer_words: int = Field(80, ge=10, le=400, description="longest extractive answer")
    max_answer_sentences: int = Field(3, ge=1, le=6, description="most sentences in an answer")
    answer_passages: int = Field(5, ge=1, le=20, description="passages the answer may quote")
    answerer_path: str = Field("", description="answer scorer JSON (default: the bundled one, "
                                               "trained by rag train-answerer)")
    abstain_threshold: float | None = Field(
        None, ge=0, le=1, description="abstain below this answer probability (default: the "
                                      "scorer's own, chosen on held-out folds)")
    # questions about something else entirely: no candidate sentence this close to the question.
    # Measured (max cosine over the candidates; 1,236 answerable questions of the three shared
    # sets against 636 opening questions of the other sets asked of each): 0.25 abstains on 0.24%
    # of the answerable and 45% of the off-topic ones (81% on the seeds); 0.30: 0.73% and 61%
    min_similarity: float = Field(0.25, ge=0, le=1, description="abstain when no sentence is this "
                                  "similar to the question (cosine)")
    max_question_chars: int = Field(4000, ge=100, description="longer questions are cut")
    # auto: the precision the scorer was trained with (its reader's logits were held out in it,
    # rag train-answerer --served-precision); the other one gives the scorer logits it was not
    # calibrated on. Figures of the choice in the README (answer scorer)
    # bf16 (OpenVINO, else PyTorch traced with oneDNN's fusion: rag.reader) only pays where the
    # CPU has AMX tiles: auto picks it there for a scorer trained on fp32 logits (figures in the
    # README, "What the reader costs")
    reader_precision: Literal["auto", "fp32", "int8", "bf16"] = Field(
        "auto", description="the reader on ONNX Runtime in fp32 or dynamic int8, or in bf16 on "
                            "OpenVINO (else PyTorch) (auto: as the answer scorer was trained; "
                            "fp32 becomes bf16 where the CPU has AMX)")
    # seed dev set, 8 candidates read per question (python -m evals.reader_latency): fp32 177 ms
    # on one thread, 101 ms on two; int8 132 and 73 ms
    reader_threads: int = Field(0, ge=0, le=64, description="threads the reader uses for one "
                                "answer (0: one per core)")
    # the reader costs most of an answer's time; a scorer trained with a fast stage answers
    # without it when that stage's best sentence is at least as likely as its cascade bound
    # (chosen by rag train-answerer on held-out folds; figures in the README)
    cascade: bool = Field(True, description="skip the reader when the scorer without it is sure "
                          "enough (needs a scorer trained with a fast stage)")


class LLMSettings(Settings):
    """An optional LLM answerer; off unless a backend is chosen."""

    model_config = FROZEN
    prefix: ClassVar[str] = "llm_"
    flag_aliases: ClassVar[dict[str, tuple[str, ...]]] = {"backend": ("--llm",)}

    backend: Backend = Field(Backend.NONE, description="LLM backend; off by default")
    model: str = Field("", description="model name (local: a GGUF file; default the bundled one)")
    base_url: str = Field("", description="server URL")
    api_key: str = Field("", description="API key, if the server needs one")
    timeout: float = Field(60.0, gt=0, description="seconds before a request fails")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")
    max_tokens: int = Field(512, ge=16, description="longest reply")
    # chosen on the bundled model's replies to 40 seed and 30 SQuAD questions
    # (`python -m evals.attribution`): share of cited sentences holding a gold answer 0.39 at
    # 0.7, against 0.33 at 0.6, 0.29 at 0.5 and 0.36 at 0.8 (README, "Optional LLM answerer")
    attribution: float = Field(0.7, ge=0, le=1, description=(
        "a reply that cites nothing gets a citation for each sentence whose content words are "
        "at least this share in one passage sentence (0: never)"))

    @property
    def enabled(self) -> bool:
        return self.backend != Backend.NONE


class RagSettings(Settings):
    """How questions are answered. Unknown fields are an error."""

    model_config = FROZEN

    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    @property
    def answer_mode(self) -> AnswerMode:
        """The mode in force: auto becomes llm when a backend is configured."""
        mode = AnswerMode(self.answer.answer_mode)
        if mode is AnswerMode.AUTO:
            return AnswerMode.LLM if self.llm.enabled else AnswerMode.EXTRACTIVE
        return mode
