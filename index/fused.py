"""A sentence-transformers model (transformer + mean pooling) in bf16, traced and frozen by
TorchScript with oneDNN's graph fusion: on a CPU with AMX tiles it runs the model's matrix
products on them with fused kernels, which autocast over fp32 weights does not (it casts the
weights on every call and runs one kernel per operation).

Inputs are padded to a whole number of ``index.onnx_encoder.STEP`` word pieces, and document
batches to a few row counts, because oneDNN builds its fused kernels per input shape (the first
batch of each shape pays for building them), and TorchScript keeps only so many
specialisations (FUSED_SHAPES) before it runs a shape unfused. One call at a time per model:
the oneDNN graph runtime has reports of crashes when threads run one compiled partition at once
(oneDNN issue 4381), and a call uses every thread of PyTorch's pool anyway.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np

from index.onnx_encoder import INPUTS, OnnxUnavailable, padded, padded_width, pooling_mode

# input shapes TorchScript specialises a traced model for (its default: 12): document batches
# take up to 8 widths of 32 to 256 tokens, queries and the reader a few more
FUSED_SHAPES = 32


def fusable(model: Any) -> bool:
    """True for a SentenceTransformer whose pipeline is a transformer, mean pooling and
    optionally normalisation (what FusedEncoder computes)."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    return (len(modules) >= 2 and names[1] == "Pooling" and all(n == "Normalize" for n in names[2:])
            and pooling_mode(modules[1].get_config_dict()) == "mean")


def traced(net: Any, example: dict[str, np.ndarray]) -> Any:
    """``net`` (in eval mode, its weights in the dtype to run) traced on ``example`` (INPUTS
    arrays) and frozen, with oneDNN's graph fusion on; called with INPUTS tensors, in order."""
    import torch

    torch.jit.enable_onednn_fusion(True)  # process-wide: only these traced models use it
    torch.jit.set_fusion_strategy([("STATIC", FUSED_SHAPES)])
    args = tuple(torch.from_numpy(example[k]) for k in INPUTS)
    with torch.no_grad():
        return torch.jit.freeze(torch.jit.trace(net.eval(), args, strict=False))


class FusedEncoder:
    """``encode(texts)``: unit vectors of ``texts``, as the SentenceTransformer gives them (to
    a cosine of about 0.9999 in bf16)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        import torch

        if not fusable(model):
            raise OnnxUnavailable("only transformer + mean pooling models are fused")
        bert = copy.deepcopy(list(model)[0].auto_model).eval().to(torch.bfloat16)
        # the plain attention: its mask is arithmetic, no data-dependent branch to bake in
        bert.config._attn_implementation = "eager"

        class Pooled(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
                hidden = self.bert(input_ids=ids, attention_mask=mask,
                                   token_type_ids=types).last_hidden_state.float()  # pooled in fp32
                m = mask.unsqueeze(-1).to(hidden.dtype)
                return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

        self.tokenizer = tokenizer
        self.max_length = int(model.max_seq_length)
        self._net = traced(Pooled(), padded(tokenizer.encode_batch(
            ["An example sentence for tracing.", "Another."])))
        self._lock = threading.Lock()

    def _run(self, encoded: list[Any], rows: int = 0) -> np.ndarray:
        """Unit vectors of ``encoded``; the batch padded to ``rows`` texts (0: as many as given)."""
        import torch

        batch = padded(encoded)
        n, w = batch["input_ids"].shape
        width = padded_width(w, self.max_length)
        height = max(n, rows)
        if (height, width) != (n, w):
            for k in INPUTS:
                grown = np.zeros((height, width), dtype=np.int64)
                grown[:n, :w] = batch[k]
                batch[k] = grown
            batch["attention_mask"][n:, 0] = 1  # padded rows: one token, their vectors dropped
        with self._lock, torch.no_grad():
            vecs = self._net(*(torch.from_numpy(batch[k]) for k in INPUTS)).numpy()[:n]
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(vecs / norms, dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._run(self.tokenizer.encode_batch(texts))

    def encode_many(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """Documents: batches of similar length (sorted by word pieces), returned in the order
        given. A batch holds ``batch_size`` texts of the model's full length, or as many more
        shorter ones as fit in the same number of word pieces (one row count per width, so few
        shapes)."""
        encoded = self.tokenizer.encode_batch(texts)
        order = np.argsort(-np.asarray([len(e.ids) for e in encoded]), kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        tq = None
        if progress:
            from tqdm import tqdm

            tq = tqdm(total=len(texts), desc="Embedding", unit="text")
        budget = max(1, batch_size) * self.max_length
        start = 0
        while start < len(texts):
            width = padded_width(len(encoded[order[start]].ids), self.max_length)
            size = max(batch_size, budget // width)
            rows = order[start:start + size]
            start += size
            # a last, short batch padded only to a power of two: few shapes, little waste
            vecs = self._run([encoded[i] for i in rows],
                             min(size, max(batch_size, 1 << (len(rows) - 1).bit_length())))
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[rows] = vecs
            if tq is not None:
                tq.update(len(rows))
        if tq is not None:
            tq.close()
        return out
