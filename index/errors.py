"""The library's one exception root and the index package's errors; each message says what to
do next. Only the interfaces (command line, web app) turn them into text for people."""

from __future__ import annotations


class RagError(Exception):
    """Root of every error the library raises on purpose (index, rag and evals)."""


class InvalidSetting(RagError):
    """A setting from a flag, an environment variable or code has a value it cannot take."""


class RagIndexError(RagError):
    """Base class for every error the index package raises on purpose.

    ``reason`` is what is wrong; ``hint``, the command that fixes it by hand. The message
    holds both; a caller that fixes it by itself (index.build.ensure_index) logs the reason."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(f"{reason} {hint}" if hint else reason)
        self.reason = reason
        self.hint = hint


class NoDocuments(RagIndexError):
    """The documents folder holds nothing usable."""


class IndexNotFound(RagIndexError):
    """No index at the given directory."""


class IndexMismatch(RagIndexError):
    """The index was built with another model, other settings or an older format."""


class IndexCorrupt(RagIndexError):
    """A file of the index is missing, truncated or altered."""


class BuildFailed(RagIndexError):
    """A build run in a process of its own (ui.build_child) did not finish."""


class ModelNotFound(RagIndexError):
    """The embedding model directory cannot be loaded."""


class OnnxUnavailable(RagError):
    """ONNX Runtime (or OpenVINO) is missing, or this model cannot be exported or run by it;
    another engine is used instead (index.onnx_encoder, index.openvino_session)."""


class EngineMissing(OnnxUnavailable):
    """The engine's package is not installed: the next engine is used, with nothing to warn
    about (a failure of an installed engine is logged as a warning)."""


def build_hint(index_dir: object) -> str:
    return f"Build it with: rag index build --index-dir {index_dir}"


def rebuild_hint(index_dir: object, docs_dir: object | None = None) -> str:
    docs = f" --docs {docs_dir}" if docs_dir else ""
    return f"Rebuild it with: rag index build{docs} --index-dir {index_dir} --full"
