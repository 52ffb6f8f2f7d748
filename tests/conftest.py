"""Shared fixtures: the real bundled model, loaded once; a seeds index built once."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from index.embed import Embedder
from index.settings import IndexSettings, default_model_path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEV_SET = ROOT / "evals" / "seed_qa_dev.jsonl"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def loopback(address: str) -> bool:
    """An address as `ss` or Dask print it (``127.0.0.1:80``, ``[::1]:80``,
    ``[::ffff:127.0.0.1]:80``, ``tcp://127.0.0.1:80``) is on loopback."""
    import ipaddress

    host = address.removeprefix("tcp://").rsplit(":", 1)[0].strip("[]")
    ip = ipaddress.ip_address(host.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def require_chromium() -> None:
    """Browser tests run wherever Chromium is installed; in CI they must never skip."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI (apt-get install chromium)")
        pytest.skip("no Chromium here")


def launch_chromium(playwright: Any) -> Any:
    """Debian's headless Chromium driven by Playwright (no downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def model_path() -> str:
    return default_model_path()


@pytest.fixture(scope="session")
def embedder(model_path: str) -> Embedder:
    # queries on ONNX Runtime as `rag serve` runs them (the export is cached under .rag/cache)
    emb = Embedder(model_path, precision="fp32", query_encoder="auto", cache_dir=ROOT / ".rag" / "cache")
    emb.model  # noqa: B018 - load once for the session
    return emb


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory, model_path: str) -> IndexSettings:
    return IndexSettings(docs_dir=SEEDS, index_dir=tmp_path_factory.mktemp("seed") / "index",
                         model_path=model_path, precision="fp32")


@pytest.fixture(scope="session")
def seed_index(seed_settings: IndexSettings, embedder: Embedder):  # noqa: ANN201
    from index.build import build_index
    from index.search import SearchIndex

    build_index(seed_settings, embedder=embedder)
    return SearchIndex.load(seed_settings)


@pytest.fixture(scope="session")
def assistant(seed_settings: IndexSettings, seed_index, embedder: Embedder):  # noqa: ANN001, ANN201
    from rag.assistant import Assistant
    from rag.settings import RagSettings

    return Assistant(RagSettings(index=seed_settings), index=seed_index, embedder=embedder)


@pytest.fixture(scope="session")
def dev_items() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture
def docs_copy(tmp_path: Path) -> Path:
    """A writable copy of the seed documents."""
    target = tmp_path / "docs"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def ui_server(assistant, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """A real Gradio server over the seed index: (url, feedback log, settings)."""
    from evals.load import free_port
    from ui.app import build_app, launch
    from ui.settings import UISettings

    log = tmp_path_factory.mktemp("fb") / "feedback.jsonl"
    settings = UISettings(rag=assistant.settings, port=free_port(), feedback_log=log)
    demo = build_app(assistant, settings)
    server = launch(demo, settings, assistant, block=False)
    yield f"http://127.0.0.1:{settings.port}/", log, settings
    server.close()
