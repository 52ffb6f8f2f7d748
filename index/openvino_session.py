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

import threading
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import OnnxUnavailable


class OpenVinoSession:
    """``run(None, feeds)`` -> [first output], like onnxruntime.InferenceSession; one infer
    request per calling thread (a request is not safe to share)."""

    def __init__(self, onnx_file: Path, threads: int, precision: str = "bf16") -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise OnnxUnavailable(f"openvino is not installed ({exc})") from exc
        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": max(1, threads),
                  "PERFORMANCE_HINT": "LATENCY"}
        try:
            self._compiled = core.compile_model(core.read_model(str(onnx_file)), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - any failure: the caller keeps another engine
            raise OnnxUnavailable(f"OpenVINO cannot run {onnx_file}: {exc}") from exc
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")  # what the CPU allowed
        self.precision = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        self._local = threading.local()

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        # copied: the request reuses its output buffer on the next call
        return [np.array(request.infer(feeds)[0], dtype=np.float32, copy=True)]


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True
