"""The ONNX Runtime query encoder: same vectors as PyTorch, cached once, checked, and a clean
fallback to PyTorch when it cannot run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from index.embed import Embedder, model_fingerprint
from index.onnx_encoder import OnnxUnavailable, export_dir


def questions(dev_items: list[dict]) -> list[str]:
    return [d["question"] for d in dev_items]


def test_onnx_vectors_match_pytorch(embedder: Embedder, dev_items: list[dict]) -> None:
    assert embedder.query_engine == "onnx"
    qs = questions(dev_items)
    torch_vecs = embedder.model.encode(qs, normalize_embeddings=True)
    batch = embedder.encode_queries(qs)
    single = np.stack([embedder.encode_query(q) for q in qs])
    assert (batch * torch_vecs).sum(axis=1).min() > 0.9999
    assert (single * torch_vecs).sum(axis=1).min() > 0.9999
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    # a text longer than the model reads is truncated as sentence-transformers truncates it
    long = " ".join(["the lighthouse keeper wrote in the log"] * 80)
    assert float(embedder.encode_query(long) @ embedder.model.encode(long, normalize_embeddings=True)) > 0.9999


def test_export_is_cached_and_a_damaged_one_is_redone(embedder: Embedder, tmp_path: Path,
                                                      model_path: str) -> None:
    fresh = Embedder(model_path, "fp32", query_encoder="onnx", cache_dir=tmp_path)
    fresh._model = embedder.model  # share the loaded weights; the export still runs
    fresh.encode_query("warm")
    folder = export_dir(tmp_path, model_fingerprint(model_path))
    onnx_file = folder / "model.onnx"
    stamp = onnx_file.stat().st_mtime_ns
    again = Embedder(model_path, "fp32", query_encoder="onnx", cache_dir=tmp_path)
    again._model = embedder.model
    v = again.encode_query("Where is he based now?")
    assert onnx_file.stat().st_mtime_ns == stamp  # reused, not exported again
    with open(onnx_file, "r+b") as f:  # flip bytes in the middle of the weights
        f.seek(onnx_file.stat().st_size // 2)
        f.write(b"\0" * 64)
    damaged = Embedder(model_path, "fp32", query_encoder="onnx", cache_dir=tmp_path)
    damaged._model = embedder.model
    assert np.allclose(damaged.encode_query("Where is he based now?"), v, atol=1e-5)
    assert not list(tmp_path.glob(".export-*"))  # no half-written folders left behind


def test_auto_falls_back_to_pytorch_and_onnx_alone_says_why(embedder: Embedder, tmp_path: Path,
                                                            model_path: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    auto = Embedder(model_path, "fp32", query_encoder="auto", cache_dir=blocked)
    auto._model = embedder.model
    with caplog.at_level(logging.WARNING):
        v = auto.encode_query("Where is he based now?")
    assert auto.query_engine == "torch" and "PyTorch" in caplog.text
    assert float(v @ embedder.encode_query("Where is he based now?")) > 0.9999
    strict = Embedder(model_path, "fp32", query_encoder="onnx", cache_dir=blocked)
    strict._model = embedder.model
    with pytest.raises(OnnxUnavailable):
        strict.encode_query("Where is he based now?")


def test_documents_on_onnx_match_pytorch_in_the_given_order(embedder: Embedder, model_path: str,
                                                            seed_index) -> None:  # noqa: ANN001
    docs = Embedder(model_path, "fp32", batch_size=4, query_encoder="onnx",
                    cache_dir=embedder.cache_dir, document_encoder="onnx")
    docs._model = embedder.model
    texts = [p.text for p in seed_index.passages[:30]] + ["Short.", "", "A mid-length line of text."]
    got = docs.encode_documents(texts)  # batches of similar length, returned in text order
    want = embedder.model.encode(texts, normalize_embeddings=True)
    assert docs.document_engine == "onnx" and got.shape == want.shape
    assert (got * want).sum(axis=1).min() > 0.9999
    # bf16 stays on PyTorch (traced with oneDNN's fusion: tests/integration/test_fused.py);
    # torch is never replaced
    assert Embedder(model_path, "bf16", document_encoder="onnx").document_engine == "fused-bf16"
    assert Embedder(model_path, "fp32", document_encoder="torch").document_engine == "torch"
    with pytest.raises(ValueError, match="document_encoder"):
        Embedder(model_path, document_encoder="tensorflow")


def test_int8_documents_are_close_to_fp32_cached_and_queries_stay_fp32(
        embedder: Embedder, model_path: str, seed_index, tmp_path: Path) -> None:  # noqa: ANN001
    int8 = Embedder(model_path, "int8", cache_dir=tmp_path)  # document_encoder's default: torch
    int8._model = embedder.model
    texts = [p.text for p in seed_index.passages[:24]]
    got = int8.encode_documents(texts)
    want = embedder.model.encode(texts, normalize_embeddings=True)
    cos = (got * want).sum(axis=1)
    assert int8.document_engine == "onnx" and int8.precision == "int8"
    assert cos.min() > 0.97 and cos.mean() > 0.985  # close to fp32 ...
    assert cos.min() < 0.9999  # ... but quantised, not the fp32 export
    fp32_folder = export_dir(tmp_path, model_fingerprint(model_path))
    q_folder = fp32_folder.with_name(fp32_folder.name + "-int8")
    stamp = (q_folder / "model.onnx").stat().st_mtime_ns
    again = Embedder(model_path, "int8", cache_dir=tmp_path)
    again._model = embedder.model
    assert np.allclose(again.encode_documents(texts[:3]), got[:3], atol=1e-5)
    assert (q_folder / "model.onnx").stat().st_mtime_ns == stamp  # quantised once
    q = "Where is he based now?"  # queries use the fp32 export
    on_onnx = Embedder(model_path, "int8", query_encoder="onnx", cache_dir=tmp_path)
    on_onnx._model = embedder.model
    assert float(on_onnx.encode_query(q) @ embedder.model.encode(q, normalize_embeddings=True)) > 0.9999
    assert "quantized" not in on_onnx._onnx_encoder().meta
    assert on_onnx._onnx_document_encoder().meta["quantized"] == "dynamic int8, per channel"

    def remade(damage) -> bool:  # noqa: ANN001
        before = (q_folder / "model.onnx").stat().st_mtime_ns
        damage()
        fresh = Embedder(model_path, "int8", cache_dir=tmp_path)
        fresh._model = embedder.model
        assert np.allclose(fresh.encode_documents(texts[:3]), got[:3], atol=1e-5)
        return (q_folder / "model.onnx").stat().st_mtime_ns != before

    def flip_middle(path: Path) -> None:
        with open(path, "r+b") as f:
            f.seek(path.stat().st_size // 2)
            f.write(b"\0" * 64)

    def edit_meta(folder: Path, **changes: str) -> None:
        meta = json.loads((folder / "export.json").read_text())
        (folder / "export.json").write_text(json.dumps({**meta, **changes}))

    assert not remade(lambda: None)
    assert remade(lambda: flip_middle(q_folder / "model.onnx"))  # damaged int8 weights
    assert remade(lambda: (q_folder / "export.json").write_text("{not json"))
    assert remade(lambda: edit_meta(q_folder, quantized="dynamic int8"))  # another scheme
    assert remade(lambda: edit_meta(q_folder, source_sha256="0" * 64))  # fp32 made anew since
    fp32_stamp = (fp32_folder / "model.onnx").stat().st_mtime_ns
    remade(lambda: (fp32_folder / "export.json").write_text(""))  # damaged fp32 metadata:
    assert (fp32_folder / "model.onnx").stat().st_mtime_ns != fp32_stamp  # fp32 exported anew
    assert not list(tmp_path.glob(".quantize-*")) and not list(tmp_path.glob(".export-*"))
    with pytest.raises(ValueError, match="precision"):
        Embedder(model_path, "int4")
