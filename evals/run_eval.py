"""`rag eval`: every QA item through the same Assistant the UI uses; predictions, metrics, report."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from evals.metrics import contains_answer, covers, token_f1
from evals.settings import EvalSettings
from index.errors import RagError


class DatasetError(RagError):
    """A QA dataset file is missing or malformed."""


def load_items(path: Path, sample: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """QA items of a JSON-lines file (evals/SCHEMA); ``sample``: a seeded random subset."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"No dataset at {path}. Pass --dataset FILE (JSON lines, evals/SCHEMA).")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: not JSON ({exc})") from exc
        missing = {"id", "type", "history", "question", "answerable"} - set(item)
        if missing:
            raise DatasetError(f"{path}:{n}: missing fields {sorted(missing)}")
        items.append(item)
    if not items:
        raise DatasetError(f"{path} holds no QA items.")
    if sample is not None and sample < len(items):
        keep = sorted(random.Random(seed).sample(range(len(items)), sample))
        items = [items[i] for i in keep]
    return items


def prediction(item: dict[str, Any], answer: Any, latency_ms: float) -> dict[str, Any]:
    data = answer.to_json()
    return {
        "id": item["id"],
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [{k: c[k] for k in ("marker", "passage_id", "doc_id", "text", "start", "end")}
                      for c in _unique_markers(data["citations"])],
        "retrieved": [{k: r[k] for k in ("passage_id", "doc_id", "text", "score")}
                      for r in data["retrieved"]],
        "latency_ms": round(latency_ms, 2),
    }


def _unique_markers(citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for c in citations:
        seen.setdefault(c["marker"], c)
    return [seen[m] for m in sorted(seen)]


def score(items: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for item, pred in zip(items, preds, strict=True):
        groups[item["type"]].append((item, pred))
        groups["all"].append((item, pred))
    out: dict[str, Any] = {}
    for name, pairs in groups.items():
        ans = [(i, p) for i, p in pairs if i["answerable"]]
        una = [(i, p) for i, p in pairs if not i["answerable"]]
        m: dict[str, Any] = {"n": len(pairs), "answerable": len(ans), "unanswerable": len(una)}
        if ans:
            m["accuracy"] = _mean(not p["abstained"] and contains_answer(p["answer"], i["answers"])
                                  for i, p in ans)
            m["token_f1"] = _mean(token_f1(p["answer"], i.get("reference", "")) for i, p in ans)
            for k in (1, 3, 5):
                m[f"evidence_hit@{k}"] = _mean(any(covers(r["text"], i["evidence"])
                                                   for r in p["retrieved"][:k]) for i, p in ans)
            cited = [(i, c) for i, p in ans for c in p["citations"]]
            m["citation_precision"] = _mean(covers(c["text"], i["evidence"]) for i, c in cited) \
                if cited else None
            m["false_abstention_rate"] = _mean(p["abstained"] for _, p in ans)
        abstained = [(i, p) for i, p in pairs if p["abstained"]]
        m["abstention_precision"] = _mean(not i["answerable"] for i, _ in abstained) if abstained else None
        m["abstention_recall"] = _mean(p["abstained"] for _, p in una) if una else None
        m["answer_words"] = _mean(len(p["answer"].split()) for _, p in pairs)
        lat = sorted(p["latency_ms"] for _, p in pairs)
        m["latency_ms_p50"] = lat[len(lat) // 2]
        m["latency_ms_p95"] = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
        out[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
    return {k: out[k] for k in sorted(out, key=lambda k: k == "all")}  # the total last


def _mean(values: Any) -> float:
    vals = [float(v) for v in values]
    return sum(vals) / len(vals) if vals else 0.0


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run(assistant: Any, dataset: Path, out: Path, judge_model: Any = None,
        sample: int | None = None, seed: int = 0) -> dict[str, Any]:
    items = load_items(dataset, sample, seed)
    out.mkdir(parents=True, exist_ok=True)
    preds = []
    for item in items:
        started = time.perf_counter()
        answer = assistant.answer(item["question"], item["history"])
        preds.append(prediction(item, answer, (time.perf_counter() - started) * 1000))
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    manifest = json.dumps(assistant.index.manifest, sort_keys=True).encode()
    metrics = {"dataset": str(dataset), "sample": sample, "seed": seed, "git_commit": git_commit(),
               "index_manifest_sha256": hashlib.sha256(manifest).hexdigest(),
               "settings": json.loads(assistant.settings.model_dump_json(exclude={"llm": {"api_key"}})),
               "metrics": score(items, preds)}
    if judge_model is not None:
        from evals.judge import judge

        metrics["llm_judge"] = judge(judge_model, items, preds)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    write_report(metrics["metrics"], out)
    return metrics


def write_report(metrics: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types = [t for t in metrics if t != "all" and metrics[t]["answerable"]]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(types, [metrics[t]["accuracy"] for t in types], color="#4c72b0")
    ax.set_ylim(0, 1)
    ax.set_ylabel("answer accuracy")
    ax.set_title("Answer accuracy per question type")
    fig.tight_layout()
    fig.savefig(out / "accuracy_by_type.png", dpi=100)
    plt.close(fig)
    cols = ["n", "accuracy", "token_f1", "evidence_hit@1", "evidence_hit@5", "citation_precision",
            "abstention_recall", "false_abstention_rate", "answer_words", "latency_ms_p50"]
    lines = ["# Evaluation report", "", "![accuracy per type](accuracy_by_type.png)", "",
             "| type | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for t, m in metrics.items():
        lines.append(f"| {t} | " + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def evaluate_command(settings: EvalSettings) -> dict[str, Any]:
    """`rag eval`: the index must exist (the CLI builds it); returns the metrics written."""
    from rag.assistant import Assistant

    judge_model = None
    if settings.judge:
        if not settings.rag.llm.enabled:
            raise DatasetError("--judge needs an LLM backend (RAG_LLM_BACKEND or --llm-backend).")
        from rag.llm import make_chat_model

        judge_model = make_chat_model(settings.rag.llm)
    load_items(settings.dataset)  # a bad dataset fails before the model loads
    return run(Assistant(settings.rag), settings.dataset, settings.out, judge_model,
               settings.sample, settings.seed)
