"""Exceptions of the rag package; only the CLI and the UI turn them into user-facing text."""

from __future__ import annotations


class RagError(Exception):
    """Base class for errors the assistant raises on purpose."""


class EmptyQuestion(RagError):
    def __init__(self) -> None:
        super().__init__("The question is empty. Type a question about the documents.")


class BackendUnavailable(RagError):
    """The configured LLM backend could not be reached or failed."""
