"""A sentence-transformers model (transformer + mean pooling) in bf16, traced and frozen by
TorchScript with oneDNN's graph fusion: on a CPU with AMX tiles it runs the model's matrix
products on them with fused kernels, which autocast over fp32 weights does not (it casts the
weights on every call and runs one kernel per operation).

Inputs are padded to a whole number of word pieces (``index.onnx_encoder.STEP`` for queries,
DOCUMENT_STEP for documents), and document batches to one row count per width, because oneDNN
builds its fused kernels per input shape (the first batch of each shape pays for building
them), and TorchScript keeps only so many specialisations (FUSED_SHAPES) before it runs a shape
unfused. One call at a time per model:
the oneDNN graph runtime has reports of crashes when threads run one compiled partition at once
(oneDNN issue 4381), and a call uses every thread of PyTorch's pool anyway.
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from index.onnx_encoder import (
    INPUTS,
    STEP,
    OnnxUnavailable,
    encode_longest_first,
    fixed_shape,
    padded,
    padded_width,
    pooling_mode,
    unit_rows,
)
from index.pieces import encodings

# document batches are padded to a multiple of this many word pieces. SciFact's 52,058
# sentences average 35 word pieces: padded to multiples of 32 they are 30% padding, of 16 18%.
# 19,029 of them (the first 2,000 abstracts) took 26.7 and 26.2 s at 32, 23.8 and 24.5 s at 16,
# 24.9 and 24.2 s at 8 (one process each, alternating): odd widths use AMX tiles less well
DOCUMENT_STEP = 16
# input shapes TorchScript specialises a traced model for (its default: 12): document batches
# take up to 16 widths of 16 to 256 tokens (one row count each) and a short last batch per
# call, queries a few more
FUSED_SHAPES = 48
ATTENTION = "sdpa"  # transformers' attention implementation traced (FusedEncoder)


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
    with torch.no_grad(), quiet_trace():
        return torch.jit.freeze(torch.jit.trace(net.eval(), args, strict=False))


@contextmanager
def quiet_trace() -> Iterator[None]:
    """Tracing and freezing without the notes they print, which are for whoever writes the
    model, not for whoever asks a question: the tracer's (Python values taken as constants,
    shapes that fixed_shape pins anyway), and transformers' deprecation warning and "loss_type"
    log line, set off when freezing reads every attribute of the model. Its logger's level is
    put back after."""
    import logging

    import torch

    logger = logging.getLogger("transformers")
    level = logger.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


class FusedEncoder:
    """``encode(texts)``: unit vectors of ``texts``, as the SentenceTransformer gives them (to
    a cosine of about 0.9999 in bf16)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        import torch

        if not fusable(model):
            raise OnnxUnavailable("only transformer + mean pooling models are fused")
        bert = copy.deepcopy(list(model)[0].auto_model).eval().to(torch.bfloat16)
        # PyTorch's fused attention (SDPA). Traced, transformers keeps the padding mask (it
        # drops it only for an all-ones mask outside a trace), so the graph serves any batch.
        # The first 1,000 SciFact abstracts: 9,422 sentences took 12.58 s with the plain
        # ("eager") attention (twice) against 10.16 and 10.44 s, 3,254 passages 13.46 and
        # 13.56 s against 13.10 and 13.13 s; cosine to eager >= 0.99991. All of SciFact:
        # README, "Building the index, by the numbers"
        bert.config._attn_implementation = ATTENTION

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

    def _run(self, encoded: list[Any], rows: int = 1, step: int = STEP) -> np.ndarray:
        """Unit vectors of ``encoded``; the batch padded to a multiple of ``rows`` texts and of
        ``step`` word pieces."""
        import torch

        batch = padded(encoded)
        width = padded_width(batch["input_ids"].shape[1], self.max_length, step)
        batch = fixed_shape(batch, width, rows)
        with self._lock, torch.no_grad():
            vecs = self._net(*(torch.from_numpy(batch[k]) for k in INPUTS)).numpy()[:len(encoded)]
        return unit_rows(vecs)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._run(self.tokenizer.encode_batch(texts))

    def encode_many(self, texts: list[str], batch_size: int, progress: bool = False,
                    pieces: Sequence[np.ndarray | None] | None = None) -> np.ndarray:
        """Documents: batches of similar length (sorted by word pieces), returned in the order
        given. A batch holds ``batch_size`` texts of the model's full length, or as many more
        shorter ones as fit in the same number of word pieces (one row count per width, so few
        shapes)."""
        budget = max(1, batch_size) * self.max_length

        def size(longest: int) -> int:
            return max(batch_size, budget // padded_width(longest, self.max_length, DOCUMENT_STEP))

        def run(batch: list[Any], n: int) -> np.ndarray:
            # a last, short batch padded only to a power of two: few shapes, little waste
            rows = min(n, max(batch_size, 1 << (len(batch) - 1).bit_length()))
            return self._run(batch, rows, DOCUMENT_STEP)

        return encode_longest_first(encodings(self.tokenizer, texts, pieces), size, run, progress)
