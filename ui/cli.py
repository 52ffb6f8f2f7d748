"""The `rag` command: an interface like the web page, at the top of the layers.

Flags are made from the settings models (index.config), so every setting has one default,
one flag and one environment variable. Subcommands import their heavy packages lazily, so
`rag --help` imports neither torch nor gradio. Every library error (index.errors.RagError)
becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from index.errors import RagError
from ui.flags import Parser, add_settings_flags


def build_parser() -> argparse.ArgumentParser:
    from evals.settings import BeirSettings, BenchSettings, EvalSettings, TrainSettings
    from index.settings import IndexSettings
    from rag.settings import RagSettings, RetrievalSettings
    from ui.settings import UISettings

    parser = Parser(
        prog="rag", description="Offline question answering over your documents, with citations. "
        "Every option can also be set by an environment variable (RAG_<OPTION>).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    idx = sub.add_parser("index", help="build or inspect the index")
    isub = idx.add_subparsers(dest="index_command", required=True, metavar="SUBCOMMAND",
                              parser_class=Parser)
    b = isub.add_parser("build", help="build or update the index from a documents folder")
    b.add_argument("--full", action="store_true",
                   help="read every file and rebuild everything, reuse nothing")
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.add_argument("--vectors-from", type=Path, metavar="DIR", default=None,
                   help="take vectors from an embedding job's Parquet output (rag index embed-job)")
    add_settings_flags(b, IndexSettings)
    j = isub.add_parser("embed-job", help="embed the documents as a Dask job, writing Parquet "
                        "for `index build --vectors-from`")
    j.add_argument("--parquet", type=Path, metavar="DIR", required=True,
                   help="output folder (replaced): part-*.parquet with texts and vectors")
    j.add_argument("--scheduler", default="", metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786); default: a local cluster on 127.0.0.1")
    j.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes of the local cluster (default: 2)")
    add_settings_flags(j, IndexSettings)
    i = isub.add_parser("info", help="describe the index")
    add_settings_flags(i, IndexSettings)
    c = isub.add_parser("show", help="print the cleaned text of one document")
    c.add_argument("doc_id", help="document id (its path inside the documents folder)")
    c.add_argument("--dropped", action="store_true", help="also list what cleaning dropped")
    add_settings_flags(c, IndexSettings)

    s = sub.add_parser("search", help="print the passages retrieved for a query")
    s.add_argument("query")
    s.add_argument("--json", action="store_true", help="print JSON")
    add_settings_flags(s, IndexSettings, RetrievalSettings)

    a = sub.add_parser("ask", help="answer one question")
    a.add_argument("question")
    a.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    add_settings_flags(a, RagSettings)

    ch = sub.add_parser("chat", help="a conversation in the terminal (/reset, /sources, /quit)")
    add_settings_flags(ch, RagSettings)

    sv = sub.add_parser("serve", help="the chat UI in the browser (builds the index if missing)")
    add_settings_flags(sv, UISettings)

    ap = sub.add_parser("api", help="the JSON API alone, in several worker processes")
    ap.add_argument("--workers", type=int, default=2, metavar="N",
                    help="worker processes, each with its own index and models (default: 2)")
    add_settings_flags(ap, UISettings)

    ev = sub.add_parser("eval", help="answer accuracy on a QA dataset")
    add_settings_flags(ev, EvalSettings)

    tr = sub.add_parser("train-answerer", help="train the answer scorer on a QA folder "
                        "(docs/ + qa.jsonl), cross-validated by document")
    add_settings_flags(tr, TrainSettings)

    er = sub.add_parser("eval-retrieval", help="nDCG/Recall/MRR on a BEIR-layout dataset")
    add_settings_flags(er, BeirSettings)

    bn = sub.add_parser("bench", help="speed and memory benchmarks")
    add_settings_flags(bn, BenchSettings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from ui import commands

    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
