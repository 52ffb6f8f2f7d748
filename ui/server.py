"""Run an ASGI app with uvicorn, in this thread or a background one, on a loopback address by
default; ``Server.close()`` stops it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn


@dataclass
class Server:
    app: Any
    host: str
    port: int
    _server: uvicorn.Server | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _make(self) -> uvicorn.Server:
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning",
                                access_log=False, timeout_graceful_shutdown=5)
        return uvicorn.Server(config)

    def run(self) -> None:
        """Serve until interrupted (Ctrl+C)."""
        self._server = self._make()
        self._server.run()

    def start(self, timeout: float = 60.0) -> Server:
        """Serve from a background thread; return once it accepts connections."""
        self._server = self._make()
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="uvicorn")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
