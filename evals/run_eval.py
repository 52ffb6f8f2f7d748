"""`rag eval`: every QA item through the same Assistant the UI uses; predictions, metrics, report."""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from evals.metrics import contains_answer, covers, token_f1
from evals.settings import EvalSettings
from index.errors import RagError
from rag.conversation import exchange


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
        "confidence": data.get("confidence"),
        "reader_used": data.get("reader_used"),
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
        rep = [p["repeats_history"] for _, p in pairs if "repeats_history" in p]
        if rep:  # follow-ups whose answer says nothing new (every cited sentence already said)
            m["repeats_history"] = _mean(rep)
        read = [p["reader_used"] for _, p in pairs if p.get("reader_used") is not None]
        if read:  # answers the cascade's fast stage gave without the reader
            m["unread_share"] = _mean(not r for r in read)
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


def fold_assistants(assistant: Any, items: list[dict[str, Any]], k: int, seed: int,
                    log: Any = None) -> tuple[np.ndarray, list[Any]]:
    """Cross-validation by document: the fold of each item, and for each fold an assistant whose
    answer scorer was trained on the other folds only (same settings as the bundled scorer)."""
    from evals.answerer_train import TrainConfig, assign_groups, collect, doc_folds, fit_answerer
    from rag.scorer import AnswerScorer

    docs = Path(assistant.settings.index.docs_dir)

    def text_of(doc: str) -> str:
        path = docs / doc
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    groups = assign_groups(items, text_of)
    if len(set(groups)) < k:
        raise DatasetError(f"--folds {k} needs at least {k} documents; the dataset names "
                           f"{len(set(groups))}.")
    trained = _bundled_training_settings(assistant)
    cfg = TrainConfig(trained.get("model", "trees"),
                      target_false_abstention=trained.get("target_false_abstention", 0.06),
                      max_mean_words=trained.get("max_mean_words", 30.0), seed=seed,
                      shape=assistant.extractive.shape)
    examples = collect(assistant, items, groups,
                       (lambda n, total: log(f"candidates for {n}/{total} items")) if log else None)
    folds = doc_folds(groups, k, seed)
    out = []
    for f in range(k):
        spec, _ = fit_answerer([e for e, g in zip(examples, folds, strict=True) if g != f], cfg)
        out.append(assistant.with_scorer(AnswerScorer.from_spec(spec)))
        if log:
            log(f"fold {f + 1}/{k}: scorer trained on {int((folds != f).sum())} items")
    return folds, out


def _bundled_training_settings(assistant: Any) -> dict[str, Any]:
    try:
        return dict(assistant.extractive.scorer.manifest.get("settings", {}))
    except Exception:  # noqa: BLE001 - no bundled scorer: defaults
        return {}


def _bundled_reads(assistant: Any) -> bool:
    try:
        return assistant.extractive.scorer.reader_file is not None
    except Exception:  # noqa: BLE001 - no bundled scorer
        return False


def trained_on(assistant: Any, items: list[dict[str, Any]]) -> list[str]:
    """Documents of these items that the assistant's scorer was trained on."""
    try:
        seen = set(assistant.extractive.scorer.manifest.get("data", {}).get("documents", []))
    except Exception:  # noqa: BLE001
        return []
    return sorted({d for it in items for d in it.get("docs") or []} & seen)


def replayed(assistant: Any, history: list[dict[str, str]],
             said: dict[tuple[str, ...], str]) -> list[dict[str, str]]:
    """``history`` with each assistant turn replaced by the assistant's own answer to the user
    turn before it, given the replayed turns before that (``said`` caches answers by their
    conversation so far, so a story's turns are answered once each)."""
    out: list[dict[str, str]] = []
    for turn in history:
        if turn["role"] != "user":
            continue
        key = turn_key(out, turn["content"])
        if key not in said:
            said[key] = assistant.answer(turn["content"], out).text
        out += exchange(turn["content"], said[key])
    return out


def turn_key(history: list[dict[str, str]], question: str) -> tuple[str, ...]:
    """A conversation so far and its next question, as the answer cache of ``replayed`` keys it."""
    return (*(t["content"] for t in history), question)


def repeats(answer: Any, history: list[dict[str, str]]) -> bool:
    """The answer says nothing new: every sentence it cites is a whole sentence of an
    assistant turn of ``history`` (the turns' sentences are the text between their markers)."""
    if answer.abstained or not answer.citations:
        return False
    said = {" ".join(part.split()) for t in history if t["role"] == "assistant"
            for part in re.split(r"\s*\[\d+\]\s*", t["content"]) if part.strip()}
    for c in answer.citations:
        at = c.passage.start
        if " ".join(c.passage.text[c.sentence_start - at:c.sentence_end - at].split()) not in said:
            return False
    return True


def run(assistant: Any, dataset: Path, out: Path, judge_model: Any = None,
        sample: int | None = None, seed: int = 0, folds: int = 1, log: Any = None,
        own_history: bool = False) -> dict[str, Any]:
    items = load_items(dataset, sample, seed)
    out.mkdir(parents=True, exist_ok=True)
    if folds > 1:
        fold_of, assistants = fold_assistants(assistant, items, folds, seed, log)
        held_out = f"cross-validated by document, {folds} folds"
        if _bundled_reads(assistant):
            # a reader per fold would cost two fine-tunings; the reader's own held-out figures
            # (out of fold by document) are in rag train-answerer's report
            held_out += ", scorers without the reader"
    else:
        fold_of, assistants = np.zeros(len(items), dtype=np.int64), [assistant]
        overlap = trained_on(assistant, items)
        held_out = "yes" if not overlap else (
            f"NO: the answer scorer was trained on {len(overlap)} of these documents; "
            "use --folds K for a held-out score")
    if own_history:
        held_out += "; histories replayed with the assistant's own answers"
    preds = []
    said: list[dict[tuple[str, ...], str]] = [{} for _ in assistants]
    for item, f in zip(items, fold_of, strict=True):
        history = replayed(assistants[int(f)], item["history"], said[int(f)]) if own_history \
            else item["history"]
        started = time.perf_counter()
        answer = assistants[int(f)].answer(item["question"], history)
        preds.append(prediction(item, answer, (time.perf_counter() - started) * 1000))
        if own_history:  # the next turn of this conversation replays this answer
            said[int(f)].setdefault(turn_key(history, item["question"]), answer.text)
        if history:
            preds[-1]["repeats_history"] = repeats(answer, history)
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    manifest = json.dumps(assistant.index.manifest, sort_keys=True).encode()
    metrics = {"dataset": str(dataset), "sample": sample, "seed": seed, "folds": folds,
               "held_out": held_out, "git_commit": git_commit(),
               "index_manifest_sha256": hashlib.sha256(manifest).hexdigest(),
               "settings": json.loads(assistant.settings.model_dump_json(exclude={"llm": {"api_key"}})),
               "metrics": score(items, preds)}
    if judge_model is not None:
        from evals.judge import judge

        metrics["llm_judge"] = judge(judge_model, items, preds)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    curve = abstention_curve(items, preds)
    metrics["abstention_curve"] = curve
    write_report(metrics["metrics"], out, held_out, curve)
    return metrics


def abstention_curve(items: list[dict[str, Any]], preds: list[dict[str, Any]]) -> list[list[float]]:
    """(threshold, false abstention, abstention recall) as the answer threshold varies."""
    conf = np.asarray([p.get("confidence") if p.get("confidence") is not None else np.nan for p in preds])
    ans = np.asarray([bool(i["answerable"]) for i in items])
    if np.isnan(conf).all() or ans.all() or not ans.any():
        return []
    out = []
    for t in np.unique(np.nanquantile(conf, np.linspace(0, 1, 51))):
        out.append([round(float(t), 4), round(float((conf[ans] < t).mean()), 4),
                    round(float((conf[~ans] < t).mean()), 4)])
    return out


def write_report(metrics: dict[str, Any], out: Path, held_out: str = "",
                 curve: list[list[float]] | None = None) -> None:
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
    extra = []
    if curve:
        fig, ax = plt.subplots(figsize=(5, 3.8))
        ax.plot([c[1] for c in curve], [c[2] for c in curve], color="#c44e52")
        ax.set_xlabel("false abstention")
        ax.set_ylabel("abstention recall")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.set_title("Abstention as the threshold varies")
        fig.tight_layout()
        fig.savefig(out / "abstention_curve.png", dpi=100)
        plt.close(fig)
        extra = ["![abstention curve](abstention_curve.png)", ""]
    lines = ["# Evaluation report", "", f"Held out: {held_out or '-'}", "",
             "![accuracy per type](accuracy_by_type.png)", "", *extra,
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
               settings.sample, settings.seed, settings.folds,
               log=lambda m: print(m, file=sys.stderr, flush=True), own_history=settings.own_history)
