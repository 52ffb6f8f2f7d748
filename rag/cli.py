"""The `rag` command. Subcommands import their packages lazily, so --help stays fast."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-dir", type=Path, default=Path(".rag/index"),
                   help="index directory (default: .rag/index)")
    p.add_argument("--docs", type=Path, default=Path("seeds"),
                   help="documents folder (default: seeds)")
    p.add_argument("--model-path", default=None,
                   help="local sentence-transformers model directory (default: bundled MiniLM)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="embedding precision when building (default: auto-detect bf16)")


def _rag_args(p: argparse.ArgumentParser) -> None:
    _index_args(p)
    p.add_argument("-k", type=int, default=5, help="passages to retrieve (default: 5)")
    p.add_argument("--mode", choices=["dense", "bm25", "hybrid"], default="hybrid")
    p.add_argument("--answer-mode", choices=["extractive", "llm"], default=None,
                   help="extractive (default) or llm when a backend is configured")
    p.add_argument("--llm-backend", choices=["none", "openai", "ollama"], default=None,
                   help="LLM backend (env RAG_LLM_BACKEND); off by default")
    p.add_argument("--llm-model", default=None, help="model name (env RAG_LLM_MODEL)")
    p.add_argument("--llm-base-url", default=None, help="server URL (env RAG_LLM_BASE_URL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Offline question answering over your documents, with citations.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    idx = sub.add_parser("index", help="build or inspect the index")
    isub = idx.add_subparsers(dest="index_command", required=True, metavar="SUBCOMMAND")
    b = isub.add_parser("build", help="build or update the index from a documents folder")
    _index_args(b)
    b.add_argument("--full", action="store_true", help="rebuild everything, reuse nothing")
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    i = isub.add_parser("info", help="describe the index")
    _index_args(i)
    c = isub.add_parser("show", help="print the cleaned text of one document")
    _index_args(c)
    c.add_argument("doc_id", help="document id (its path inside the documents folder)")
    c.add_argument("--dropped", action="store_true", help="also list what cleaning dropped")

    s = sub.add_parser("search", help="print the passages retrieved for a query")
    _rag_args(s)
    s.add_argument("query")
    s.add_argument("--json", action="store_true")

    a = sub.add_parser("ask", help="answer one question")
    _rag_args(a)
    a.add_argument("question")
    a.add_argument("--json", action="store_true")

    ch = sub.add_parser("chat", help="a conversation in the terminal (/reset, /sources, /quit)")
    _rag_args(ch)

    sv = sub.add_parser("serve", help="the chat UI in the browser (builds the index if missing)")
    _rag_args(sv)
    sv.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    sv.add_argument("--port", type=int, default=7860)
    sv.add_argument("--auth", default=None,
                    help="USER:PASSWORD required to use the UI (env RAG_AUTH)")
    sv.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    sv.add_argument("--feedback-log", type=Path, default=Path(".rag/feedback.jsonl"))
    sv.add_argument("--mcp", action="store_true", help="also serve the ask tool over MCP")

    ev = sub.add_parser("eval", help="answer accuracy on a QA dataset")
    _rag_args(ev)
    ev.add_argument("--dataset", type=Path, default=Path("evals/seed_qa_dev.jsonl"))
    ev.add_argument("--out", type=Path, default=Path("out/eval"))
    ev.add_argument("--judge", action="store_true",
                    help="add LLM-judged faithfulness and relevance (needs an LLM backend)")

    er = sub.add_parser("eval-retrieval", help="nDCG/Recall/MRR on a BEIR-layout dataset")
    er.add_argument("--beir", type=Path, required=True, help="folder with corpus.jsonl etc.")
    er.add_argument("--out", type=Path, default=Path("out/retrieval"))
    er.add_argument("--index-dir", type=Path, default=None)
    er.add_argument("--model-path", default=None)
    er.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    er.add_argument("--limit-queries", type=int, default=None, help="evaluate the first N queries")
    er.add_argument("--max-passage-tokens", type=int, default=160)
    er.add_argument("--fetch", type=int, default=300, help="passages retrieved per query")
    er.add_argument("--sentence-weight", type=float, default=0.7,
                    help="weight of the best sentence in a passage's dense score (needs --sentences)")
    er.add_argument("--dense-weight", type=float, default=0.5, help="dense share in weighted fusion")
    er.add_argument("--sentences", action=argparse.BooleanOptionalAction, default=True,
                    help="also embed every sentence, for best-sentence rescoring (slower build)")
    er.add_argument("--title-context", action=argparse.BooleanOptionalAction, default=True,
                    help="embed and index each passage with its document's title")

    bn = sub.add_parser("bench", help="speed and memory benchmarks")
    bn.add_argument("--out", type=Path, default=Path("out/bench"))
    bn.add_argument("--beir", type=Path, default=None, help="also benchmark on this BEIR corpus")
    bn.add_argument("--quick", action="store_true", help="fewer repetitions, no 100k scaling step")
    bn.add_argument("--no-load", action="store_true", help="skip the 32-session load test")
    return parser


def index_settings(args: argparse.Namespace) -> Any:
    from index.settings import IndexSettings

    values: dict[str, Any] = {"index_dir": args.index_dir, "docs_dir": args.docs,
                              "precision": args.precision}
    if args.model_path:
        values["model_path"] = args.model_path
    return IndexSettings(**values)


def rag_settings(args: argparse.Namespace) -> Any:
    from rag.settings import LLMSettings, RagSettings

    llm = LLMSettings.from_env(backend=args.llm_backend, model=args.llm_model,
                               base_url=args.llm_base_url)
    answer_mode = args.answer_mode or ("llm" if llm.enabled else "extractive")
    return RagSettings(index=index_settings(args), llm=llm, k=args.k, mode=args.mode,
                       answer_mode=answer_mode)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from rag import commands

    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - our own errors become one clear line
        from index.errors import RagIndexError
        from rag.errors import RagError

        if isinstance(exc, RagIndexError | RagError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
