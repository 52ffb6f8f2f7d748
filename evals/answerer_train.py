"""Training and cross-validating the answer scorer (``rag train-answerer``, ``rag eval --folds``).

Every question goes through the assistant's own pipeline up to the candidate sentences
(resolution, retrieval, features), once. Candidates are labelled from the dataset: a sentence
answers when it holds a gold answer and overlaps the gold evidence. Then:

- the sentence model (gradient-boosted trees, or logistic regression) learns P(answers);
- the answer model learns P(answerable) from question-level features of the scored
  candidates, on out-of-fold sentence probabilities (stacking, so it sees the scores it will
  see on new questions);
- the abstention threshold is the answer probability below which a chosen share of the
  answerable training questions fall (``target_false_abstention``), on out-of-fold scores;
- the answer policy (the second-sentence ratio, and whether each kind of context sentence
  joins: the one a back-reference leans on, a why/how explanation, a second document's best
  for a question about two) is the one with
  the best out-of-fold accuracy whose mean answer length stays within ``max_mean_words``;
  answers are simulated through the served answerer's own ``rag.extractive.choose``.

Folds are by document: all questions on one document are in the same fold, so a held-out
score never comes from a document the model was trained on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evals.metrics import contains_answer, normalize
from rag.candidates import QUESTION_FEATURES, SENTENCE_FEATURES, Candidate, question_features
from rag.extractive import Shape, choose
from rag.scorer import FORMAT, Model, ScorerError
from rag.settings import AnswerSettings
from rag.text import without_markers

ModelKind = Literal["trees", "logistic"]
RATIOS = (1.01, 0.9, 0.8, 0.7, 0.6, 0.5)  # 1.01: never a second sentence on probability alone
# the answer policies measured (rag.extractive.choose): a close second sentence, and each kind of
# context sentence on or off
# ... or more sentences by their likely gain per word (rag.extractive.by_gain_per_word)
PER_WORD = (0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02)
POLICIES = tuple({"second_ratio": r, "lean": lean, "explain": explain, "both": both}
                 for lean, explain, both in itertools.product((True, False), repeat=3) for r in RATIOS) \
    + tuple({"per_word": w, "lean": lean, "explain": explain, "both": both}
            for lean, explain, both in itertools.product((True, False), repeat=3) for w in PER_WORD)

# the served answer's limits under the default settings (AnswerSettings)
SERVED = Shape.of(AnswerSettings())
MIN_ITEMS, MIN_PER_CLASS = 100, 10  # below this the inner folds cannot fit both models


@dataclass
class Example:
    """One QA item with its candidate sentences (features, texts) and their labels."""

    item: dict[str, Any]
    group: str
    cands: list[Candidate]
    labels: np.ndarray
    query: str = ""  # the question as resolved (what the reader reads)
    asked: str = ""  # the resolved question the answerer sees (Query.text)

    @property
    def answerable(self) -> bool:
        return bool(self.item["answerable"])

    @property
    def source(self) -> str:
        """The training set the question came from (its group's prefix)."""
        return self.group.split("/", 1)[0]


@dataclass(frozen=True)
class TreeParams:
    """Boosted trees' settings (sklearn's HistGradientBoostingClassifier).

    The defaults (and SMALL_TREES) by cross-validation (`python -m evals.scorer_sweep`,
    2026-12-05: the bundled training's data, folds, seeds and out-of-fold readers; held out,
    always reading, accuracy / false abstention / unanswerable abstained on all three sets):
    these 0.761 / 0.044 / 0.237; the sentence model with 600 trees at a rate of 0.03 0.760 /
    0.043 / 0.234, 150 trees 0.759 / 0.045 / 0.233, 63 leaves of depth 10 0.761 / 0.045 /
    0.237, 15 leaves of depth 6 0.758 / 0.040 / 0.236, leaves of at least 200 0.760 / 0.042 /
    0.238; the answer model with 300 trees at 0.03 0.761 / 0.043 / 0.232, 7 leaves of depth 3
    0.760 / 0.045 / 0.237. All within a standard error (about 0.005): the defaults stay."""

    trees: int = 300
    learning_rate: float = 0.06
    leaves: int = 31
    depth: int = 8
    min_leaf: int = 50
    l2: float = 1.0


# the answer model: one row per question, so smaller trees
SMALL_TREES = TreeParams(trees=150, leaves=15, depth=6, min_leaf=30)


@dataclass(frozen=True)
class TrainConfig:
    model: ModelKind = "trees"
    answer_model: ModelKind = "trees"
    inner_folds: int = 4
    target_false_abstention: float = 0.06
    max_mean_words: float = 30.0
    seed: int = 0
    # the served answer's limits (AnswerSettings), so simulated answers are the served ones
    shape: Shape = SERVED
    trees: TreeParams = TreeParams()  # the sentence model's
    answer_trees: TreeParams = SMALL_TREES


# -- data --------------------------------------------------------------------------------------

def _overlap(a: str, b: str) -> float:
    ta, tb = set(normalize(a).split()), set(normalize(b).split())
    return len(ta & tb) / min(len(ta), len(tb)) if ta and tb else 0.0


def label(item: dict[str, Any], cands: Sequence[Candidate]) -> np.ndarray:
    """A candidate answers when it holds a gold answer and (where evidence is given) overlaps it."""
    if not item["answerable"]:
        return np.zeros(len(cands), dtype=bool)
    evidence = item.get("evidence") or []
    out = []
    for c in cands:
        ok = contains_answer(c.text, item.get("answers") or [])
        if ok and evidence:
            ok = max(_overlap(c.text, e) for e in evidence) >= 0.6
        out.append(ok)
    return np.asarray(out, dtype=bool)


def assign_groups(items: list[dict[str, Any]], doc_text: Callable[[str], str]) -> list[str]:
    """The document of each item. An item without ``docs`` (SQuAD's unanswerable questions)
    takes the document of the answerable items around it in file order; where those differ,
    the one sharing more of the question's words."""
    docs = [it["docs"][0] if it.get("docs") else None for it in items]
    out: list[str] = []
    for i, d in enumerate(docs):
        if d is not None:
            out.append(d)
            continue
        prev = next((docs[j] for j in range(i - 1, -1, -1) if docs[j]), None)
        nxt = next((docs[j] for j in range(i + 1, len(docs)) if docs[j]), None)
        options = [x for x in dict.fromkeys([prev, nxt]) if x]
        if not options:
            out.append("?")
            continue
        words = set(normalize(items[i]["question"]).split())
        out.append(max(options, key=lambda doc: len(words & set(normalize(doc_text(doc)).split()))))
    return out


def doc_folds(groups: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Fold of each item: documents shuffled (seeded), each to the fold with fewest items."""
    sizes: dict[str, int] = defaultdict(int)
    for g in groups:
        sizes[g] += 1
    docs = sorted(sizes)
    random.Random(seed).shuffle(docs)
    load = [0] * k
    fold_of: dict[str, int] = {}
    for d in sorted(docs, key=lambda d: -sizes[d]):
        f = min(range(k), key=lambda i: (load[i], i))
        fold_of[d] = f
        load[f] += sizes[d]
    return np.asarray([fold_of[g] for g in groups], dtype=np.int64)


def collect(assistant: Any, items: list[dict[str, Any]], groups: list[str],
            progress: Callable[[int, int], None] | None = None) -> list[Example]:
    """Candidates and labels of every item, through the assistant's own pipeline."""
    out = []
    for n, (item, group) in enumerate(zip(items, groups, strict=True)):
        prepared = assistant.prepare(item["question"], item["history"])
        # no reader here: its logits come out of fold (evals.reader_train.reader_oof)
        cands = assistant.candidates(prepared, read=False)
        out.append(Example(item, group, cands, label(item, cands), prepared.query.for_reader,
                           prepared.query.text))
        if progress and (n + 1) % 200 == 0:
            progress(n + 1, len(items))
    return out


# -- models ------------------------------------------------------------------------------------

def fit_model(x: np.ndarray, y: np.ndarray, kind: ModelKind, seed: int,
              small: bool = False, params: TreeParams | None = None) -> dict[str, Any]:
    """Fit and export to the JSON spec rag.scorer.Model reads."""
    # a feature missing everywhere (the reader's, when training without one) is constant to
    # the model; sklearn's binning refuses an all-missing column
    empty = np.isnan(x).all(axis=0)
    if empty.any():
        x = x.copy()
        x[:, empty] = 0.0
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        # missing values (features of sentences the reader did not read) take the column mean
        fill = np.nan_to_num(np.nanmean(x, axis=0)) if np.isnan(x).any() else np.zeros(x.shape[1])
        x = np.where(np.isnan(x), fill, x)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        clf = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
        return {"type": "logistic", "fill": fill.tolist(), "mean": mean.tolist(), "scale": scale.tolist(),
                "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0])}
    from sklearn.ensemble import HistGradientBoostingClassifier

    tp = params or (SMALL_TREES if small else TreeParams())
    clf = HistGradientBoostingClassifier(
        max_iter=tp.trees, learning_rate=tp.learning_rate, max_leaf_nodes=tp.leaves,
        max_depth=tp.depth, min_samples_leaf=tp.min_leaf, l2_regularization=tp.l2,
        early_stopping=False, random_state=seed).fit(x, y)
    return export_trees(clf)


def export_trees(clf: Any) -> dict[str, Any]:
    trees = [p[0].nodes for p in clf._predictors]
    width = max(len(t) for t in trees)
    depth = int(max(t["depth"].max() for t in trees)) + 1

    def pad(field: str, fill: float | int | bool) -> list[list[Any]]:
        rows = []
        for t in trees:
            vals = t[field].tolist() + [fill] * (width - len(t))
            rows.append(vals)
        return rows

    spec = {"type": "trees", "baseline": float(np.ravel(clf._baseline_prediction)[0]),
            "depth": depth, "feature": pad("feature_idx", 0),
            "threshold": [[float(v) for v in r] for r in pad("num_threshold", 0.0)],
            "left": pad("left", 0), "right": pad("right", 0),
            "leaf": [[bool(v) for v in r] for r in pad("is_leaf", True)],
            "value": [[round(float(v), 9) for v in r] for r in pad("value", 0.0)],
            "missing_left": [[bool(v) for v in r] for r in pad("missing_go_to_left", True)]}
    return spec


def _sentence_xy(data: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    rows = [e for e in data if e.answerable and e.cands and e.labels.any()]
    if not rows or all(e.labels.all() for e in rows):
        raise ValueError("the training data has no answerable question with both a right and a "
                         "wrong candidate sentence")
    x = np.concatenate([np.stack([c.features for c in e.cands]) for e in rows])
    y = np.concatenate([e.labels for e in rows]).astype(np.int64)
    return x, y


def _probs(model: Model, e: Example) -> np.ndarray:
    return model.proba(np.stack([c.features for c in e.cands])) if e.cands else np.zeros(0)


def _qfeats(e: Example, probs: np.ndarray) -> np.ndarray:
    for c, p in zip(e.cands, probs, strict=True):
        c.prob = float(p)
    return question_features(e.cands, probs)


def answer_words(e: Example, probs: np.ndarray, threshold: float, policy: dict[str, Any],
                 shape: Shape) -> tuple[str, int]:
    """The answer text the served answerer would give from these probabilities
    (rag.extractive.choose); empty when it has no answer sentence."""
    for c, p in zip(e.cands, probs, strict=True):
        c.prob = float(p)
    chosen = choose(e.cands, e.asked or e.item["question"], threshold, policy, shape)
    text = " ".join(c.text.strip() for c in chosen)
    return text, len(text.split())


def outcome(e: Example, probs: np.ndarray, pa: float, threshold: float, policy: dict[str, Any],
            shape: Shape) -> tuple[bool, bool, int]:
    """(abstained, right, words) of the served answer to one question."""
    if not e.cands or pa < threshold:
        return True, False, 0
    text, n = answer_words(e, probs, threshold, policy, shape)
    if not text:
        return True, False, 0
    return False, bool(e.answerable and n <= 120 and contains_answer(text, e.item["answers"])), n


def simulate(data: list[Example], probs: list[np.ndarray], pa: np.ndarray, threshold: float,
             policy: dict[str, Any], shape: Shape) -> dict[str, float]:
    """Held-out answer metrics of a policy (the served answer's sentences, abstention)."""
    rows = [(e.answerable, *outcome(e, p, a, threshold, policy, shape))
            for e, p, a in zip(data, probs, pa, strict=True)]
    return summarise(rows)


def summarise(rows: Sequence[tuple[bool, bool, bool, int]]) -> dict[str, float]:
    """Metrics of (answerable, abstained, right, words) rows."""
    answerable = sum(1 for r in rows if r[0])
    unans = len(rows) - answerable
    correct = sum(1 for r in rows if r[0] and r[2])
    false_abst = sum(1 for r in rows if r[0] and r[1])
    abst_una = sum(1 for r in rows if not r[0] and r[1])
    words = [r[3] for r in rows if not r[1]]
    return {"accuracy": correct / answerable if answerable else 0.0,
            "false_abstention": false_abst / answerable if answerable else 0.0,
            "abstention_recall": abst_una / unans if unans else 0.0,
            "answer_words": float(np.mean(words)) if words else 0.0,
            "answerable": answerable, "unanswerable": unans}


def threshold_for(pa: np.ndarray, answerable: np.ndarray, target: float) -> float:
    """The answer probability below which ``target`` of the answerable questions fall."""
    scores = np.sort(pa[answerable])
    if not len(scores):
        return 0.5
    return float(np.quantile(scores, target)) if target > 0 else 0.0


def fit_answerer(data: list[Example], cfg: TrainConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both models, the threshold and the policy from ``data``; returns (spec, inner metrics)."""
    answerable = sum(e.answerable for e in data)
    if len(data) < MIN_ITEMS or min(answerable, len(data) - answerable) < MIN_PER_CLASS:
        raise ScorerError(
            f"Too few questions to train an answer scorer on: {len(data)} ({answerable} answerable, "
            f"{len(data) - answerable} unanswerable); it needs at least {MIN_ITEMS}, with "
            f"{MIN_PER_CLASS} of each kind. Use fewer --folds or a larger question set.")
    groups = [e.group for e in data]
    if len(set(groups)) < 2:  # one document: folds by item instead
        groups = [str(i) for i in range(len(data))]
    inner = doc_folds(groups, max(2, min(cfg.inner_folds, len(set(groups)))), cfg.seed)
    oof: list[np.ndarray] = [np.zeros(0)] * len(data)
    for f in range(int(inner.max()) + 1):
        train = [e for e, g in zip(data, inner, strict=True) if g != f]
        model = Model(fit_model(*_sentence_xy(train), cfg.model, cfg.seed, params=cfg.trees))
        for i in np.flatnonzero(inner == f):
            oof[i] = _probs(model, data[i])
    q = np.stack([_qfeats(e, p) for e, p in zip(data, oof, strict=True)])
    a = np.asarray([e.answerable for e in data])
    # the answer model's own out-of-fold scores choose the threshold and the policy
    pa_oof = np.zeros(len(data))
    for f in range(int(inner.max()) + 1):
        train_idx, test_idx = np.flatnonzero(inner != f), np.flatnonzero(inner == f)
        am = Model(fit_model(q[train_idx], a[train_idx].astype(np.int64), cfg.answer_model, cfg.seed,
                             params=cfg.answer_trees))
        pa_oof[test_idx] = am.proba(q[test_idx])
    threshold = threshold_for(pa_oof, a, cfg.target_false_abstention)
    by_policy = [simulate(data, oof, pa_oof, threshold, p, cfg.shape) for p in POLICIES]
    fitting = [i for i, m in enumerate(by_policy) if m["answer_words"] <= cfg.max_mean_words]
    # the most accurate short enough (a tie: the shorter); none short enough: the shortest
    best = max(fitting, key=lambda i: (by_policy[i]["accuracy"], -by_policy[i]["answer_words"])) \
        if fitting else min(range(len(POLICIES)), key=lambda i: by_policy[i]["answer_words"])
    policy = dict(POLICIES[best])
    spec = {
        "format": FORMAT,
        "sentence_features": SENTENCE_FEATURES,
        "question_features": QUESTION_FEATURES,
        "sentence_model": fit_model(*_sentence_xy(data), cfg.model, cfg.seed, params=cfg.trees),
        "answer_model": fit_model(q, a.astype(np.int64), cfg.answer_model, cfg.seed,
                                  params=cfg.answer_trees),
        "threshold": threshold,
        "policy": policy,
    }
    inner_metrics = {"threshold": threshold, **policy,
                     "by_policy": [{**p, **m} for p, m in zip(POLICIES, by_policy, strict=True)]}
    return spec, inner_metrics


@dataclass
class HeldOut:
    """Out-of-fold scores of every example, from models that never saw its document."""

    probs: list[np.ndarray]
    answer_proba: np.ndarray
    thresholds: list[float]
    policies: list[dict[str, Any]]
    folds: np.ndarray
    shape: Shape = SERVED


def cross_validate(data: list[Example], k: int, cfg: TrainConfig,
                   log: Callable[[str], None] = print) -> HeldOut:
    folds = doc_folds([e.group for e in data], k, cfg.seed)
    probs: list[np.ndarray] = [np.zeros(0)] * len(data)
    pa = np.zeros(len(data))
    thresholds: list[float] = []
    policies: list[dict[str, Any]] = []
    for f in range(k):
        started = time.perf_counter()
        train = [e for e, g in zip(data, folds, strict=True) if g != f]
        spec, _ = fit_answerer(train, cfg)
        sm, am = Model(spec["sentence_model"]), Model(spec["answer_model"])
        for i in np.flatnonzero(folds == f):
            probs[i] = _probs(sm, data[i])
            pa[i] = am.proba(_qfeats(data[i], probs[i]))[0]
        thresholds.append(spec["threshold"])
        policies.append(spec["policy"])
        log(f"fold {f + 1}/{k}: {int((folds == f).sum())} held-out items, "
            f"threshold {spec['threshold']:.3f}, policy {spec['policy']}, "
            f"{time.perf_counter() - started:.0f} s")
    return HeldOut(probs, pa, thresholds, policies, folds, cfg.shape)


def held_out_rows(data: Sequence[Example], held: HeldOut) -> list[tuple[bool, bool, bool, int]]:
    """(answerable, abstained, right, words) of each question, at its own fold's threshold
    and policy."""
    out = []
    for i, e in enumerate(data):
        f = int(held.folds[i])
        out.append((e.answerable, *outcome(e, held.probs[i], float(held.answer_proba[i]),
                                           held.thresholds[f], held.policies[f], held.shape)))
    return out


def held_out_metrics(data: list[Example], held: HeldOut) -> dict[str, float]:
    """Each fold's items scored with that fold's own threshold and policy. Words are the mean
    over all answered questions (it was a mean of the folds' means, which counted a fold with
    none of the items, as the seed set's two documents leave three of five, as 0 words)."""
    return summarise(held_out_rows(data, held))


def abstention_curve(data: list[Example], held: HeldOut) -> list[tuple[float, float, float]]:
    """(threshold, false abstention, abstention recall) over held-out answer probabilities."""
    a = np.asarray([e.answerable for e in data])
    pa = held.answer_proba
    out = []
    for t in np.unique(np.quantile(pa, np.linspace(0, 1, 101))):
        out.append((float(t), float((pa[a] < t).mean()) if a.any() else 0.0,
                    float((pa[~a] < t).mean()) if (~a).any() else 0.0))
    return out


def plot_curve(curves: dict[str, list[tuple[float, float, float]]], path: Path,
               marks: dict[str, tuple[float, float]] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, curve in curves.items():
        ax.plot([c[1] for c in curve], [c[2] for c in curve], label=name)
    for name, (fa, rec) in (marks or {}).items():
        ax.plot([fa], [rec], "o")
        ax.annotate(name, (fa, rec), fontsize=8, xytext=(4, -10), textcoords="offset points")
    ax.set_xlabel("false abstention (answerable questions refused)")
    ax.set_ylabel("abstention recall (unanswerable questions refused)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Abstention on held-out folds (by document)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def data_hash(dataset: Path, docs: Path) -> str:
    h = hashlib.sha256(dataset.read_bytes())
    for p in sorted(docs.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(docs).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def summary_line(name: str, m: dict[str, float]) -> str:
    return (f"{name}: accuracy {m['accuracy']:.3f}, false abstention {m['false_abstention']:.3f}, "
            f"abstention recall {m['abstention_recall']:.3f}, {m['answer_words']:.1f} words"
            + "".join(f", {k.replace('_', ' ')} {m[k]:.3f}" for k in
                      ("abstention_on_topic", "abstention_off_topic") if k in m))


def describe(spec: dict[str, Any]) -> dict[str, Any]:
    def size(m: dict[str, Any]) -> str:
        return f"{len(m['feature'])} trees" if m["type"] == "trees" else f"{len(m['coef'])} weights"

    return {"sentence_model": size(spec["sentence_model"]), "answer_model": size(spec["answer_model"]),
            "threshold": round(spec["threshold"], 4), "policy": spec["policy"]}


def words_of(text: str) -> int:
    return len(without_markers(text).split())


__all__ = ["Example", "TrainConfig", "abstention_curve", "assign_groups", "collect", "cross_validate",
           "data_hash", "describe", "doc_folds", "fit_answerer", "held_out_metrics", "held_out_rows", "json",
           "label", "plot_curve", "simulate", "summary_line", "words_of"]
