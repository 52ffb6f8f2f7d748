"""The reader: a cross-encoder that reads the question and a candidate sentence together.

The sentence features (rag.candidates) compare the question and a sentence through their
separate vectors and their words; they cannot see that a sentence names the right event but
the wrong year, or answers a slightly different question, which is how most unanswerable
questions in SQuAD 2.0 are written. The reader is the bundled all-MiniLM-L6-v2 fine-tuned (by
``rag train-answerer``, evals/reader_train.py) to give the logit that a sentence answers the
question, reading ``question [SEP] sentence [SEP] the sentence before it``. It scores only the
few candidates the cheap features rank highest (``top``); its logit is one more feature of the
learned scorer, and the best logit of a question one more input of the answer model.

Stored without pickle: ``reader.safetensors`` holds the fine-tuned weights in float16 (all but
the word embeddings, which stay the base model's, so the file is about 22 MB) and a manifest
names the base model's fingerprint, the settings and the SHA-256 of the weights. In fp32 and
int8 it runs on ONNX Runtime when available (exported once into the cache folder, checked by
hash), else on PyTorch; in bf16 the same export runs on OpenVINO, else PyTorch runs the network
traced and fused (fused_bf16).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Collection
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import RagError
from index.onnx_encoder import INPUTS, fixed_shape, staged_export
from index.store import file_sha256

log = logging.getLogger(__name__)
FORMAT = 1
BUNDLED = Path(__file__).resolve().parent / "models" / "reader.safetensors"
FROZEN = ("embeddings.word_embeddings.weight",)  # kept from the base model, not stored
# the ONNX export traces the plain ("eager") attention: ONNX Runtime ran it in 96 ms per
# question's 8 pairs against 106 ms for the default (SDPA) trace, same logits within 4e-6
EXPORT_ATTENTION = "eager"
EXPORT_FORMAT = 2  # exports of an older format are made again


class ReaderError(RagError):
    """The reader's weights are missing, damaged or made for another base model."""


def pair_text(sentence: str, before: str = "") -> str:
    """The second segment the reader reads: the sentence, then the one before it (for its
    pronouns); truncation cuts the context first."""
    return f"{sentence.strip()} [SEP] {before.strip()}" if before.strip() else sentence.strip()


def clip_question(measure: Any, question: str, max_length: int) -> str:
    """A question longer than half the reader's window is cut to that half, so the sentence
    keeps the rest; ``measure`` is a `tokenizers` Tokenizer without truncation. Of the shared
    sets' 7,113 questions as the reader reads them (a follow-up with its last exchange), 43 are
    longer than 32 tokens, at most 54."""
    return clipped(measure, question, max_length)[0]


def clipped(measure: Any, question: str, max_length: int) -> tuple[str, Any]:
    """clip_question's text and, when it was not cut, its encoding (None when cut)."""
    limit = max_length // 2
    enc = measure.encode(question, add_special_tokens=False)
    return (question[: enc.offsets[limit - 1][1]], None) if len(enc.ids) > limit else (question, enc)


class PairEncoder:
    """(question, second segment) pairs as the reader's three inputs, the word pieces the
    tokenizer's own pair encoding gives ([CLS] question [SEP] segment [SEP], the segment cut
    to the window: "only_second"), with each segment's word pieces kept for the next
    questions (at most ``cache_size``; they are the collection's sentences). The tokenizer
    took 0.6 ms for a question's 8 pairs; a unit test holds this to its encoding."""

    def __init__(self, measure: Any, max_length: int, cache_size: int = 5_000) -> None:
        if max_length < 8:  # the tokenizer itself refuses to cut a pair to fewer
            raise ReaderError(f"the reader's window must be at least 8 tokens, not {max_length}")
        self.measure = measure  # no truncation, no padding (measuring_tokenizer)
        self.max_length = max_length
        self.cls, self.sep = measure.token_to_id("[CLS]"), measure.token_to_id("[SEP]")
        if self.cls is None or self.sep is None:
            raise ReaderError("the reader's tokenizer has no [CLS] or [SEP] token")
        # each segment's word pieces, no more than the window could ever hold; least recently
        # used dropped first
        self.segment_ids = lru_cache(maxsize=cache_size)(
            lambda text: tuple(measure.encode(text, add_special_tokens=False).ids[:max_length]))

    def question_ids(self, question: str) -> list[int]:
        """The word pieces of the question clipped as clip_question clips it."""
        text, enc = clipped(self.measure, question, self.max_length)
        if enc is None:  # cut: the cut text's own word pieces
            enc = self.measure.encode(text, add_special_tokens=False)
        return list(enc.ids)

    def encode(self, question: str, segments: list[str]) -> dict[str, np.ndarray]:
        first = [self.cls, *self.question_ids(question), self.sep]
        room = max(0, self.max_length - len(first) - 1)
        rows = [[*first, *self.segment_ids(t)[:room], self.sep] for t in segments]
        width = max((len(r) for r in rows), default=0)
        out = {k: np.zeros((len(rows), width), dtype=np.int64) for k in INPUTS}
        for i, r in enumerate(rows):
            out["input_ids"][i, :len(r)] = r
            out["attention_mask"][i, :len(r)] = 1
            out["token_type_ids"][i, len(first):len(r)] = 1
        return out


def measuring_tokenizer(base_path: str) -> Any:
    """The model's tokenizer without truncation or padding, for clip_question."""
    from tokenizers import Tokenizer

    measure = Tokenizer.from_file(str(Path(base_path) / "tokenizer.json"))
    measure.no_truncation()
    measure.no_padding()
    return measure


def manifest_path(path: Path) -> Path:
    return path.with_name(path.stem + ".manifest.json")


def build_net(base_path: str, attention: str | None = None, layers: int | None = None) -> Any:
    """The base transformer with a linear head over mean-pooled token states; ``attention``
    picks transformers' attention implementation (None: its default); ``layers``: only the
    base model's first ``layers`` transformer layers (None: all of them)."""
    import torch
    from transformers import AutoModel

    class ReaderNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            extra = {"attn_implementation": attention} if attention else {}
            self.bert = AutoModel.from_pretrained(base_path, **extra)
            if layers is not None:  # cut after loading: no report of the unused layers' weights
                self.bert.encoder.layer = self.bert.encoder.layer[:layers]
                self.bert.config.num_hidden_layers = layers
            self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)

        def states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   token_type_ids: torch.Tensor) -> torch.Tensor:
            """The transformer's last token states, in fp32 even when it runs in bf16."""
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state.float()

        def readout(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            """The logit: the head over the mean of the token states (in fp32, fused_bf16)."""
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.readout(self.states(input_ids, attention_mask, token_type_ids), attention_mask)

    return ReaderNet()


def trained_state(net: Any) -> dict[str, Any]:
    """The weights to store: everything but the frozen word embeddings, in float16."""
    import torch

    return {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items()
            if k.removeprefix("bert.") not in FROZEN}


def save_reader(net: Any, manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    """``reader.safetensors`` and its manifest (with the file's SHA-256), each written
    atomically; returns the manifest written."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(trained_state(net), str(tmp))
    tmp.chmod(0o644)
    data = tmp.read_bytes()
    manifest = {**manifest, "format": FORMAT, "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data)}
    tmp.replace(path)
    mtmp = manifest_path(path).with_name(f".{manifest_path(path).name}.tmp")
    mtmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    mtmp.replace(manifest_path(path))
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file() or not manifest_path(path).is_file():
        raise ReaderError(f"No reader at {path} (with its manifest); train one with: "
                          "rag train-answerer --reader")
    try:
        manifest = json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReaderError(f"The reader manifest beside {path} is unreadable ({exc}).") from exc
    if manifest.get("format") != FORMAT:
        raise ReaderError(f"reader format {manifest.get('format')!r}, this program reads {FORMAT}; "
                          "retrain it with: rag train-answerer --reader")
    return manifest


def load_net(path: Path, base_path: str, fingerprint: dict[str, Any] | None = None,
             attention: str | None = None) -> Any:
    """The fine-tuned network in float32, checked against the manifest and the base model."""
    from safetensors.torch import load_file

    manifest = read_manifest(path)
    if file_sha256(path) != manifest.get("sha256"):
        raise ReaderError(f"The reader at {path} does not match its manifest (checksum differs); "
                          "retrain it with: rag train-answerer --reader")
    base = manifest.get("base_model", {})
    if fingerprint is not None and base.get("sha256") not in (None, fingerprint.get("sha256")):
        raise ReaderError(f"The reader at {path} was trained from another embedding model "
                          f"({base.get('name')}); retrain it with: rag train-answerer --reader")
    net = build_net(base_path, attention, (manifest.get("settings") or {}).get("layers"))
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(k.removeprefix("bert.") not in FROZEN for k in missing):
        raise ReaderError(f"The reader at {path} does not fit the base model "
                          f"(missing {missing[:3]}, unexpected {unexpected[:3]}).")
    return net.eval()


def export_onnx(net: Any, target: Path, sha256: str) -> Path:
    """The network as ``target/model.onnx``, written in a temporary folder and moved in place."""
    import warnings

    import torch

    ids = torch.tensor([[101, 2054, 102, 2023, 102], [101, 2054, 102, 2009, 0]])
    args = (ids, (ids > 0).long(), torch.zeros_like(ids))

    def write(folder: Path) -> dict[str, Any]:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, args, str(folder / "model.onnx"), input_names=list(INPUTS),
                              output_names=["logit"], opset_version=17, dynamo=False,
                              dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in INPUTS},
                                            "logit": {0: "batch"}})
        return {"torch": torch.__version__}

    return _staged(target, sha256, write)


def _staged(target: Path, sha256: str, write: Callable[[Path], dict[str, Any]]) -> Path:
    """``write`` fills a temporary folder with ``model.onnx``; the export's metadata records the
    reader's SHA-256 and the file's (index.onnx_encoder.staged_export moves it in place)."""
    return staged_export(target, lambda tmp: {"reader_sha256": sha256, "export_format": EXPORT_FORMAT,
                                              **write(tmp)}, sha_key="onnx_sha256")


def _cached(folder: Path, sha: str) -> bool:
    """An export in ``folder`` made from the reader with this SHA-256, in this program's export
    format, and undamaged."""
    meta_file = folder / "export.json"
    if not meta_file.is_file() or not (folder / "model.onnx").is_file():
        return False
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return (meta.get("reader_sha256") == sha and meta.get("export_format") == EXPORT_FORMAT
            and file_sha256(folder / "model.onnx") == meta.get("onnx_sha256"))


def quantized(fp32: Path, sha: str) -> Path:
    """Dynamic int8 quantisation of the fp32 export (int8 weights, activations quantised per
    call), cached beside it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = fp32.with_name(fp32.name + "-int8")
    if _cached(folder, sha):
        return folder

    def write(tmp: Path) -> dict[str, Any]:
        quantize_dynamic(str(fp32 / "model.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8)
        return {"quantized": "dynamic int8"}

    return _staged(folder, sha, write)


# bf16 batches are padded to whole multiples of this many pairs and to the reader's full
# length: the traced network (fused_bf16) has its oneDNN kernels built for that one shape. With
# the padding, on the seed dev set (which nearly fills the 64 tokens anyway) the traced reader
# took 14.8 ms a question, against 19.4 ms padded only to the longest pair (a kernel build for
# each new shape)
BF16_ROWS = 8


def fused_bf16(net: Any, max_length: int) -> Any:
    """``net`` with its weights in bf16, traced and frozen with oneDNN's graph fusion
    (index.fused.traced) for inputs of BF16_ROWS x ``max_length`` tokens (fixed_shape); the
    first calls build the fused kernels (AMX where the CPU has it). The seed dev set's
    candidates (8 pairs of 64 tokens, 2 threads, an AMX host): 14.8 ms a question against
    27.8 ms for autocast over the fp32 weights, 20.1 traced without the fusion; torch.compile
    (inductor, frozen weights) ran 12 to 18 ms but took 7 to 25 s to compile. Logits within
    0.04 of fp32's (autocast: 0.03). Called with INPUTS tensors, in order."""
    import torch

    from index.fused import traced

    rows = np.zeros((BF16_ROWS, max_length), dtype=np.int64)
    example = {"input_ids": rows + 1000, "attention_mask": np.ones_like(rows), "token_type_ids": rows}
    example["attention_mask"][1:, max_length // 2:] = 0  # padded rows, as most batches have
    example["input_ids"][:, 0] = 101
    net.bert.to(torch.bfloat16)  # the head stays fp32: a bf16 logit is rounded to 1/64 near 2
    net = traced(net, example)
    with torch.no_grad():
        for _ in range(2):  # the fusion pass and kernel creation run on the first calls
            net(*(torch.from_numpy(example[k]) for k in INPUTS))
    return net


def serving_precision(trained: str, flags: Collection[str] | None = None) -> str:
    """The precision to answer in for a scorer trained on ``trained`` logits: bf16 in place of
    fp32 where the CPU has AMX tiles (logits within about 0.04 of fp32, the reader about five
    times as fast on OpenVINO; README, "What the reader costs"); without AMX, bf16 measured no
    faster than fp32 (the document embedder's note, index.embed.resolve_precision)."""
    from index.embed import cpu_flags

    if trained == "fp32" and "amx_bf16" in (cpu_flags() if flags is None else flags):
        return "bf16"
    return trained


class Reader:
    """``score(question, [(sentence, sentence before)])``: one logit per sentence."""

    def __init__(self, path: Path, base_path: str, cache_dir: Path | None = None,
                 fingerprint: dict[str, Any] | None = None, backend: str = "auto",
                 threads: int = 1, precision: str = "fp32") -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.max_length = int(self.manifest.get("max_length", 96))
        self.top = int(self.manifest.get("top", 8))
        self._pairs = PairEncoder(measuring_tokenizer(base_path), self.max_length)
        self.cache_dir = Path(cache_dir or Path(".rag/cache"))
        self._session: Any = None
        self._net: Any = None
        self._lock = threading.Lock()
        self.backend = "torch"
        if precision not in ("fp32", "int8", "bf16"):
            raise ReaderError(f"reader precision must be fp32, int8 or bf16, not {precision!r}")
        self.precision = precision
        # bf16: the ONNX export on OpenVINO (index.openvino_session), else PyTorch traced and
        # fused (fused_bf16); ONNX Runtime's CPU provider has no bf16 kernels
        if backend not in ("auto", "onnx", "openvino", "torch"):
            raise ReaderError(f"reader backend must be auto, onnx, openvino or torch, not {backend!r}")
        if precision == "bf16":
            if backend == "onnx":
                raise ReaderError("the bf16 reader runs on OpenVINO or PyTorch, not ONNX Runtime")
            if backend in ("auto", "openvino"):
                from index.errors import EngineMissing, OnnxUnavailable
                from index.onnx_encoder import cache_lock
                from index.openvino_session import OpenVinoSession, openvino_available

                try:
                    if not openvino_available():  # before the export, which it alone would use
                        raise EngineMissing("openvino is not installed")
                    # one process at a time makes or reads the cached models (rag api's
                    # workers start together)
                    with cache_lock(self.cache_dir):
                        try:
                            folder = self._export(base_path, fingerprint)
                        except ReaderError:
                            raise
                        except Exception as exc:  # noqa: BLE001 - the export failed: fall back
                            raise OnnxUnavailable(f"the ONNX export failed: {exc}") from exc
                        self._session = OpenVinoSession(folder / "model.onnx", threads)
                    self.backend = "openvino"
                except OnnxUnavailable as exc:
                    if backend == "openvino":
                        raise ReaderError(str(exc)) from exc
                    (log.info if isinstance(exc, EngineMissing) else log.warning)(
                        "The bf16 reader runs on PyTorch: %s", exc)
            backend = "torch"
        elif backend == "openvino":
            raise ReaderError("the reader runs on OpenVINO only in bf16")
        if backend in ("auto", "onnx"):
            try:
                self._session = self._onnx(base_path, fingerprint, threads)
                self.backend = "onnx"
            except ImportError as exc:
                if backend == "onnx":
                    raise ReaderError(f"onnxruntime is not installed ({exc})") from exc
                log.info("onnxruntime is missing; the reader runs on PyTorch")
        if self._session is None:
            import torch

            torch.set_num_threads(max(1, threads))
            if precision == "bf16":
                self._net = fused_bf16(load_net(self.path, base_path, fingerprint, EXPORT_ATTENTION),
                                       self.max_length)
            else:
                self._net = load_net(self.path, base_path, fingerprint)

    def _export(self, base_path: str, fingerprint: dict[str, Any] | None) -> Path:
        """The reader's fp32 ONNX export, made once into the cache folder."""
        sha = self.manifest["sha256"]
        folder = self.cache_dir / f"reader-onnx-{sha[:16]}"
        if not _cached(folder, sha):
            log.info("Exporting the reader to ONNX in %s (once per reader)", folder)
            export_onnx(load_net(self.path, base_path, fingerprint, EXPORT_ATTENTION), folder, sha)
        return folder

    def _onnx(self, base_path: str, fingerprint: dict[str, Any] | None, threads: int) -> Any:
        import onnxruntime as ort

        from index.onnx_encoder import cache_lock

        sha = self.manifest["sha256"]
        with cache_lock(self.cache_dir):  # workers start together
            folder = self._export(base_path, fingerprint)
            if self.precision == "int8":
                folder = quantized(folder, sha)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        if threads > 1:  # idle threads sleep, so concurrent answers do not spin against each other
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(folder / "model.onnx"), options,
                                    providers=["CPUExecutionProvider"])

    def encode(self, question: str, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
        return self._pairs.encode(question, [pair_text(s, b) for s, b in pairs])

    def score(self, question: str, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        batch = self.encode(question, pairs)
        n = len(pairs)
        if self.precision == "bf16":  # one input shape: OpenVINO and the traced network keep
            batch = fixed_shape(batch, self.max_length, BF16_ROWS)  # kernels for each shape
        if self._session is not None:
            return np.asarray(self._session.run(None, batch)[0], dtype=np.float32).reshape(-1)[:n]
        import contextlib

        import torch

        # traced: one call at a time (index.fused's note)
        lock: Any = self._lock if self.precision == "bf16" else contextlib.nullcontext()
        with lock, torch.no_grad():
            logits = self._net(*(torch.from_numpy(batch[k]) for k in INPUTS))
        return logits.float().numpy().reshape(-1)[:n]
