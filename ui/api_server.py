"""`rag api`: the JSON API alone (``POST /api/ask``, ``GET /api/documents``), served by several
worker processes, for throughput beyond one Python interpreter.

In one process Python's lock lets the answer threads use one core at a time; here each uvicorn
worker process loads the index and models once and answers on its own core. The settings
travel to the workers as JSON in one environment variable, so every worker answers with
exactly the settings the command was given.

The listening socket is made here, as a TCP socket by protocol number: uvicorn's own (protocol
0) makes asyncio skip TCP_NODELAY on the connections, and every keep-alive answer then waited
about 40 ms for a delayed ACK (measured: 78 ms against 37 ms for one client).
"""

from __future__ import annotations

import os
import socket
import sys

from fastapi import FastAPI

SETTINGS_ENV = "RAG_API_SETTINGS_JSON"
WORKERS_ENV = "RAG_API_WORKERS"


def create_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory)."""
    from rag.assistant import Assistant
    from rag.collection import Collection
    from rag.threads import worker_settings
    from ui.api import make_api
    from ui.settings import UISettings

    raw = os.environ.get(SETTINGS_ENV)
    settings = UISettings.model_validate_json(raw) if raw else UISettings()
    rag = worker_settings(settings.rag, max(1, int(os.environ.get(WORKERS_ENV, "1"))))
    assistant = Assistant(rag)
    assistant.warm()
    return make_api(Collection(assistant), settings.auth, settings.concurrency,
                    title="Document assistant API")


def tcp_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose connections asyncio sets to TCP_NODELAY."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_api(settings: object, workers: int) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ[SETTINGS_ENV] = settings.model_dump_json()  # type: ignore[attr-defined]
    os.environ[WORKERS_ENV] = str(workers)
    host, port = settings.host, settings.port  # type: ignore[attr-defined]
    config = uvicorn.Config("ui.api_server:create_app", factory=True, host=host, port=port,
                            workers=workers, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    sock = tcp_socket(host, port)
    print(f"Serving the JSON API on http://{host}:{sock.getsockname()[1]}/api/ask with "
          f"{workers} worker process{'es' if workers != 1 else ''} (Ctrl+C to stop)",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(config)
    if workers == 1:
        server.run(sockets=[sock])
    else:
        Multiprocess(config, sockets=[sock]).run()
    return 0
