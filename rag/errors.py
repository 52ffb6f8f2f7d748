"""Errors of the rag package; all share the library's root, ``index.errors.RagError``."""

from __future__ import annotations

from index.errors import InvalidSetting, RagError

__all__ = ["BackendUnavailable", "EmptyQuestion", "InvalidSetting", "RagError"]


class EmptyQuestion(RagError):
    def __init__(self) -> None:
        super().__init__("The question is empty. Type a question about the documents.")


class BackendUnavailable(RagError):
    """The configured LLM backend could not be reached or failed."""
