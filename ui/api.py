"""The plain JSON API served beside the chat page: ``POST /api/ask`` and ``GET /api/documents``.

Same answer structure as ``rag ask --json``. Bad input is a 422 with the reason (FastAPI's
validation, plus the assistant's own checks); with ``--auth`` set, HTTP Basic credentials are
required (401 otherwise). Answers are computed in worker threads, at most ``concurrency`` at
once, so a burst of clients queues here instead of fighting over the two cores.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, ConfigDict, Field

from index.errors import InvalidSetting, RagError
from rag.collection import Collection
from rag.errors import EmptyQuestion
from rag.settings import Mode

BASIC = HTTPBasic(auto_error=False)  # reads the Authorization header; holds no state
MAX_HISTORY = 50
MAX_TEXT = 20_000


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TEXT)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_TEXT, description="the question")
    history: list[TurnIn] = Field(default_factory=list, max_length=MAX_HISTORY,
                                  description="earlier turns of this conversation, oldest first")
    k: int | None = Field(None, ge=1, le=20, description="passages to retrieve")
    mode: Mode | None = Field(None, description="retrieval mode")


def make_api(collection: Collection, auth: tuple[str, str] | None, concurrency: int,
             title: str = "Document assistant") -> FastAPI:
    """A FastAPI app holding the JSON API (no interactive docs; the schema at
    ``/api/openapi.json``)."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    add_api(app, collection, auth, concurrency)
    return app


def add_api(app: FastAPI, collection: Collection, auth: tuple[str, str] | None,
            concurrency: int) -> None:
    """Add ``POST /api/ask`` and ``GET /api/documents`` to ``app``."""
    gate = threading.BoundedSemaphore(concurrency)

    def check(credentials: Annotated[HTTPBasicCredentials | None, Depends(BASIC)]) -> None:
        if auth is None:
            return
        ok = credentials is not None and (
            secrets.compare_digest(credentials.username.encode(), auth[0].encode())
            & secrets.compare_digest(credentials.password.encode(), auth[1].encode()))
        if not ok:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Sign in with the server's user "
                                "and password (HTTP Basic).", headers={"WWW-Authenticate": "Basic"})

    @app.post("/api/ask", dependencies=[Depends(check)])
    def ask(request: AskRequest) -> dict[str, Any]:
        """Answer a question about the documents, with citations (as ``rag ask --json``)."""
        history = [t.model_dump() for t in request.history]
        with gate:
            try:
                answer = collection.assistant.answer(request.question, history, k=request.k,
                                          mode=request.mode)
            except (EmptyQuestion, InvalidSetting) as exc:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
            except RagError as exc:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        return answer.to_json()

    @app.get("/api/documents", dependencies=[Depends(check)])
    def documents() -> dict[str, Any]:
        """What the collection holds: documents with their passages and what cleaning dropped."""
        rows = collection.documents()
        return {"documents": [asdict(r) for r in rows],
                "passages": sum(r.passages for r in rows)}
