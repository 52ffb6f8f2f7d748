"""The one typed settings object of the ui package."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.settings import RagSettings


class UISettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rag: RagSettings = Field(default_factory=RagSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=0, le=65535)
    auth: tuple[str, str] | None = None
    share: bool = False
    feedback_log: Path = Path(".rag/feedback.jsonl")
    concurrency: int = Field(default=4, ge=1, le=64)
    mcp: bool = False

    @field_validator("auth", mode="before")
    @classmethod
    def _parse_auth(cls, value: object) -> object:
        if isinstance(value, str):
            user, sep, password = value.partition(":")
            if not sep or not user or not password:
                raise ValueError("auth must look like USER:PASSWORD")
            return (user, password)
        return value

    @staticmethod
    def auth_from_env() -> str | None:
        return os.environ.get("RAG_AUTH") or None
