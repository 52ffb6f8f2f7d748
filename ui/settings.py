"""The one typed settings object of the ui package."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, field_validator

from index.config import Settings
from rag.settings import RagSettings


class UISettings(Settings):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rag: RagSettings = Field(default_factory=RagSettings)
    host: str = Field("127.0.0.1", description="bind address")
    port: int = Field(7860, ge=0, le=65535, description="port (0: any free port)")
    auth: tuple[str, str] | None = Field(None, description="USER:PASSWORD required to use the UI")
    feedback_log: Path = Field(Path(".rag/feedback.jsonl"), description="where likes and dislikes go")
    concurrency: int = Field(4, ge=1, le=64, description="answers computed at once")
    mcp: bool = Field(False, description="also serve the ask tool over MCP")
    read_only: bool = Field(False, description="no adding or removing documents from the page")
    max_upload_mb: float = Field(10.0, gt=0, le=1024, description="largest file that can be uploaded")
    max_upload_files: int = Field(20, ge=1, le=1000, description="most files in one upload")
    examples_file: str = Field("rag-examples.json",
                               description="example questions: a JSON list in the documents folder")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @field_validator("auth", mode="before")
    @classmethod
    def _parse_auth(cls, value: object) -> object:
        if isinstance(value, str):
            user, sep, password = value.partition(":")
            if not sep or not user or not password:
                raise ValueError("auth must look like USER:PASSWORD")
            return (user, password)
        return value
