"""The bf16 engines: the encoder traced with oneDNN's fusion (index.fused) and the ONNX export
on OpenVINO (index.openvino_session) give vectors as sentence-transformers gives them, in the
order given; a model that cannot be fused keeps the unfused path."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from index import fused as fused_module
from index import openvino_session
from index.embed import Embedder
from index.onnx_encoder import STEP, OnnxUnavailable, export_dir, padded_width


def test_fused_bf16_vectors_match_fp32(embedder: Embedder, model_path: str, seed_index,  # noqa: ANN001
                                       monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)
    monkeypatch.setattr(openvino_session, "openvino_available", lambda: False)
    bf16 = Embedder(model_path, "bf16", batch_size=4, query_encoder="auto", cache_dir=embedder.cache_dir)
    bf16._model = embedder.model  # the shared fp32 model: the fused copy must leave it alone
    assert bf16.query_engine == "fused-bf16" and bf16.document_engine == "fused-bf16"
    long = " ".join(["the lighthouse keeper wrote in the log"] * 80)  # past the model's 256 tokens
    texts = [p.text for p in seed_index.passages[:30]] + ["Short.", "", long, "A mid-length line."]
    got = bf16.encode_documents(texts)  # sorted by length in batches of 4, returned in order
    want = embedder.model.encode(texts, normalize_embeddings=True)
    cos = (got * want).sum(axis=1)
    assert got.shape == want.shape and cos.min() > 0.999
    assert not np.allclose(got, want, atol=1e-5)  # bf16, not the fp32 model
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    questions = ["Where is he based now?", "Who met whom, and when did they meet?"]
    q = bf16.encode_queries(questions)
    assert (q * embedder.model.encode(questions, normalize_embeddings=True)).sum(axis=1).min() > 0.999
    # one text alone gets the vector it gets in a batch (padding changes nothing)
    assert np.allclose(bf16.encode_queries(questions[1:]), q[1:], atol=2e-3)
    # a short text padded to 256 word pieces beside a long one: the traced graph keeps the
    # padding mask (index.fused.ATTENTION)
    mixed = bf16._fused.encode(["Short.", long])
    assert np.allclose(bf16._fused.encode(["Short."])[0], mixed[0], atol=2e-3)
    # OpenVINO not installed is said, not warned about (index.errors.EngineMissing)
    said = [r for r in caplog.records if "without OpenVINO" in r.getMessage()]
    assert said and all(r.levelno == logging.INFO for r in said)
    assert next(embedder.model.parameters()).dtype == torch.float32
    # an engine asked for by name is kept
    named = Embedder(model_path, "bf16", query_encoder="onnx", cache_dir=embedder.cache_dir)
    named._model = embedder.model
    assert named.query_engine == "onnx"
    assert Embedder(model_path, "fp32").document_engine == "torch"


def test_widths_are_rounded_up_to_whole_steps() -> None:
    assert padded_width(1, 256) == STEP
    assert padded_width(STEP + 1, 256) == 2 * STEP
    assert padded_width(250, 256) == 256
    assert padded_width(300, 256) == 300  # never cut here: the tokenizer truncates


def test_a_model_that_cannot_be_fused_keeps_autocast(embedder: Embedder, model_path: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    def refuse(*_: object) -> None:
        raise OnnxUnavailable("only transformer + mean pooling models are fused")

    monkeypatch.setattr(fused_module, "FusedEncoder", refuse)
    bf16 = Embedder(model_path, "bf16", query_encoder="torch", cache_dir=embedder.cache_dir)
    bf16._model = embedder.model
    with caplog.at_level(logging.WARNING):
        got = bf16.encode_documents(["Where is he based now?"])
    assert bf16.document_engine == "torch" and "unfused" in caplog.text
    want = embedder.model.encode(["Where is he based now?"], normalize_embeddings=True)
    assert float((got * want).sum()) > 0.999
    assert not fused_module.fusable([object()])


def test_openvino_queries_match_fp32_on_several_threads(embedder: Embedder,
                                                        model_path: str) -> None:
    bf16 = Embedder(model_path, "bf16", query_encoder="auto", cache_dir=embedder.cache_dir, query_threads=1)
    bf16._model = embedder.model
    assert bf16.query_engine == "openvino-bf16"
    questions = [f"Who kept the lighthouse in {1900 + i}, and why did they leave?" for i in range(12)]
    want = embedder.model.encode(questions, normalize_embeddings=True)
    got = bf16.encode_queries(questions)
    assert (got * want).sum(axis=1).min() > 0.999
    if bf16._query_bf16().session.precision == "bf16":  # without bf16 CPU support OpenVINO runs f32
        assert not np.allclose(got, want, atol=1e-5)
    # answers on several threads at once (requests from a pool): the same vectors
    out: dict[int, np.ndarray] = {}

    def one(i: int) -> None:
        out[i] = bf16.encode_query(questions[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.allclose(np.stack([out[i] for i in range(len(questions))]),
                       np.stack([bf16.encode_query(q) for q in questions]), atol=1e-6)


def test_openvino_says_why_it_cannot_run(tmp_path: Path, embedder: Embedder, model_path: str) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(OnnxUnavailable, match="OpenVINO"):
        openvino_session.OpenVinoSession(bad, 1)
    from index.embed import model_fingerprint

    embedder.encode_query("warm")  # the fp32 export exists
    good = export_dir(embedder.cache_dir, model_fingerprint(model_path)) / "model.onnx"
    session = openvino_session.OpenVinoSession(good, 1)
    assert session.precision in ("bf16", "f32")  # what the CPU allowed
    # threads not pinned to cores unless asked: pinned, two one-thread processes share a core
    assert session._compiled.get_property("ENABLE_CPU_PINNING") is False
    assert openvino_session.OpenVinoSession(good, 1, pin=True)._compiled.get_property(
        "ENABLE_CPU_PINNING") is True


def test_openvino_model_is_cached_checked_and_remade(embedder: Embedder, model_path: str,
                                                      tmp_path: Path) -> None:
    import shutil

    import openvino as ov

    from index.embed import model_fingerprint

    embedder.encode_query("warm")  # the fp32 export exists
    export = export_dir(embedder.cache_dir, model_fingerprint(model_path))
    onnx_file = tmp_path / "export" / "model.onnx"
    onnx_file.parent.mkdir()
    shutil.copy(export / "model.onnx", onnx_file)
    core = ov.Core()
    xml = openvino_session.openvino_model(core, onnx_file)
    bin_file = xml.with_suffix(".bin")
    stamp = bin_file.stat().st_mtime_ns
    assert openvino_session.openvino_model(core, onnx_file) == xml
    assert bin_file.stat().st_mtime_ns == stamp  # reused
    assert bin_file.stat().st_size < (onnx_file.stat().st_size * 0.6)  # fp16 weights
    with open(bin_file, "r+b") as f:  # damaged: made again, and runs
        f.seek(bin_file.stat().st_size // 2)
        f.write(b"\0" * 64)
    openvino_session.openvino_model(core, onnx_file)
    assert bin_file.stat().st_mtime_ns != stamp
    session = openvino_session.OpenVinoSession(onnx_file, 1, requests=2)
    feeds = {"input_ids": np.array([[101, 2054, 102]]), "attention_mask": np.ones((1, 3), np.int64),
             "token_type_ids": np.zeros((1, 3), np.int64)}
    assert session.run(None, feeds)[0].shape == (1, 3, 384)
    assert not list(onnx_file.parent.glob(".openvino-*"))  # no temporary folders left


def test_openvino_requests_are_pooled_and_bounded(embedder: Embedder, model_path: str) -> None:
    from index.embed import model_fingerprint

    embedder.encode_query("warm")
    good = export_dir(embedder.cache_dir, model_fingerprint(model_path)) / "model.onnx"
    session = openvino_session.OpenVinoSession(good, 1, requests=2)
    made = []
    real = session._compiled.create_infer_request

    def counted() -> object:
        made.append(1)
        return real()

    session._compiled = type("Counting", (), {"create_infer_request": staticmethod(counted)})()
    feeds = {"input_ids": np.array([[101, 2054, 2003, 102]]), "attention_mask": np.ones((1, 4), np.int64),
             "token_type_ids": np.zeros((1, 4), np.int64)}
    want = session.run(None, feeds)[0]
    out = []
    threads = [threading.Thread(target=lambda: out.append(session.run(None, feeds)[0])) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 16 and all(np.allclose(o, want, atol=1e-6) for o in out)
    assert 1 <= len(made) <= 2  # 16 threads, at most two requests


def test_tracing_prints_nothing_for_whoever_asks(model_path: str, capfd: pytest.CaptureFixture[str],
                                                 recwarn: pytest.WarningsRecorder) -> None:
    """index.fused.traced keeps the tracer's warnings and transformers' notes (set off when
    freezing reads every attribute of the model) off the terminal, and puts transformers'
    log level back after."""
    from rag.reader import build_net

    if hasattr(logging.Logger, "warning_once"):  # transformers says some notes once a process
        logging.Logger.warning_once.cache_clear()
    reader = build_net(model_path).eval()  # what rag.reader.fused_bf16 traces

    rows = np.zeros((2, 16), dtype=np.int64)
    example = {"input_ids": rows + 1000, "attention_mask": np.ones_like(rows), "token_type_ids": rows}
    level = logging.getLogger("transformers").level
    capfd.readouterr()
    net = fused_module.traced(reader, example)
    err = capfd.readouterr().err
    assert "loss_type" not in err and "deprecated" not in err, err
    assert not [w for w in recwarn if issubclass(w.category, (FutureWarning, torch.jit.TracerWarning))]
    assert logging.getLogger("transformers").level == level
    with torch.no_grad():
        assert net(*(torch.from_numpy(example[k]) for k in ("input_ids", "attention_mask",
                                                            "token_type_ids"))).shape == (2,)
