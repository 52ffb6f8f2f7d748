"""A sentence-transformers model (transformer + mean pooling) in bf16, traced and frozen by
TorchScript with oneDNN's graph fusion: on a CPU with AMX tiles it runs the model's matrix
products on them with fused kernels, which autocast over fp32 weights does not (it casts the
weights on every call and runs one kernel per operation).

Inputs are padded to a whole number of ``STEP`` tokens, because oneDNN builds its fused kernels
per input shape; the first batch of each shape pays for building them.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from index.onnx_encoder import INPUTS, OnnxUnavailable, padded, pooling_mode

STEP = 32  # tokens: widths are rounded up to a multiple of this


def fusable(model: Any) -> bool:
    """True for a SentenceTransformer whose pipeline is a transformer, mean pooling and
    optionally normalisation (what FusedEncoder computes)."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    return (len(modules) >= 2 and names[1] == "Pooling" and all(n == "Normalize" for n in names[2:])
            and pooling_mode(modules[1].get_config_dict()) == "mean")


def padded_width(longest: int, max_length: int) -> int:
    """The width a batch whose longest text has ``longest`` tokens is padded to: the next
    multiple of STEP, at most the model's ``max_length`` (never less than ``longest``)."""
    return max(longest, min(max_length, -(-max(1, longest) // STEP) * STEP))


def traced(net: Any, example: dict[str, np.ndarray]) -> Any:
    """``net`` (in eval mode, its weights in the dtype to run) traced on ``example`` (INPUTS
    arrays) and frozen, with oneDNN's graph fusion on; called with INPUTS tensors, in order."""
    import torch

    torch.jit.enable_onednn_fusion(True)
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

    def _run(self, encoded: list[Any]) -> np.ndarray:
        import torch

        batch = padded(encoded)
        n, w = batch["input_ids"].shape
        width = padded_width(w, self.max_length)
        if width != w:
            for k in INPUTS:
                grown = np.zeros((n, width), dtype=np.int64)
                grown[:, :w] = batch[k]
                batch[k] = grown
        with torch.no_grad():
            vecs = self._net(*(torch.from_numpy(batch[k]) for k in INPUTS)).numpy()
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(vecs / norms, dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._run(self.tokenizer.encode_batch(texts))

    def encode_many(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        """Documents: batches of similar length (sorted by word pieces), in the order given."""
        encoded = self.tokenizer.encode_batch(texts)
        order = np.argsort(-np.asarray([len(e.ids) for e in encoded]), kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        tq = None
        if progress:
            from tqdm import tqdm

            tq = tqdm(total=len(texts), desc="Embedding", unit="text")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            vecs = self._run([encoded[i] for i in rows])
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[rows] = vecs
            if tq is not None:
                tq.update(len(rows))
        if tq is not None:
            tq.close()
        return out
