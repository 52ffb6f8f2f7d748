"""The query encoder on ONNX Runtime: the sentence-transformers model exported once from the
local model folder (never downloaded), cached by the model's fingerprint, checked by SHA-256
on load.

Only models whose pipeline is a transformer followed by mean pooling (and optionally
normalisation), like the bundled all-MiniLM-L6-v2, are exported; anything else raises
``OnnxUnavailable`` and the caller keeps PyTorch. Vectors match PyTorch's to a cosine of
1.0000 (tests/integration/test_onnx.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import EngineMissing, OnnxUnavailable
from index.pieces import encodings
from index.store import file_sha256

log = logging.getLogger(__name__)
EXPORT_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def padded(encoded: list[Any]) -> dict[str, np.ndarray]:
    """Tokenizer encodings as the model's three int64 inputs, zero-padded to the longest (here,
    not by the tokenizer: its padding switch is shared state across threads)."""
    width = max((len(e.ids) for e in encoded), default=0)
    out = {k: np.zeros((len(encoded), width), dtype=np.int64) for k in INPUTS}
    for i, e in enumerate(encoded):
        n = len(e.ids)
        out["input_ids"][i, :n] = e.ids
        out["attention_mask"][i, :n] = e.attention_mask
        out["token_type_ids"][i, :n] = e.type_ids
    return out


def fixed_shape(batch: dict[str, np.ndarray], width: int, rows: int) -> dict[str, np.ndarray]:
    """``batch`` zero-padded to ``width`` tokens and to a multiple of ``rows`` texts (padded
    rows are all padding but one token, so no row is wholly masked: their outputs are dropped)."""
    n, w = batch["input_ids"].shape
    height = -(-n // rows) * rows
    out = {}
    for k, v in batch.items():
        grown = np.zeros((height, max(width, w)), dtype=v.dtype)
        grown[:n, :w] = v
        out[k] = grown
    out["attention_mask"][n:, 0] = 1  # no row wholly masked (its softmax would be undefined)
    return out


def unit_rows(v: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows kept), as contiguous float32."""
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(v / norms, dtype=np.float32)


def encode_longest_first(encoded: list[Any], size: Callable[[int], int],
                         run: Callable[[list[Any], int], np.ndarray], progress: bool = False) -> np.ndarray:
    """Vectors of tokenised texts in their given order, computed in batches of similar length
    (sorted by word pieces, longest first, so little padding): a batch whose longest text has
    N word pieces takes ``size(N)`` texts, and ``run(batch, size)`` gives its vectors."""
    order = np.argsort(-np.asarray([len(e.ids) for e in encoded]), kind="stable")
    out = np.zeros((len(encoded), 0), dtype=np.float32)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(encoded), desc="Embedding", unit="text")
    start = 0
    while start < len(encoded):
        n = size(len(encoded[order[start]].ids))
        rows = order[start:start + n]
        start += n
        vecs = run([encoded[i] for i in rows], n)
        if out.shape[1] == 0:
            out = np.zeros((len(encoded), vecs.shape[1]), dtype=np.float32)
        out[rows] = vecs
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return out


STEP = 32  # word pieces: padded_width rounds up to a multiple of this by default


def padded_width(longest: int, max_length: int, step: int = STEP) -> int:
    """The width a batch whose longest text has ``longest`` tokens is padded to: the next
    multiple of ``step``, at most the model's ``max_length`` (never less than ``longest``)."""
    return max(longest, min(max_length, -(-max(1, longest) // step) * step))


class QuantizeFailed(OnnxUnavailable):
    """The int8 model cannot be made (the fp32 export is fine: it is not made again)."""


class EngineUnavailable(OnnxUnavailable):
    """The export is intact but the engine asked for (ONNX Runtime, OpenVINO) is missing or
    cannot run it: exporting again would not help, so it is not made again."""


def export_dir(cache_dir: Path, fingerprint: dict[str, Any]) -> Path:
    return Path(cache_dir) / f"onnx-{fingerprint['name']}-{fingerprint['sha256'][:16]}-v{EXPORT_VERSION}"


def pooling_mode(config: dict[str, Any]) -> str | None:
    """"mean", "cls", ...: sentence-transformers 6 writes ``pooling_mode``, older versions one
    ``pooling_mode_<name>_tokens`` flag per mode."""
    if isinstance(config.get("pooling_mode"), str):
        return config["pooling_mode"]
    on = [k for k, v in config.items() if k.startswith("pooling_mode_") and v]
    if len(on) != 1:
        return None
    return on[0].removeprefix("pooling_mode_").removesuffix("_tokens")


def export(model: Any, fingerprint: dict[str, Any], target: Path) -> Path:
    """Export a loaded SentenceTransformer's transformer to ``target/model.onnx`` (written in a
    temporary folder beside it and moved into place, so a crash leaves no half file)."""
    import torch

    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) < 2 or names[1] != "Pooling" or not all(n == "Normalize" for n in names[2:]):
        raise OnnxUnavailable(f"only transformer + mean pooling models are exported, not {names}")
    if pooling_mode(modules[1].get_config_dict()) != "mean":
        raise OnnxUnavailable(f"only mean pooling is exported, not {modules[1].get_config_dict()}")
    bert = modules[0].auto_model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    texts = ["An example sentence for tracing.", "Another one."]
    # preprocess: sentence-transformers 5's name for tokenize, which warns that it is deprecated
    sample = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
    args = tuple(sample[k] if k in sample else torch.zeros_like(sample["input_ids"]) for k in INPUTS)

    def write(tmp: Path) -> dict[str, Any]:
        import warnings

        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer notes about constant shapes in masking code
            # in eval mode: the exporter puts the module back in the mode it found it in,
            # and a fresh module is in training mode, which would leave the shared model
            # with dropout on for PyTorch queries after an export
            torch.onnx.export(Hidden().eval(), args, str(tmp / "model.onnx"), input_names=list(INPUTS),
                              output_names=["hidden"], opset_version=17, dynamo=False,
                              dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "hidden")})
        return {"export_version": EXPORT_VERSION, "model": fingerprint,
                "max_seq_length": int(model.max_seq_length), "torch": torch.__version__}

    try:
        return staged_export(target, write)
    except Exception as exc:
        raise OnnxUnavailable(f"ONNX export failed: {exc}") from exc


def staged_export(target: Path, write: Callable[[Path], dict[str, Any]], sha_key: str = "sha256") -> Path:
    """``write`` fills a temporary folder beside ``target`` with ``model.onnx`` and returns its
    metadata; the file's SHA-256 is added under ``sha_key``, ``export.json`` written and the
    folder moved in place, so a crash leaves no half export (and no temporary folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".export-"))
    try:
        meta = write(tmp)
        meta[sha_key] = file_sha256(tmp / "model.onnx")
        (tmp / "export.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


QUANTIZED = "dynamic int8, per channel"  # recorded in the cache: another scheme is made anew


def _meta(folder: Path) -> dict[str, Any] | None:
    """A cached export's export.json, or None when it is missing or unreadable (made anew)."""
    try:
        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


@contextlib.contextmanager
def cache_lock(cache_dir: Path) -> Iterator[None]:
    """One process at a time makes or checks the cached exports (workers share the cache)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        f = open(cache_dir / ".export.lock", "w")  # noqa: SIM115 - held for the block
    except OSError as exc:
        raise OnnxUnavailable(f"cannot write the ONNX cache {cache_dir}: {exc}") from exc
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def quantized(fp32: Path) -> Path:
    """Dynamic int8 quantisation of the fp32 export, per output channel (int8 weights,
    activations quantised per call), cached beside it as ``<export>-int8``, made from an fp32
    file whose hash was checked. Per channel: on 256 SciFact documents per-tensor int8 kept a
    cosine to fp32 of only 0.937 on average (0.900 at worst); per channel 0.993 (0.989).
    Raises OnnxUnavailable when the fp32 export is damaged (the caller makes it again) and
    QuantizeFailed when quantising fails."""
    folder = fp32.with_name(fp32.name + "-int8")
    source = _meta(fp32)
    if source is None:
        raise OnnxUnavailable(f"{fp32 / 'export.json'} is missing or damaged")
    meta = _meta(folder)
    if (meta is not None and meta.get("quantized") == QUANTIZED
            and meta.get("source_sha256") == source.get("sha256")
            and (folder / "model.onnx").is_file()
            and file_sha256(folder / "model.onnx") == meta.get("sha256")):
        return folder
    if file_sha256(fp32 / "model.onnx") != source.get("sha256"):
        raise OnnxUnavailable(f"{fp32 / 'model.onnx'} does not match its export.json")
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise QuantizeFailed(f"onnxruntime's quantisation is not installed ({exc})") from exc

    def write(tmp: Path) -> dict[str, Any]:
        quantize_dynamic(str(fp32 / "model.onnx"), str(tmp / "model.onnx"),
                         weight_type=QuantType.QInt8, per_channel=True)
        return {**source, "quantized": QUANTIZED, "source_sha256": source["sha256"]}

    try:
        return staged_export(folder, write)
    except Exception as exc:
        raise QuantizeFailed(f"int8 quantisation failed: {exc}") from exc


class OnnxQueryEncoder:
    """Tokenise with the model's own tokenizer.json, run the exported transformer, mean-pool
    and normalise: what sentence-transformers does, without PyTorch on the query path."""

    def __init__(self, folder: Path, model_path: str, threads: int | None = None,
                 engine: str = "onnxruntime") -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EngineUnavailable(f"tokenizers is not installed ({exc})") from exc
        meta = _meta(folder)
        try:
            intact = meta is not None and file_sha256(folder / "model.onnx") == meta.get("sha256")
        except OSError:
            intact = False
        if meta is None or not intact or not isinstance(meta.get("max_seq_length"), int):
            raise OnnxUnavailable(f"{folder / 'model.onnx'} does not match its export.json")
        self.meta = meta
        self.tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self.tokenizer.no_padding()
        self.engine = engine
        if engine == "openvino":  # bf16 (index.openvino_session)
            from index.openvino_session import OpenVinoSession

            try:
                self.session: Any = OpenVinoSession(folder / "model.onnx", threads or 1)
            except OnnxUnavailable as exc:
                raise EngineUnavailable(str(exc)) from exc
            return
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EngineUnavailable(f"onnxruntime is not installed ({exc})") from exc
        options = ort.SessionOptions()
        # one thread per query: a short question gains little from two, and under load the
        # other core serves another request. Measured with 32 sessions x 3 turns through
        # POST /api/ask on 2 cores: 18.2 answers/s, p50 1.15 s with 1 thread; 15.3/s, p50 1.39 s
        # with 2 (single answer 36.1 ms against 33.8 ms); one run each
        options.intra_op_num_threads = threads or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])

    @classmethod
    def load_or_export(cls, model_path: str, cache_dir: Path, fingerprint: dict[str, Any],
                       model: Any, threads: int | None = None, int8: bool = False,
                       engine: str = "onnxruntime") -> OnnxQueryEncoder:
        """``model``: a callable returning the loaded SentenceTransformer (only needed to export).
        ``int8``: the export quantised to int8 (made from the fp32 one, cached beside it).
        ``engine``: onnxruntime, or openvino (the fp32 export run in bf16)."""
        folder = export_dir(cache_dir, fingerprint)
        if engine == "openvino":
            from index.openvino_session import openvino_available

            if not openvino_available():
                raise EngineMissing("openvino is not installed")
        with cache_lock(Path(cache_dir)):
            if _meta(folder) is None:
                log.info("Exporting the query encoder to ONNX in %s (once per model)", folder)
                export(model(), fingerprint, folder)
            try:
                return cls(quantized(folder) if int8 else folder, model_path, threads, engine)
            except (QuantizeFailed, EngineUnavailable):
                raise
            except OnnxUnavailable:
                log.warning("The cached ONNX export in %s is damaged; exporting it again", folder)
                export(model(), fingerprint, folder)
                return cls(quantized(folder) if int8 else folder, model_path, threads, engine)

    def encode_many(self, texts: list[str], batch_size: int, progress: bool = False,
                    pieces: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
        """Documents at build time: batches of ``batch_size`` texts of similar length (sorted
        by word pieces, so little padding), vectors returned in the order of ``texts``;
        ``pieces`` as index.pieces.encodings takes them."""
        return encode_longest_first(encodings(self.tokenizer, texts, pieces), lambda _: batch_size,
                                    lambda batch, _: self._run(batch), progress)

    def encode(self, texts: list[str]) -> np.ndarray:
        # padded here, not by the tokenizer: its padding switch is shared state across threads.
        # A question or two one by one: encode_batch hands them to the tokenizer's thread pool,
        # which took 0.45 ms to wake for one question inside an answer (0.03 ms alone)
        if len(texts) <= 2:
            return self._run([self.tokenizer.encode(t) for t in texts])
        return self._run(self.tokenizer.encode_batch(texts))

    def _run(self, encoded: list[Any]) -> np.ndarray:
        batch = padded(encoded)
        if self.engine == "openvino":  # few input shapes: OpenVINO keeps kernels for each
            width = padded_width(batch["input_ids"].shape[1], int(self.meta["max_seq_length"]))
            batch = fixed_shape(batch, width, 1)
        mask = batch["attention_mask"]
        hidden = self.session.run(None, batch)[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        return unit_rows(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1))
