"""The one typed settings object of the rag package (index settings nested)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from index.settings import IndexSettings

Mode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["rrf", "weighted"]
AnswerMode = Literal["extractive", "llm"]
Backend = Literal["none", "openai", "ollama"]


class LLMSettings(BaseModel):
    """An optional LLM answerer; off unless a backend is chosen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Backend = "none"
    model: str = ""
    base_url: str = ""
    api_key: str = ""
    timeout: float = Field(default=60.0, gt=0)
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=16)

    @classmethod
    def from_env(cls, **overrides: object) -> LLMSettings:
        """RAG_LLM_BACKEND, RAG_LLM_MODEL, RAG_LLM_BASE_URL, RAG_LLM_API_KEY, RAG_LLM_TIMEOUT."""
        env = {
            "backend": os.environ.get("RAG_LLM_BACKEND"),
            "model": os.environ.get("RAG_LLM_MODEL"),
            "base_url": os.environ.get("RAG_LLM_BASE_URL"),
            "api_key": os.environ.get("RAG_LLM_API_KEY"),
            "timeout": os.environ.get("RAG_LLM_TIMEOUT"),
        }
        values = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v not in (None, "")})
        return cls.model_validate(values)

    @property
    def enabled(self) -> bool:
        return self.backend != "none"


class RagSettings(BaseModel):
    """How questions are answered. Unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: IndexSettings = Field(default_factory=IndexSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    k: int = Field(default=5, ge=1, le=100)
    mode: Mode = "hybrid"
    fusion: Fusion = "rrf"
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=0.5, ge=0, le=1)
    fetch_k: int = Field(default=50, ge=1, le=1000)
    sentence_weight: float = Field(default=0.7, ge=0, le=1)
    answer_mode: AnswerMode = "extractive"
    history_turns: int = Field(default=4, ge=0, le=20)
    context_weight: float = Field(default=0.5, ge=0, le=2)
    max_answer_words: int = Field(default=80, ge=10, le=400)
    max_answer_sentences: int = Field(default=3, ge=1, le=6)
    answer_passages: int = Field(default=5, ge=1, le=20)
    # calibrated on the dev set by `python -m evals.calibrate` (see README)
    abstain_threshold: float = Field(default=0.22, ge=0, le=1)
    max_question_chars: int = Field(default=4000, ge=100)
