"""The learned answer scorer: two small models stored as JSON, evaluated with numpy.

- the sentence model gives each candidate sentence the probability that it answers the question;
- the answer model gives the question the probability that the documents answer it at all,
  from the scored candidates; below ``threshold`` the assistant abstains.

Both are gradient-boosted trees or a logistic regression, trained by ``rag train-answerer``
(evals/answerer_train.py) and saved without pickle: ``answerer.json`` plus a manifest with its
SHA-256, the training data's hash, the settings and the cross-validated metrics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import RagError
from rag.candidates import QUESTION_FEATURES, SENTENCE_FEATURES

FORMAT = 1
BUNDLED = Path(__file__).resolve().parent / "models" / "answerer.json"


class ScorerError(RagError):
    """The answer scorer's files are missing, damaged or from another feature set."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


class Model:
    """A binary classifier: ``proba(X)`` for a (rows, features) float matrix."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        kind = spec.get("type")
        if kind == "logistic":
            self._mean = np.asarray(spec["mean"], dtype=np.float64)
            self._scale = np.asarray(spec["scale"], dtype=np.float64)
            self._coef = np.asarray(spec["coef"], dtype=np.float64)
            self._intercept = float(spec["intercept"])
            self._fill = np.asarray(spec.get("fill", np.zeros(len(self._mean))), dtype=np.float64)
        elif kind == "trees":
            self._baseline = float(spec["baseline"])
            self._feature = np.asarray(spec["feature"], dtype=np.int64)
            self._threshold = np.asarray(spec["threshold"], dtype=np.float64)
            self._left = np.asarray(spec["left"], dtype=np.int64)
            self._right = np.asarray(spec["right"], dtype=np.int64)
            self._leaf = np.asarray(spec["leaf"], dtype=bool)
            self._value = np.asarray(spec["value"], dtype=np.float64)
            self._missing_left = np.asarray(spec["missing_left"], dtype=bool)
            self._depth = int(spec["depth"])
            self._trees = np.arange(self._feature.shape[0])
            # the same trees with flat node numbers (tree * nodes + node), for raw()'s walk:
            # node n's children at 2n (left) and 2n + 1 (right) of one flat array, each leaf its
            # own child on both sides; a missing value goes the way its node learned by reading
            # column f + features, the input with NaN as -inf (always left), instead of column
            # f, where NaN stays (never <= a threshold: right). 300 trees of depth 9, 40 candidates with
            # missing values: 2.5 ms a call walking tree by tree, 1.1 with flat arrays, less
            # again with these (tests/unit/test_scorer.py holds it to the plain walk)
            width = self._feature.shape[1]
            if np.isnan(self._threshold[~self._leaf]).any():  # the walk compares with <=
                raise ScorerError("a tree of the answer scorer has a split without a threshold")
            self._n_features = int(self._feature[~self._leaf].max(initial=0)) + 1
            own = (self._trees[:, None] * width + np.arange(width)[None, :])
            left = np.where(self._leaf, own, self._left + own - np.arange(width))
            right = np.where(self._leaf, own, self._right + own - np.arange(width))
            self._children = np.stack([left.ravel(), right.ravel()], axis=1).ravel()
            self._flat_feature = np.where(self._leaf, 0, self._feature
                                          + self._n_features * self._missing_left).ravel()
            self._flat_threshold = self._threshold.ravel()
            self._flat_value = self._value.ravel()
            self._roots = self._trees * width
        else:
            raise ScorerError(f"unknown model type {kind!r}")

    def raw(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if self.spec["type"] == "logistic":
            x = np.where(np.isnan(x), self._fill, x)
            return ((x - self._mean) / self._scale) @ self._coef + self._intercept
        # every tree walked at once: node[i, t] is sample i's flat node number in tree t
        if x.shape[1] < self._n_features:
            raise ScorerError(f"{x.shape[1]} features given, the trees read {self._n_features}")
        x = x[:, :self._n_features]
        both = np.concatenate([x, np.where(np.isnan(x), -np.inf, x)], axis=1)
        node = np.broadcast_to(self._roots, (x.shape[0], len(self._trees)))
        rows = np.arange(x.shape[0])[:, None]
        for _ in range(self._depth):
            vals = both[rows, self._flat_feature[node]]
            node = self._children[2 * node + ~(vals <= self._flat_threshold[node])]
        return self._baseline + self._flat_value[node].sum(axis=1)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self.raw(x))


@dataclass(frozen=True)
class AnswerScorer:
    sentence: Model
    answer: Model
    threshold: float
    policy: dict[str, Any]  # second_ratio or per_word (float); lean, explain, both (bool)
    manifest: dict[str, Any]
    # the reader (rag.reader) whose logits the sentence model reads, and how many candidates
    # it reads per question; None: trained without one (its features are missing values)
    reader_file: Path | None = None
    reader_top: int = 0
    reader_sha256: str = ""
    # the precision the reader ran in when its logits were held out for training (older
    # scorers: PyTorch float32, nearest to fp32)
    reader_precision: str = "fp32"
    # the scorer trained without the reader's features, and the best-sentence probability from
    # which its answer stands without reading (None: always read)
    fast: AnswerScorer | None = None
    fast_min_p1: float = 1.0

    def sure_without_reader(self, features: np.ndarray) -> bool:
        """Whether the fast stage is sure enough of these candidates to answer unread."""
        if self.fast is None or not len(features):
            return False
        return self.fast_is_sure(self.fast.sentence_proba(features))

    def fast_is_sure(self, fast_probs: np.ndarray) -> bool:
        """Whether the fast stage's sentence probabilities reach the cascade bound."""
        return self.fast is not None and len(fast_probs) > 0 and float(fast_probs.max()) >= self.fast_min_p1

    def sentence_proba(self, features: np.ndarray) -> np.ndarray:
        return self.sentence.proba(features) if len(features) else np.zeros(0)

    def answer_proba(self, features: np.ndarray) -> float:
        return float(self.answer.proba(features)[0])

    @classmethod
    def from_spec(cls, spec: dict[str, Any], manifest: dict[str, Any] | None = None,
                  folder: Path | None = None) -> AnswerScorer:
        if spec.get("format") != FORMAT:
            raise ScorerError(f"answer scorer format {spec.get('format')!r}, this program reads {FORMAT}; "
                              "retrain it with: rag train-answerer")
        if spec.get("sentence_features") != SENTENCE_FEATURES or (
                spec.get("question_features") != QUESTION_FEATURES):
            raise ScorerError("The answer scorer was trained on other features than this program "
                              "computes; retrain it with: rag train-answerer")
        reader = spec.get("reader")
        reader_file = None
        if reader:
            if folder is None:
                raise ScorerError("This answer scorer reads with a reader; load it from its folder.")
            reader_file = folder / str(reader["file"])
        fast = spec.get("fast")
        if fast is not None and not reader:
            raise ScorerError("The answer scorer's fast stage needs a reader to fall back on; "
                              "retrain it with: rag train-answerer")
        try:
            stage = cls(Model(fast["sentence_model"]), Model(fast["answer_model"]),
                        float(fast["threshold"]), dict(fast.get("policy", {})), {}) if fast else None
            bound = float(fast["min_p1"]) if fast else 1.0
        except (KeyError, TypeError, ValueError) as exc:
            raise ScorerError(f"The answer scorer's fast stage is incomplete ({exc!r}); retrain "
                              "it with: rag train-answerer") from exc
        return cls(Model(spec["sentence_model"]), Model(spec["answer_model"]),
                   float(spec["threshold"]), dict(spec.get("policy", {})), manifest or {},
                   reader_file, int(reader["top"]) if reader else 0,
                   str(reader.get("sha256", "")) if reader else "",
                   str(reader.get("precision", "fp32")) if reader else "fp32", stage, bound)

    @classmethod
    def load(cls, path: Path | str | None = None) -> AnswerScorer:
        """Load and check against its manifest (``answerer.manifest.json`` beside it)."""
        path = Path(path) if path else BUNDLED
        manifest_path = path.with_name(path.stem + ".manifest.json")
        if not path.is_file() or not manifest_path.is_file():
            raise ScorerError(f"No answer scorer at {path} (with its manifest); "
                              "train one with: rag train-answerer")
        data = path.read_bytes()
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            spec = json.loads(data)
        except ValueError as exc:
            raise ScorerError(f"The answer scorer at {path} is unreadable ({exc}).") from exc
        if hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
            raise ScorerError(f"The answer scorer at {path} does not match its manifest "
                              "(checksum differs); retrain it with: rag train-answerer")
        return cls.from_spec(spec, manifest, path.parent)


def save_scorer(spec: dict[str, Any], manifest: dict[str, Any], path: Path) -> None:
    """Write ``answerer.json`` and its manifest (with the file's SHA-256), each atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(spec, separators=(",", ":")).encode()
    manifest = {**manifest, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    for target, payload in ((path, data),
                            (path.with_name(path.stem + ".manifest.json"),
                             json.dumps(manifest, indent=2).encode())):
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(payload)
        tmp.replace(target)
