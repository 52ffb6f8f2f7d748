"""The bundled local LLM, measured: its replies on the seed dev set and a seeded sample of the
shared SQuAD split, time to first token, tokens per second, and how the attribution threshold
(``--llm-attribution``, rag.llm.attribute) trades cited replies against correct citations.

    python -m evals.attribution --out out/llm-attribution [--squad-sample 30] [--seed 7]

Replies are generated once (greedy, so repeatable) and saved; every threshold is then applied
to the same replies. A citation counts as correct when the cited sentence holds a gold answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from evals.metrics import contains_answer
from evals.run_eval import load_items

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def generate(assistant: Any, items: list[dict[str, Any]], log: Any) -> list[dict[str, Any]]:
    from rag.llm import stream_tokens

    rows = []
    for n, item in enumerate(items, 1):
        started = time.perf_counter()
        p = assistant.prepare(item["question"], item.get("history", []), answer_mode="llm")
        first, chunks, text = None, 0, ""
        for token in stream_tokens(assistant.chat_model(), p.query.text, p.hits):
            first = first if first is not None else time.perf_counter()
            chunks += 1
            text += token
        end = time.perf_counter()
        gen = end - (first or end)
        rows.append({"id": item["id"], "reply": text, "hits": p.hits, "query": p.query.text,
                     "first_token_s": (first or end) - started, "seconds": end - started,
                     "tokens_per_s": (chunks - 1) / gen if gen > 0 and chunks > 1 else None})
        log(f"{n}/{len(items)} {rows[-1]['seconds']:.1f} s")
    return rows


def score(items: list[dict[str, Any]], rows: list[dict[str, Any]], threshold: float) -> dict[str, float]:
    from rag.llm import finish

    answered = cited = correct = total_cites = 0
    hits = 0
    for item, row in zip(items, rows, strict=True):
        answer = finish(row["reply"], row["hits"], row["query"], threshold)
        if answer.abstained:
            continue
        answered += 1
        golds = item.get("answers") or []
        hits += bool(item["answerable"] and contains_answer(answer.text, golds))
        if answer.citations:
            cited += 1
        for c in answer.citations:
            total_cites += 1
            correct += bool(item["answerable"] and contains_answer(c.sentence, golds))
    return {"threshold": threshold, "accuracy": hits / len(items),
            "cited_replies": cited / max(answered, 1),
            "citation_precision": correct / total_cites if total_cites else float("nan"),
            "citations": total_cites}


def measure(name: str, assistant: Any, items: list[dict[str, Any]], out: Path, log: Any) -> dict[str, Any]:
    rows = generate(assistant, items, log)
    (out / f"{name}_replies.jsonl").write_text("".join(
        json.dumps({k: v for k, v in r.items() if k != "hits"}) + "\n" for r in rows), encoding="utf-8")
    speed = {"first_token_s_p50": statistics.median(r["first_token_s"] for r in rows),
             "seconds_p50": statistics.median(r["seconds"] for r in rows),
             "tokens_per_s_p50": statistics.median(r["tokens_per_s"] for r in rows
                                                   if r["tokens_per_s"] is not None)}
    return {"items": len(items), **speed, "by_threshold": [score(items, rows, t) for t in THRESHOLDS]}


def main(argv: list[str] | None = None) -> int:
    from index.build import ensure_index
    from rag.assistant import Assistant
    from rag.settings import RagSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/llm-attribution"))
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--squad-sample", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    def log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    results = {}
    sets = [("seed_dev", ROOT / "seeds", ROOT / ".rag" / "index", ROOT / "evals" / "seed_qa_dev.jsonl",
             None)]
    squad = args.shared / "evals" / "squad2_dev"
    if squad.is_dir():
        sets.append(("squad_sample", squad / "docs", ROOT / ".rag" / "squad-index", squad / "qa.jsonl",
                     args.squad_sample))
    for name, docs, index_dir, dataset, sample in sets:
        settings = RagSettings.model_validate({"index": {"docs_dir": docs, "index_dir": index_dir},
                                               "llm": {"backend": "local"}})
        ensure_index(settings.index, progress=True)
        items = load_items(dataset, sample, args.seed)
        results[name] = measure(name, Assistant(settings), items, args.out, log)
    (args.out / "attribution.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    for name, r in results.items():
        print(f"\n{name}: {r['items']} questions, first token p50 {r['first_token_s_p50']:.2f} s, "
              f"reply p50 {r['seconds_p50']:.2f} s, {r['tokens_per_s_p50']:.1f} tokens/s")
        print("| threshold | accuracy | replies cited | citation precision | citations |")
        print("|---|---|---|---|---|")
        for row in r["by_threshold"]:
            print(f"| {row['threshold']:.1f} | {row['accuracy']:.3f} | {row['cited_replies']:.3f} | "
                  f"{row['citation_precision']:.3f} | {row['citations']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
