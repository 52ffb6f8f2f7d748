"""`rag train-answerer`: collect candidates, cross-validate by document, fit, save, report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.answerer_train import (
    TrainConfig,
    abstention_curve,
    assign_groups,
    collect,
    cross_validate,
    data_hash,
    describe,
    fit_answerer,
    held_out_metrics,
    plot_curve,
    summary_line,
)
from evals.run_eval import DatasetError, git_commit, load_items
from evals.settings import TrainSettings
from index.embed import model_fingerprint, resolve_precision
from rag.extractive import Shape
from rag.scorer import save_scorer


def own_index_dir(docs: Path) -> Path:
    import hashlib

    key = hashlib.sha256(str(docs.resolve()).encode()).hexdigest()[:8]
    return Path(".rag/train") / f"{docs.resolve().parent.name}-{key}"


def portable_settings(settings: TrainSettings) -> dict[str, Any]:
    """The settings as JSON, with the embedding model named by its fingerprint, not its path
    on this machine (the manifest is committed)."""
    out = json.loads(settings.model_dump_json(exclude={"rag": {"llm"}}))
    out["rag"]["index"]["model_path"] = model_fingerprint(settings.rag.index.model_path)
    # paths as seen from the working folder: an absolute path names this machine
    out["data"] = [relative(d) for d in out["data"]]
    out["out"], out["report"] = relative(out["out"]), relative(out["report"])
    return out


def relative(spec: str) -> str:
    """``spec`` (a path, or NAME=PATH...) with an absolute path made relative to the working
    folder."""
    return "=".join(os.path.relpath(p) if Path(p).is_absolute() else p for p in spec.split("="))


def abstention_by_kind(data: list[Any], held: Any) -> dict[str, float]:
    """Held-out abstention on the sets' own unanswerable questions and on the off-topic ones,
    each fold at its own threshold."""
    out = {}
    for key, pick in (("abstention_on_topic", lambda e: e.item.get("type") != "off-topic"),
                      ("abstention_off_topic", lambda e: e.item.get("type") == "off-topic")):
        idx = [i for i, e in enumerate(data) if not e.answerable and pick(e)]
        if idx:
            out[key] = float(sum(held.answer_proba[i] < held.thresholds[held.folds[i]]
                                 for i in idx) / len(idx))
    return out


def off_topic_examples(asked: list[tuple[str, Any, list[dict[str, Any]]]], per_source: int,
                       seed: int, say: Any) -> list[Any]:
    """Questions about other collections, asked of each collection and labelled unanswerable.

    The shared sets' unanswerable questions are all on topic (SQuAD 2.0's were written against
    the paragraph), so without these the scorer never sees a question its documents are not
    about at all. Each collection gets ``per_source`` opening questions (no history) drawn,
    seeded, from the other sets (at most a quarter of the set's own count); they form their own
    cross-validation groups."""
    import random

    from evals.answerer_train import collect

    out = []
    for name, assistant, _ in asked:
        pool = [it for other, _, items in asked if other != name for it in items
                if not it["history"] and it["answerable"]]
        if not pool:
            continue
        # at most a quarter of the set's own questions, so a small set is not swamped by them
        # (300 off-topic beside the seed dev set's 40 made its answerable paraphrases look off
        # topic: false abstention 0.28 there)
        own = len(next(items for other, _, items in asked if other == name))
        picked = random.Random(seed).sample(pool, min(per_source, own // 4, len(pool)))
        items = [{**it, "id": f"off-topic/{name}/{it['id']}", "answerable": False, "answers": [],
                  "evidence": [], "docs": [], "type": "off-topic"} for it in picked]
        say(f"{name}: {len(items)} questions about other collections (off topic) …")
        found = collect(assistant, items, [f"off-topic/{name}/{i % 10}" for i in range(len(items))])
        out += found
    return out


def reader_config(settings: TrainSettings) -> Any:
    from evals.reader_train import ReaderConfig

    return ReaderConfig(epochs=settings.reader_epochs, seed=settings.seed,
                        lr=settings.reader_lr, head_lr=20 * settings.reader_lr,
                        max_length=settings.reader_window, negatives=settings.reader_negatives,
                        precision=settings.served_precision, layers=settings.reader_layers,
                        perturb=settings.reader_perturb,
                        loss=None if settings.reader_loss == "pointwise" else settings.reader_loss,
                        train_precision=reader_train_precision(settings.reader_train_precision),
                        soup=settings.reader_soup if (settings.reader_soup or 1) > 1 else None,
                        span=settings.reader_span)


def reader_train_precision(setting: str) -> str | None:
    """The training passes' arithmetic for ReaderConfig: "bf16", or None for fp32 (auto: bf16
    where the CPU has AMX tiles)."""
    chosen = resolve_precision(setting)
    return None if chosen == "fp32" else chosen


def reader_stage(data: list[Any], settings: TrainSettings, say: Any) -> dict[str, Any]:
    """Out-of-fold reader logits into every candidate's features: ``reader_folds`` readers,
    each trained on the other folds' documents and scoring its own fold. Cached by data hash."""
    from evals.answerer_train import doc_folds
    from evals.reader_train import reader_data, reader_oof, reader_quality
    from rag.candidates import set_reader

    t = time.perf_counter()
    cfg = reader_config(settings)
    rd = reader_data(data)
    folds = doc_folds(rd.groups, settings.reader_folds, settings.seed)
    logits = reader_oof(rd, settings.rag.index.model_path, cfg, folds,
                        Path(settings.rag.index.cache_dir) / "reader-oof", say)
    reads = reads_of(settings)
    # the reader is trained on its top picks; answering reads the first ``reads`` of them
    for e, picked, lg in zip(data, rd.picks(reads), logits, strict=True):
        if len(picked):
            set_reader(e.cands, picked, lg[picked])
    # the reader's own figures, among the top it is trained on (the same whatever it reads)
    quality = reader_quality(rd, logits, cfg.top)
    say(f"reader out of fold: picks a right sentence first {quality['top1_of_read']:.3f}, "
        f"AUC {quality['auc']:.3f}; it reads {reads} per question")
    return {"settings": cfg.__dict__, "reads": reads, "out_of_fold": quality,
            "folds": settings.reader_folds,
            "oof_seconds": round(time.perf_counter() - t, 1)}


def reads_of(settings: TrainSettings) -> int:
    """Candidates the reader scores per question when answering (at most its training top)."""
    top = reader_config(settings).top
    return min(settings.reader_reads or top, top)


def final_reader(data: list[Any], settings: TrainSettings, info: dict[str, Any],
                 sources: list[dict[str, Any]], say: Any) -> dict[str, Any]:
    """The reader trained on every question, saved beside the scorer; its entry in the spec."""
    import hashlib

    import numpy as np

    from evals.reader_train import reader_data, train_reader
    from index.embed import model_fingerprint
    from rag.reader import manifest_path, read_manifest, save_reader

    t = time.perf_counter()
    cfg = reader_config(settings)
    rd = reader_data(data)
    path = settings.out.with_name("reader.safetensors")
    # the same data and settings train the same reader: kept in the cache under their hash,
    # so a rerun that changes only the scorer's side reuses it
    cached = (Path(settings.rag.index.cache_dir) / "reader-final"
              / f"reader-{rd.digest(cfg, np.zeros(len(data), dtype=int))[:16]}.safetensors")
    if (cached.is_file() and manifest_path(cached).is_file()
            and hashlib.sha256(cached.read_bytes()).hexdigest() == read_manifest(cached).get("sha256")):
        say(f"reader: the final reader from {cached}")
        copy_reader(cached, path)
        written = read_manifest(path)
    else:
        pairs = rd.pairs(range(len(data)), cfg, cfg.seed + 100)
        say(f"training the reader on {len(pairs)} pairs from {len(data)} questions …")
        net = train_reader(pairs, settings.rag.index.model_path, cfg, say)
        written = save_reader(net, {"base_model": model_fingerprint(settings.rag.index.model_path),
                              "max_length": cfg.max_length, "top": cfg.top, "settings": cfg.__dict__,
                              "pairs": len(pairs), "data": sources, "out_of_fold": info["out_of_fold"],
                              "seconds": round(time.perf_counter() - t, 1),
                              "git_commit": git_commit()}, path)
        copy_reader(path, cached)
    info["final_seconds"] = round(time.perf_counter() - t, 1)
    return {"file": path.name, "top": info.get("reads", cfg.top), "sha256": written["sha256"],
            "precision": cfg.precision}


def copy_reader(src: Path, dst: Path) -> None:
    """A reader file and its manifest, each copied atomically."""
    import shutil

    from rag.reader import manifest_path

    dst.parent.mkdir(parents=True, exist_ok=True)
    for a, b in ((src, dst), (manifest_path(src), manifest_path(dst))):
        tmp = b.with_name(f".{b.name}.tmp")
        shutil.copyfile(a, tmp)
        tmp.replace(b)


def fast_stage(unread: list[Any], cfg: Any, full: Any, fast: Any, spec: dict[str, Any],
               say: Any) -> dict[str, Any]:
    """The scorer without the reader fitted on every question (``unread``: the examples with
    the reader's features missing), stored in ``spec`` as the fast stage with the cascade bound
    chosen on the held-out folds of both runs (evals.cascade)."""
    from evals.cascade import choose_bound

    t = time.perf_counter()
    bound = choose_bound(unread, full, fast)
    fast_spec, _ = fit_answerer(unread, cfg)
    spec["fast"] = {k: fast_spec[k] for k in ("sentence_model", "answer_model", "threshold", "policy")}
    spec["fast"]["min_p1"] = bound["min_p1"]
    say(f"cascade: unread from a best-sentence probability of {bound['min_p1']:.3f}, "
        f"{bound['unread_share']:.3f} of the questions; held out accuracy "
        f"{bound['held_out']['accuracy']:.3f} against {bound['full_held_out']['accuracy']:.3f}")
    bound["seconds"] = round(time.perf_counter() - t, 1)
    return bound


def cfg_top(reader: dict[str, Any]) -> int:
    return int(reader["settings"]["top"])


def without_reader(data: list[Any]) -> list[Any]:
    """Copies of the examples with the reader's features missing (the comparison run)."""
    from dataclasses import replace

    import numpy as np

    from rag.candidates import READER_FEATURES, SENTENCE_FEATURES

    cols = [SENTENCE_FEATURES.index(name) for name in READER_FEATURES]
    out = []
    for e in data:
        cands = []
        for c in e.cands:
            f = c.features.copy()
            f[cols] = np.nan
            cands.append(replace(c, features=f))
        out.append(replace(e, cands=cands))
    return out


def by_source(data: list[Any], held: Any) -> dict[str, dict[str, float]]:
    """Held-out metrics of each training set (the group's prefix), each fold at its own threshold."""
    from evals.answerer_train import HeldOut

    out = {}
    for src in dict.fromkeys(e.source for e in data):
        idx = [i for i, e in enumerate(data) if e.source == src]
        follow = [i for i in idx if data[i].item.get("history")]
        for name, part in ((src, idx), (f"{src} follow-ups", follow)):
            if not part or (name != src and len(part) == len(idx)):
                continue
            sub = HeldOut([held.probs[i] for i in part], held.answer_proba[part], held.thresholds,
                          held.policies, held.folds[part], held.shape)
            out[name] = held_out_metrics([data[i] for i in part], sub)
    return out


def to_stderr(msg: str) -> None:
    """Progress for a person at a terminal."""
    print(msg, file=sys.stderr, flush=True)


def train_config(settings: TrainSettings, kind: str | None = None, **more: Any) -> TrainConfig:
    """The scorer's training configuration from the command's settings (``kind``: the sentence
    model's family, default the settings'; ``more``: other TrainConfig fields)."""
    return TrainConfig(kind or settings.model, settings.answer_model,
                       target_false_abstention=settings.target_false_abstention,
                       max_mean_words=settings.max_mean_words, seed=settings.seed,
                       shape=Shape.of(settings.rag.answer), **more)  # the served answer's limits


def add_training_args(ap: argparse.ArgumentParser) -> None:
    """The training options of the evaluation scripts that cross-validate as train-answerer does."""
    ap.add_argument("--data", nargs="+", required=True, help="training sets, as rag train-answerer's")
    ap.add_argument("--target-false-abstention", type=float, default=0.05)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="more",
                    help="another rag train-answerer setting, by its field name (for example "
                         "reader_negatives=7, to read that run's cached out-of-fold readers); "
                         "repeatable")


def training_settings(args: argparse.Namespace) -> TrainSettings:
    """The settings the options give; a bad --set names the setting and why it is bad."""
    more: dict[str, str] = {}
    for spec in args.more:
        name, sep, value = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise SystemExit(f"--set wants NAME=VALUE, not {spec!r}")
        if name not in TrainSettings.model_fields or name in ("data", "folds", "compare",
                                                              "target_false_abstention"):
            raise SystemExit(f"--set: {name!r} is not a training setting these scripts take")
        more[name] = value
    try:
        return TrainSettings(data=args.data, folds=args.folds, compare=False,
                             target_false_abstention=args.target_false_abstention, **more)
    except ValueError as exc:
        raise SystemExit(f"--set: {exc}") from exc


@dataclass
class Gathered:
    """Every training question with its candidates (and their out-of-fold reader logits)."""

    data: list[Any]
    groups: list[str]  # the documents of the training sets' questions (not the off-topic ones)
    sources: list[dict[str, Any]]
    collect_seconds: float
    reader: dict[str, Any] | None


def gather(settings: TrainSettings, say: Callable[[str], None]) -> Gathered:
    """Index each training set, collect every question's candidates, and (with the reader) set
    their out-of-fold reader logits: what cross-validation and the final fit read."""
    from index.build import ensure_index
    from rag.assistant import Assistant

    started = time.perf_counter()
    data, groups, sources, embedder = [], [], [], None
    asked: list[tuple[str, Any, list[dict[str, Any]]]] = []
    for name, docs, dataset in settings.sources():
        if not docs.is_dir() or not dataset.is_file():
            raise DatasetError(f"{name}: needs a documents folder {docs} and a QA file {dataset} "
                               "(evals/SCHEMA).")
        items = load_items(dataset, settings.sample, settings.seed)
        idx = settings.rag.index.model_copy(update={"docs_dir": docs, "index_dir": own_index_dir(docs)})
        ensure_index(idx, progress=True)
        assistant = Assistant(settings.rag.model_copy(update={"index": idx}), embedder=embedder)
        embedder = assistant.embedder
        docs_of = assign_groups(items, lambda d, docs=docs: (docs / d).read_text(encoding="utf-8",
                                                                                 errors="replace"))
        say(f"{name}: collecting candidates for {len(items)} questions on {len(set(docs_of))} "
            "documents …")
        found = collect(assistant, items, docs_of, lambda n, total: say(f"  {n}/{total}"))
        for e in found:
            e.group = f"{name}/{e.group}"
        data += found
        groups += [e.group for e in found]
        sources.append({"name": name, "items": len(items), "documents": sorted(set(docs_of)),
                        "sha256": data_hash(dataset, docs)})
        asked.append((name, assistant, items))
    off = off_topic_examples(asked, settings.off_topic, settings.seed, say)
    data += off
    collect_s = time.perf_counter() - started
    reader = reader_stage(data, settings, say) if settings.reader else None
    return Gathered(data, groups, sources, collect_s, reader)


def train_command(settings: TrainSettings, log: Any = None) -> dict[str, Any]:
    say = log or to_stderr
    started = time.perf_counter()
    got = gather(settings, say)
    data, groups, sources = got.data, got.groups, got.sources
    collect_s, reader = got.collect_seconds, got.reader
    kinds = [settings.model] + ([k for k in ("trees", "logistic") if k != settings.model]
                                if settings.compare else [])
    results: dict[str, Any] = {}
    curves = {}
    marks = {}
    runs: list[tuple[str, str, list[Any]]] = [(kind, kind, data) for kind in kinds]
    unread = without_reader(data) if reader is not None else []
    if reader is not None:
        runs.append((f"{settings.model} without reader", settings.model, unread))
    per_source: dict[str, Any] = {}
    helds: dict[str, Any] = {}
    for name, kind, rows in runs:
        cfg = train_config(settings, kind)
        t = time.perf_counter()
        say(f"cross-validating {name} ({settings.folds} folds by document) …")
        held = cross_validate(rows, settings.folds, cfg, say)
        helds[name] = held
        m = held_out_metrics(rows, held)
        m.update(abstention_by_kind(rows, held))
        m["cv_seconds"] = round(time.perf_counter() - t, 1)
        results[name] = m
        per_source[name] = by_source(rows, held)
        curves[name] = abstention_curve(rows, held)
        marks[f"{name} (chosen)"] = (m["false_abstention"], m["abstention_recall"])
        say(summary_line(f"held-out {name}", m))
        for src, sm in per_source[name].items():
            say(summary_line(f"  {src}", sm))
    cfg = train_config(settings)
    t = time.perf_counter()
    spec, inner = fit_answerer(data, cfg)
    fit_s = time.perf_counter() - t
    cascade = None
    if reader is not None:
        cascade = fast_stage(unread, cfg, helds[settings.model],
                             helds[f"{settings.model} without reader"], spec, say)
        spec["reader"] = final_reader(data, settings, reader, sources, say)
    manifest = {
        "trained": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": git_commit(),
        "data": {"sources": sources, "items": len(data),
                 "documents": sorted({d for src in sources for d in src["documents"]})},
        "settings": portable_settings(settings),
        "model": describe(spec),
        "cross_validated": results,
        "cross_validated_by_source": per_source,
        "reader": reader,
        "cascade": cascade,
        "inner": inner,  # with by_policy: each answer policy's inner out-of-fold figures
        "seconds": {"collect": round(collect_s, 1), "final_fit": round(fit_s, 1),
                    "total": round(time.perf_counter() - started, 1)},
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
    }
    save_scorer(spec, manifest, settings.out)
    report = settings.report
    report.mkdir(parents=True, exist_ok=True)
    plot_curve(curves, report / "abstention_curve.png", marks)
    (report / "metrics.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    lines = ["# Answer scorer", "", f"{len(data)} questions on {len(set(groups))} documents, "
             f"{settings.folds}-fold cross-validation by document.", "",
             "| model | accuracy | false abstention | abstention (on topic) | abstention (off topic) "
             "| mean words | CV seconds |",
             "|---|---|---|---|---|---|---|"]
    for kind, m in results.items():
        on = m.get("abstention_on_topic", m["abstention_recall"])
        off = f"{m['abstention_off_topic']:.3f}" if "abstention_off_topic" in m else "-"
        lines.append(f"| {kind} | {m['accuracy']:.3f} | {m['false_abstention']:.3f} | {on:.3f} | {off} | "
                     f"{m['answer_words']:.1f} | {m['cv_seconds']} |")
    lines += ["", "Held out, by training set:", "",
              "| model | set | accuracy | false abstention | abstention | mean words |",
              "|---|---|---|---|---|---|"]
    for kind, sources_m in per_source.items():
        for src, m in sources_m.items():
            lines.append(f"| {kind} | {src} | {m['accuracy']:.3f} | {m['false_abstention']:.3f} | "
                         f"{m['abstention_recall']:.3f} | {m['answer_words']:.1f} |")
    if reader is not None:
        q = reader["out_of_fold"]
        lines += ["", f"Reader, out of fold ({reader['folds']} folds by document): "
                  f"a right sentence first among the "
                  f"top {cfg_top(reader)} {q['top1_of_read']:.3f}, AUC {q['auc']:.3f}; it reads "
                  f"{reader.get('reads', cfg_top(reader))} per question; "
                  f"{reader.get('oof_seconds')} s out of fold, {reader.get('final_seconds')} s final."]
    if cascade is not None:
        c, full = cascade["held_out"], cascade["full_held_out"]
        lines += ["", f"Cascade: the scorer without the reader answers alone from a best-sentence "
                  f"probability of {cascade['min_p1']:.3f}, for {cascade['unread_share']:.3f} of the "
                  f"questions; held out, accuracy {c['accuracy']:.3f} against {full['accuracy']:.3f} "
                  f"always reading, abstention {c['abstention_recall']:.3f} against "
                  f"{full['abstention_recall']:.3f}, false abstention {c['false_abstention']:.3f} "
                  f"against {full['false_abstention']:.3f}."]
    lines += ["", f"Answer policies (final fit, inner out-of-fold; at most {settings.max_mean_words:g} "
              "mean words; the chosen one first, then the ten most accurate):", "",
              "| second ratio | per word | lean | explain | both | accuracy | mean words |",
              "|---|---|---|---|---|---|---|"]
    keys = ("second_ratio", "per_word", "lean", "explain", "both")
    chosen = {k: inner.get(k) for k in keys}
    rows = sorted(inner["by_policy"], key=lambda m: -m["accuracy"])
    picked = next(m for m in rows if all(m.get(k) == v for k, v in chosen.items()))
    for m in [picked, *[m for m in rows if m is not picked][:10]]:
        lines.append(f"| {m.get('second_ratio', '–')} | {m.get('per_word', '–')} | {m['lean']} | "
                     f"{m['explain']} | {m['both']} | {m['accuracy']:.3f} | {m['answer_words']:.1f} |")
    lines += ["", "![abstention curve](abstention_curve.png)", "",
              f"Saved {settings.out} ({settings.out.stat().st_size / 1e6:.2f} MB): {describe(spec)}"]
    (report / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest
