"""`rag serve --mcp`: the ask tool through Gradio's MCP server, spoken to by the MCP client."""

from __future__ import annotations

import asyncio
from pathlib import Path

from evals.load import free_port


def test_ask_tool_over_mcp(assistant, tmp_path: Path) -> None:  # noqa: ANN001
    from mcp import ClientSession
    from mcp.client.sse import sse_client

    from ui.app import build_app, launch
    from ui.settings import UISettings

    settings = UISettings(rag=assistant.settings, port=free_port(), feedback_log=tmp_path / "f.jsonl",
                          mcp=True)
    demo = build_app(assistant, settings)
    server = launch(demo, settings, assistant, block=False)

    async def talk() -> tuple[list[str], str]:
        url = f"http://127.0.0.1:{settings.port}/gradio_api/mcp/sse"
        async with sse_client(url) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            names = [t.name for t in tools.tools]
            ask = next(n for n in names if n.endswith("ask"))
            result = await session.call_tool(ask, {"question": "Where does Andrei Lankov live now?"})
            return names, "".join(getattr(c, "text", "") for c in result.content)

    try:
        names, text = asyncio.run(asyncio.wait_for(talk(), timeout=60))
    finally:
        server.close()
    assert any(n.endswith("ask") for n in names)
    assert not any("respond" in n or "on_like" in n for n in names)
    assert "Seoul" in text
    assert "citations" in text and "000_021bd418710c3a0f.txt" in text
