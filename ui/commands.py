"""What each `rag` subcommand does; the argument parsing lives in ui.cli."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any, TextIO

from ui.flags import settings_from_args


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "index":
        return {"build": cmd_build, "info": cmd_info, "show": cmd_show,
                "embed-job": cmd_embed_job}[args.index_command](args)
    handlers = {"search": cmd_search, "ask": cmd_ask, "chat": cmd_chat, "serve": cmd_serve,
                "api": cmd_api,
                "eval": cmd_eval, "eval-retrieval": cmd_eval_retrieval, "bench": cmd_bench,
                "train-answerer": cmd_train}
    return handlers[args.command](args)


def index_settings(args: argparse.Namespace) -> Any:
    from index.settings import IndexSettings

    return settings_from_args(IndexSettings, args)


def rag_settings(args: argparse.Namespace) -> Any:
    from rag.settings import RagSettings

    return settings_from_args(RagSettings, args)


def print_build_report(report: Any, list_unchanged: int = 50, file: TextIO | None = None) -> None:
    """One row per document; in a collection of more than ``list_unchanged`` documents only the
    new and changed ones (``--json`` lists all). To ``file`` (default: standard output)."""
    out = sys.stdout if file is None else file

    def say(*parts: str) -> None:
        print(*parts, file=out)

    say(f"Index: {report.index_dir}  ({report.passages} passages, dense {report.dense_kind}, "
        f"{report.precision}, {report.seconds:.1f} s)")
    say(f"{'document':40} {'status':9} {'passages':>8} {'kept':>9} {'dropped':>9}  dropped by rule")
    rows = report.documents
    hidden = 0
    if len(rows) > list_unchanged:
        shown = [d for d in rows if d.status != "unchanged"]
        hidden, rows = len(rows) - len(shown), shown
    for d in rows:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(d.dropped_by_reason.items())) or "-"
        say(f"{d.doc_id[:40]:40} {d.status:9} {d.passages:8d} {d.kept_chars:8d}c "
            f"{d.dropped_chars:8d}c  {why}")
    for r in report.removed:
        say(f"{r[:40]:40} removed")
    for s in report.skipped:
        print(f"warning: skipped {s.path}: {s.reason}", file=sys.stderr)
    if hidden:
        say(f"... and {hidden} unchanged documents (--json lists them)")
    say(f"embedded {report.embedded_passages} passages, reused {report.reused_passages}")
    if report.extended:
        say(f"{report.extended} HNSW index{'es' if report.extended > 1 else ''} extended "
            "with the new rows, not rebuilt")
    if report.delta_passages:
        say(f"{report.delta_passages} added passages kept in the delta segment beside the "
            "unchanged base (merged into it when the delta passes --delta-max-passages)")


def build_if_missing(settings: Any, progress: bool = True, in_child: bool = False) -> None:
    """Build the index when there is none (or it no longer matches the settings).

    ``in_child``: build in a process of its own (ui.build_child), for the servers, which then
    never load the build's model and PyTorch (`rag serve` on a fresh seeds index, RSS after
    2,000 answers 527 MB against 1,035: README "Speed and load, by the numbers"). Otherwise,
    after a build in this process, the memory it freed is given back to the system (`rag
    serve` in process: 883 MB resident after the build, 692 MB after)."""
    from index.build import build_reason, ensure_index

    if in_child:
        if build_reason(settings) is not None:  # the child logs the reason as it builds
            build_in_child(settings, progress)
        return
    report = ensure_index(settings, progress=progress)
    if report is not None:  # on stderr: standard output is the command's own (`ask --json`)
        print_build_report(report, file=sys.stderr)
        release_freed_memory()


def build_in_child(settings: Any, progress: bool = True) -> None:
    """Run the build in a new Python process (settings as JSON on its stdin, its progress and
    report on this process's terminal); an error if it fails."""
    import subprocess

    from index.errors import BuildFailed

    print(f"Building the index from {settings.docs_dir} in a separate process …",
          file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "ui.build_child"] + ([] if progress else ["--quiet"])
    done = subprocess.run(command, input=settings.model_dump_json(), text=True, check=False)
    if done.returncode != 0:
        raise BuildFailed(f"The index build stopped (exit status {done.returncode}); the "
                          "messages above say why. Nothing was served.")


def release_freed_memory() -> None:
    """Collect garbage and hand the allocator's free memory back to the system (glibc's
    malloc_trim; elsewhere nothing more than the collection)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def cmd_build(args: argparse.Namespace) -> int:
    from index.build import build_index

    settings = index_settings(args)
    embedder = None
    if args.vectors_from is not None:
        from index.embed import Embedder
        from index.ingest import LookupEmbedder

        embedder = LookupEmbedder(args.vectors_from, Embedder.from_settings(settings))
    report = build_index(settings, full=args.full, progress=not args.json, embedder=embedder)
    if embedder is not None:
        print(f"vectors from {args.vectors_from}: {embedder.found} texts found, "
              f"{embedder.missed} embedded here", file=sys.stderr)
    if args.json:
        data = asdict(report)
        data["index_dir"] = str(report.index_dir)
        data["version_dir"] = str(report.version_dir)
        print_json(data)
    else:
        print_build_report(report)
    return 0


def cmd_embed_job(args: argparse.Namespace) -> int:
    from index.ingest import run_job

    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    r = run_job(index_settings(args), args.parquet, args.scheduler, args.workers, progress=True)
    print(f"{r.documents} documents: {r.passages} passages and {r.sentences} sentences embedded "
          f"by {r.workers} workers in {r.seconds:.1f} s ({r.texts_per_second:.0f} texts/s); "
          f"{len(r.files)} Parquet files in {args.parquet}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from index.search import SearchIndex

    idx = SearchIndex.load(index_settings(args))
    m = idx.manifest
    print(f"index      {idx.directory}")
    print(f"created    {m.get('created')}")
    print(f"model      {m['model']['name']} ({m['model']['dimension']} dims, {m['model']['precision']})")
    print(f"dense      {m['dense']['kind']}, {m['count']} passages")
    print(f"settings   {m['settings']}")
    for doc_id, d in m["documents"].items():
        print(f"  {doc_id}: {d['passages']} passages, '{d['title'][:60]}' by {d['author'] or '?'}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from index.build import clean_document
    from index.load import load_file

    settings = index_settings(args)
    path = settings.docs_dir / args.doc_id
    if not path.is_file():
        print(f"error: no document {args.doc_id} in {settings.docs_dir}", file=sys.stderr)
        return 2
    doc = load_file(path, args.doc_id, settings.max_file_bytes)
    cleaned = clean_document(doc, settings.clean)
    print(f"# {doc.title}\n# author: {doc.author or '?'}\n")
    for section in cleaned.sections:
        print("\n\n".join(u.text for u in section))
        print()
    if args.dropped:
        print("---- dropped ----")
        for u, why in cleaned.dropped:
            print(f"[{why}] {u.text[:100]}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from index.embed import Embedder
    from index.search import SearchIndex
    from rag.retrieval.hybrid import HybridSearch
    from rag.settings import RetrievalSettings
    from rag.types import Query

    s = index_settings(args)
    retrieval = settings_from_args(RetrievalSettings, args)
    build_if_missing(s)
    search = HybridSearch(SearchIndex.load(s), Embedder.from_settings(s),
                          retrieval)
    hits = search.search(Query(args.query))
    if args.json:
        print_json([{"rank": h.rank, "score": h.score, "passage_id": h.passage.id,
                     "doc_id": h.passage.doc_id, "start": h.passage.start, "end": h.passage.end,
                     "text": h.passage.text} for h in hits])
        return 0
    for h in hits:
        p = h.passage
        print(f"#{h.rank}  score {h.score:.4f}  {p.doc_id} [{p.start}:{p.end}]")
        print(f"    {p.text[:300]}{'…' if len(p.text) > 300 else ''}\n")
    return 0


def _assistant(args: argparse.Namespace) -> Any:
    from rag.assistant import Assistant

    settings = rag_settings(args)
    build_if_missing(settings.index)
    return Assistant(settings)


def print_answer(answer: Any, sources: bool = True, text: bool = True) -> None:
    if text:
        print(answer.text)
    for n in answer.notices:
        print(f"note: {n}")
    if sources:
        label = "Related reading (does not contain the answer):" if answer.abstained else "Sources:"
        print(f"\n{label}")
        items = ([(c.marker, c.passage) for c in answer.citations] if not answer.abstained
                 else [(h.rank, h.passage) for h in answer.hits[:3]])
        for marker, p in dict.fromkeys(items):
            print(f"  [{marker}] {p.title[:70]} — {p.doc_id} [{p.start}:{p.end}]")


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    if args.json:
        print_json(assistant.answer(args.question).to_json())
        return 0
    from rag.assistant import CHOOSING, SEARCHING

    shown, answer = "", None
    for step in assistant.stream(args.question):  # an LLM's tokens are printed as they come
        if step.answer is not None:
            answer = step.answer
        elif step.text not in (SEARCHING, CHOOSING) and step.text.startswith(shown):
            print(step.text[len(shown):], end="", flush=True)
            shown = step.text
    assert answer is not None
    if shown:
        print()
        if answer.text.strip() != shown.strip():  # markers checked, renumbered or added
            print(f"\nWith citations: {answer.text}")
    print_answer(answer, text=not shown)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from index.errors import RagError
    from rag.types import Turn

    assistant = _assistant(args)
    history: list[Turn] = []
    last = None
    print("Ask about the documents. Commands: /reset, /sources, /quit")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return 0
        cmd = line.strip()
        if cmd == "/quit":
            return 0
        if cmd == "/reset":
            history, last = [], None
            print("(new conversation)")
            continue
        if cmd == "/sources":
            if last is None:
                print("(no answer yet)")
            else:
                print_answer(last, sources=True)
            continue
        try:
            last = assistant.answer(line, history)
        except RagError as exc:
            print(f"error: {exc}")
            continue
        print(f"assistant> {last.text}")
        for n in last.notices:
            print(f"note: {n}")
        history += [Turn("user", line), Turn("assistant", last.text)]


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.settings import UISettings

    settings = settings_from_args(UISettings, args)
    if settings.mcp:
        try:
            import mcp  # noqa: F401
        except ImportError:
            print("error: --mcp needs gradio[mcp], which is not installed here", file=sys.stderr)
            return 2
    build_if_missing(settings.rag.index, in_child=True)
    from ui.app import serve

    return serve(settings)


def cmd_api(args: argparse.Namespace) -> int:
    from ui.settings import UISettings

    if not 1 <= args.workers <= 64:
        print("error: --workers must be from 1 to 64", file=sys.stderr)
        return 2
    settings = settings_from_args(UISettings, args)
    build_if_missing(settings.rag.index, in_child=True)  # once, before the workers start
    from ui.api_server import serve_api

    return serve_api(settings, args.workers)


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.run_eval import evaluate_command, load_items
    from evals.settings import EvalSettings

    settings = settings_from_args(EvalSettings, args).with_own_index()
    load_items(settings.dataset)  # a bad dataset fails before any build
    build_if_missing(settings.rag.index)
    metrics = evaluate_command(settings)
    if "llm_judge" in metrics:
        print(f"LLM judge: {metrics['llm_judge']}")
    print((settings.out / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {settings.out}/predictions.jsonl, metrics.json, report.md "
          f"(commit {metrics['git_commit'][:10]})")
    return 0


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from evals.beir import run_beir
    from evals.settings import BeirSettings, beir_defaults

    settings = settings_from_args(BeirSettings, args, defaults=beir_defaults(args.beir, args.out))
    run_beir(settings)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from evals.bench import run_bench
    from evals.settings import BenchSettings

    return run_bench(settings_from_args(BenchSettings, args))


def cmd_train(args: argparse.Namespace) -> int:
    from evals.settings import TrainSettings
    from evals.train import train_command

    settings = settings_from_args(TrainSettings, args)
    manifest = train_command(settings)
    print((settings.report / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {settings.out} and its manifest; report in {settings.report} "
          f"({manifest['seconds']['total']} s)")
    return 0
