"""An ONNX export run by OpenVINO in bf16, behind ONNX Runtime's ``run(None, feeds)``.

On a CPU with AMX tiles OpenVINO runs the transformer's matrix products in bf16 on them with
fused kernels; ONNX Runtime's CPU provider has no bf16 kernels, and PyTorch's autocast casts the
weights on every call. Measured on an AMX host (2 cores): the reader's 8 pairs of 64 tokens in
11.2 ms against 14.8 ms traced and fused by TorchScript (index.fused) and 27.8 ms with autocast;
one short query in 3.1 ms on one thread against 5.3 ms with ONNX Runtime fp32. Documents are not
run here: in batches of varied lengths TorchScript's fused model was faster (400 SciFact
abstracts in 2.4 s against 3.7 s). Compiling a model takes about 0.3 s. OpenVINO's telemetry
belongs to its model-conversion tools, which are not used: the ONNX file is read directly.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import EngineMissing, OnnxUnavailable
from index.store import file_sha256

IR_FORMAT = 1  # the cached OpenVINO model's layout; another is made anew


def openvino_model(core: Any, onnx_file: Path) -> Path:
    """The ONNX export saved as OpenVINO's own format with fp16 weights, cached in a folder
    beside it (made again when the export changes or the copy is damaged): compiled from it,
    the reader took 137 MB instead of 241 MB, at the same speed and with the same logits (the
    weights are rounded to bf16 when compiled either way)."""
    import openvino as ov

    source = file_sha256(onnx_file)
    target = onnx_file.parent / "openvino"
    meta_file = target / "source.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if (meta.get("format") == IR_FORMAT and meta.get("onnx_sha256") == source
                and file_sha256(target / "model.bin") == meta.get("bin_sha256")):
            return target / "model.xml"
    except (OSError, ValueError):
        pass
    tmp = Path(tempfile.mkdtemp(dir=onnx_file.parent, prefix=".openvino-"))
    try:
        ov.save_model(core.read_model(str(onnx_file)), str(tmp / "model.xml"), compress_to_fp16=True)
        (tmp / "source.json").write_text(json.dumps(
            {"format": IR_FORMAT, "onnx_sha256": source, "bin_sha256": file_sha256(tmp / "model.bin")}),
            encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process put its copy in place first: use that one
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "model.xml"


class OpenVinoSession:
    """``run(None, feeds)`` -> [first output], like onnxruntime.InferenceSession. Infer
    requests are not safe to share, so each call takes one from a small pool (``requests``,
    default: one per core), made as needed; more threads than that wait for one. A request
    per server thread instead held memory for every thread's largest input: `rag serve` grew
    by 150 MB over its first 500 answers.

    ``pin``: OpenVINO's thread pinning (ENABLE_CPU_PINNING), off unless asked for. On Linux it
    binds each process's inference threads to cores counted from the first, so two processes
    of one thread each (`rag api --workers 2`) shared one core: two such processes computing
    answers managed 24.4 answers/s pinned and 43 to 44 unpinned; a lone answer took the same
    time either way (seed dev set p50 25.9 against 26.7 ms, 2026-12-05, the AMX host)."""

    def __init__(self, onnx_file: Path, threads: int, precision: str = "bf16",
                 requests: int = 0, pin: bool = False) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise EngineMissing(f"openvino is not installed ({exc})") from exc
        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": max(1, threads),
                  "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": pin}
        try:
            self._compiled = core.compile_model(str(openvino_model(core, onnx_file)), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - any failure: the caller keeps another engine
            raise OnnxUnavailable(f"OpenVINO cannot run {onnx_file}: {exc}") from exc
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")  # what the CPU allowed
        self.precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room = threading.Semaphore(requests or os.cpu_count() or 1)

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self._room:  # at most ``requests`` calls at once, each with a request of its own
            try:
                request = self._idle.get_nowait()
            except queue.Empty:
                request = self._compiled.create_infer_request()
            try:
                # infer() returns copies of the outputs (share_outputs=False): safe to keep; the
                # inputs are read in place (share_inputs), not copied: the caller made them
                # for this call and does not change them
                return [np.asarray(request.infer(feeds, share_inputs=True)[0], dtype=np.float32)]
            finally:
                self._idle.put(request)


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True
