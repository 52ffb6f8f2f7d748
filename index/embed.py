"""Sentence-transformers embeddings: lazy model load, bf16 where the CPU has it, fp32 otherwise;
int8 documents on ONNX Runtime when asked for."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import ModelNotFound

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from index.settings import IndexSettings

log = logging.getLogger(__name__)


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (read once: the answer path asks on every answer)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def bf16_supported() -> bool:
    """True when the CPU runs bf16 matrix math natively (AMX or AVX-512 BF16)."""
    flags = cpu_flags()
    if flags & {"amx_bf16", "avx512_bf16"}:
        return True
    try:
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and "avx512f" in flags
    except Exception:  # noqa: BLE001 - any failure means: not supported
        return False


def resolve_precision(precision: str) -> str:
    if precision == "auto":
        # bf16 pays off with AMX tiles; with AVX-512 BF16 alone it measured about even here
        return "bf16" if "amx_bf16" in cpu_flags() and bf16_supported() else "fp32"
    return precision


def model_fingerprint(model_path: str) -> dict[str, Any]:
    """Identifies a model directory without hashing its weights: name, config hash, sizes."""
    path = Path(model_path)
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelNotFound(
            f"No sentence-transformers model at {model_path}. "
            "Set --model-path to a local model directory (it needs config.json and weights)."
        )
    h = hashlib.sha256()
    sizes = {}
    for name in ("config.json", "modules.json", "tokenizer.json", "sentence_bert_config.json"):
        f = path / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes())
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        sizes[f.name] = f.stat().st_size
    h.update(json.dumps(sizes, sort_keys=True).encode())
    return {"name": path.name if path.name != "model" else path.parent.name, "sha256": h.hexdigest()}


class Embedder:
    """Loads the model on first use, once; encodes documents in batches and queries lean."""

    def __init__(self, model_path: str, precision: str = "auto", batch_size: int = 16,
                 query_encoder: str = "torch", cache_dir: Path | None = None,
                 document_encoder: str = "torch", document_threads: int | None = None,
                 query_threads: int = 0) -> None:
        if precision not in ("auto", "fp32", "bf16", "int8"):
            raise ValueError(f"precision must be auto, fp32, bf16 or int8, not {precision!r}")
        for name, value in (("query_encoder", query_encoder), ("document_encoder", document_encoder)):
            if value not in ("auto", "onnx", "torch"):
                raise ValueError(f"{name} must be auto, onnx or torch, not {value!r}")
        self.model_path = model_path
        self.precision = resolve_precision(precision)
        self.batch_size = batch_size
        self.query_encoder = query_encoder
        self.document_encoder = document_encoder
        self.cache_dir = Path(cache_dir) if cache_dir is not None else Path(".rag/cache")
        self.document_threads = document_threads  # None: one per core (a build has the machine)
        self.query_threads = query_threads  # bf16 engines only; 0: one per core
        self._bf16_query_threads = query_threads or os.cpu_count() or 1  # once, not per query
        self._model: SentenceTransformer | None = None
        # "queries", "documents" (ONNX Runtime), "queries-openvino" (bf16): encoder, or False:
        # that engine cannot run (another is used)
        self._onnx: dict[str, Any] = {}
        self._fused: Any = None  # index.fused.FusedEncoder, False: cannot be made
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()  # the model is loaded once, whichever thread asks

    @classmethod
    def from_settings(cls, s: IndexSettings) -> Embedder:
        return cls(s.model_path, s.precision, s.batch_size, s.query_encoder, s.cache_dir,
                   s.document_encoder, query_threads=s.query_threads)

    @property
    def query_engine(self) -> str:
        """"openvino-bf16", "fused-bf16", "onnx" or "torch": what encodes queries (made on
        first use)."""
        bf16 = self._query_bf16()
        if bf16 is not None:
            return "openvino-bf16" if getattr(bf16, "engine", "") == "openvino" else "fused-bf16"
        return "onnx" if self._onnx_encoder() is not None else "torch"

    def _onnx_encoder(self) -> Any:
        """The exported model for queries: one thread per query (see OnnxQueryEncoder)."""
        return self._onnx_session("queries", self.query_encoder, None)

    def _query_bf16(self) -> Any:
        """A bf16 model for queries when query_encoder is auto and the precision bf16 (auto:
        AMX): the ONNX export on OpenVINO (index.openvino_session), else the fused PyTorch one
        (index.fused). Seed dev set answered 3 times on an AMX host with the reader in bf16
        (answer p50): 31.7 ms with fused PyTorch queries against 35.3 with ONNX Runtime fp32
        ones, 39 of 40 answers the same (ONNX Runtime's query thread and PyTorch's reader pool
        took the cores from each other: with 2 threads, 47.5 ms). Query vectors within a cosine
        of 0.9999 of fp32."""
        if self.query_encoder != "auto" or self.precision != "bf16":
            return None
        return (self._onnx_session("queries-openvino", "auto", self._bf16_query_threads, engine="openvino")
                or self._fused_encoder())

    def _fused_encoder(self) -> Any:
        """index.fused.FusedEncoder when the precision is bf16 and the model can be traced
        (made once); None otherwise (autocast or ONNX Runtime then)."""
        if self.precision != "bf16" or self._fused is False:
            return None
        if self._fused is None:
            with self._lock:
                if self._fused is None:
                    from tokenizers import Tokenizer

                    from index.fused import FusedEncoder

                    try:
                        tok = Tokenizer.from_file(str(Path(self.model_path) / "tokenizer.json"))
                        tok.no_padding()
                        tok.enable_truncation(int(self.model.max_seq_length))
                        self._fused = FusedEncoder(self.model, tok)
                    except Exception as exc:  # noqa: BLE001 - any failure: the unfused path
                        log.warning("bf16 embeddings run unfused (documents with autocast, "
                                    "queries on ONNX Runtime or PyTorch in fp32): %s", exc)
                        self._fused = False
                        return None
        return self._fused

    def _onnx_session(self, use: str, choice: str, threads: int | None, int8: bool = False,
                      engine: str = "onnxruntime") -> Any:
        """The encoder of the ONNX export for ``use`` ("queries", "documents" or
        "queries-openvino"), run by ``engine`` (onnxruntime, or openvino in bf16), made on first
        use; None when ``choice`` is torch, or auto and the engine cannot run (another then).
        ``int8``: the int8 export; it has no PyTorch fallback (a build would otherwise mix
        precisions unseen), so ONNX Runtime must run."""
        if choice == "torch" or self._onnx.get(use) is False:
            return None
        if self._onnx.get(use) is None:
            with self._lock:
                if self._onnx.get(use) is None:
                    from index.errors import EngineMissing, OnnxUnavailable
                    from index.onnx_encoder import OnnxQueryEncoder

                    try:
                        self._onnx[use] = OnnxQueryEncoder.load_or_export(
                            self.model_path, self.cache_dir, model_fingerprint(self.model_path),
                            lambda: self.model, threads=threads, int8=int8, engine=engine)
                    except OnnxUnavailable as exc:
                        if choice == "onnx" or int8:
                            raise
                        if engine == "openvino":  # the fused PyTorch model then
                            (log.info if isinstance(exc, EngineMissing) else log.warning)(
                                "bf16 queries without OpenVINO: %s", exc)
                        else:
                            log.warning("%s use PyTorch: %s", use.capitalize(), exc)
                        self._onnx[use] = False
                        return None
        return self._onnx[use]

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def _load_model(self) -> SentenceTransformer:
        model_fingerprint(self.model_path)  # clear error for a wrong path
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(self.model_path, device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - turned into our own error
            raise ModelNotFound(f"Cannot load the model at {self.model_path}: {exc}") from exc
        model.eval()
        return model

    def load_document_encoder(self) -> None:
        """Load what embeds documents (the model, and its ONNX or fused form) now, not on the
        first text: a build calls it on a thread of its own while it splits documents. The
        import and load take about 5 s (sentence-transformers' import alone 3 s)."""
        if self._onnx_document_encoder() is None and self._fused_encoder() is None:
            self.model  # noqa: B018 - loads it

    @property
    def dimension(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def _autocast(self):  # noqa: ANN202
        import contextlib

        import torch

        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def document_engine(self) -> str:
        """"fused-bf16", "onnx" or "torch": what embeds documents (bf16 stays on PyTorch)."""
        if self._fused_encoder() is not None:
            return "fused-bf16"
        return "onnx" if self._onnx_document_encoder() is not None else "torch"

    def _onnx_document_encoder(self) -> Any:
        """The exported model in a session with one thread per core (a build has the machine);
        int8 precision: its int8 quantisation."""
        if self.precision not in ("fp32", "int8"):
            return None
        int8 = self.precision == "int8"  # always ONNX Runtime: document_encoder is for fp32
        return self._onnx_session("documents", "onnx" if int8 else self.document_encoder,
                                  self.document_threads or os.cpu_count() or 1, int8=int8)

    def encode_documents(self, texts: list[str], progress: bool = False,
                         pieces: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
        """Unit vectors of ``texts``; ``pieces``: each text's word pieces where already known
        (index.pieces), taken instead of tokenising it again on the ONNX and fused paths."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        onnx = self._onnx_document_encoder()
        if onnx is not None:
            # int8: one text a run. Dynamic quantisation scales activations over the whole
            # batch, so a text's vector would depend on its batch neighbours; alone it does
            # not, and needs no padding: 21.2 documents/s against 19.2 in batches of 16 (fp32
            # 13.7 to 16.3) on 256 SciFact documents here
            batch = 1 if self.precision == "int8" else self.batch_size
            return onnx.encode_many(texts, batch, progress, pieces)
        fused = self._fused_encoder()
        if fused is not None:
            # 400 SciFact abstracts, 2 threads, an AMX host: 2.4 s (3.1 s the first time, the
            # kernels being built) against 3.8 s with autocast, and 11.3 s in fp32 as plain
            # sentence-transformers encodes them (batches of 32); cosine to fp32 >= 0.9999
            return fused.encode_many(texts, self.batch_size, progress, pieces)
        with self._autocast():
            vecs = self.model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=False,
            )
        return _normalize(np.asarray(vecs, dtype=np.float32))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Short texts at query time: in bf16 with query_encoder auto, OpenVINO, else the fused
        PyTorch model (_query_bf16); otherwise ONNX Runtime fp32 when available (query_encoder),
        else PyTorch fp32: tokenise, forward, pool; no batching machinery."""
        bf16 = self._query_bf16()
        if bf16 is not None:
            return bf16.encode(texts)
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.encode(texts)
        import torch

        model = self.model
        if model.training:  # something put the shared model in training mode: no dropout here
            model.eval()
        prepare = getattr(model, "preprocess", None) or model.tokenize
        features = prepare(texts)
        # fp32 for queries: autocast costs more than it saves on one short text
        with torch.inference_mode():
            out = model.forward(features)["sentence_embedding"]
        return _normalize(out.float().numpy())

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]


def _normalize(v: np.ndarray) -> np.ndarray:
    from index.onnx_encoder import unit_rows

    return unit_rows(v)
