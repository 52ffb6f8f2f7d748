"""The reader (rag.reader): fine-tuned from the bundled model, stored without pickle and without
the word embeddings, checked on load, the same logits on PyTorch and ONNX Runtime, and read by
the assistant for its top candidates only."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from evals.reader_train import Pair, ReaderConfig, score_net, score_serving, train_reader
from index.embed import model_fingerprint
from rag.candidates import SENTENCE_FEATURES
from rag.reader import FROZEN, Reader, ReaderError, manifest_path, save_reader, serving_precision

RIGHT = [("What colour is the lighthouse?", "The lighthouse is painted bright red.", ""),
         ("Who keeps the lighthouse?", "Its keeper is a retired sailor named Ortega.", "The lighthouse is old."),
         ("When was the bridge opened?", "The bridge opened to traffic in 1932.", ""),
         ("How long is the bridge?", "It is 2.7 kilometres long.", "The bridge crosses the bay."),
         ("What does the bakery sell?", "The bakery sells rye bread and pastries.", ""),
         ("Where is the bakery?", "The bakery stands beside the harbour.", "")]


def WRONG(i: int) -> tuple[int, ...]:  # noqa: N802
    return tuple((i + d) % len(RIGHT) for d in (1, 2, 3))


def pairs() -> list[Pair]:
    out = []
    for i, (q, s, b) in enumerate(RIGHT):
        out.append(Pair(q, s, b, 1))
        for j in WRONG(i):  # other facts, some about the same place, are wrong answers
            _, s2, b2 = RIGHT[j]
            out.append(Pair(q, s2, b2, 0))
    return out * 4


@pytest.fixture(scope="module")
def trained(model_path: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    cfg = ReaderConfig(epochs=3, batch=8, lr=2e-4, head_lr=3e-3)
    net = train_reader(pairs(), model_path, cfg, log=lambda _: None)
    path = tmp_path_factory.mktemp("reader") / "reader.safetensors"
    save_reader(net, {"base_model": model_fingerprint(model_path), "max_length": cfg.max_length,
                      "top": 4}, path)
    return net, path


def test_the_reader_learns_which_sentence_answers(trained: tuple[object, Path], model_path: str) -> None:
    net, _ = trained
    qs = [q for q, _, _ in RIGHT]
    scores = score_net(net, model_path, qs, [[(s, b) for _, s, b in RIGHT]] * len(qs), 64)
    # each question's own sentence scores above the wrong ones it was shown (by chance: 1 in 4)
    assert sum(all(row[i] > row[j] for j in WRONG(i)) for i, row in enumerate(scores)) >= 5


def test_held_out_scores_are_the_ones_answering_gives(trained: tuple[object, Path], model_path: str,
                                                     tmp_path: Path) -> None:
    """Training scores held-out picks through the stored reader on ONNX Runtime, in the precision
    answering will use, so the scorer is calibrated on those logits (int8 differs from fp32)."""
    net, path = trained
    texts = [(s, b) for _, s, b in RIGHT]
    qs = [RIGHT[0][0], RIGHT[3][0]]
    for precision in ("fp32", "int8"):
        cfg = ReaderConfig(max_length=64, top=4, precision=precision)
        held = score_serving(net, model_path, cfg, qs, [texts, texts[:3]], log=lambda _: None)
        serving = Reader(path, model_path, tmp_path, precision=precision)
        assert [len(h) for h in held] == [6, 3]
        assert np.allclose(held[0], serving.score(qs[0], texts), atol=1e-5)
        assert np.allclose(held[1], serving.score(qs[1], texts[:3]), atol=1e-5)
    fp32 = score_serving(net, model_path, ReaderConfig(precision="fp32"), qs[:1], [texts], log=print)[0]
    int8 = score_serving(net, model_path, ReaderConfig(precision="int8"), qs[:1], [texts], log=print)[0]
    assert not np.allclose(fp32, int8, atol=1e-4)


def test_stored_without_word_embeddings_in_half_precision(trained: tuple[object, Path]) -> None:
    from safetensors import safe_open

    _, path = trained
    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
        assert all(f.get_tensor(k).dtype.__str__() == "torch.float16" for k in keys)
    assert not any(k.removeprefix("bert.") in FROZEN for k in keys)
    assert "head.weight" in keys
    assert 15e6 < path.stat().st_size < 30e6  # the committed one must stay small
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["format"] == 1 and len(manifest["sha256"]) == 64


def test_onnx_and_pytorch_give_the_same_logits(trained: tuple[object, Path], model_path: str,
                                               tmp_path: Path) -> None:
    net, path = trained
    texts = [(s, b) for _, s, b in RIGHT]
    onnx = Reader(path, model_path, tmp_path, backend="onnx")
    torch_reader = Reader(path, model_path, tmp_path, backend="torch")
    assert onnx.backend == "onnx" and torch_reader.backend == "torch"
    a = onnx.score(RIGHT[0][0], texts)
    b = torch_reader.score(RIGHT[0][0], texts)
    assert np.allclose(a, b, atol=1e-3)
    # the stored half-precision weights stay close to the trained ones
    c = score_net(net, model_path, [RIGHT[0][0]], [texts], 64)[0]
    assert np.allclose(a, c, atol=0.05)
    # the export is cached: a second reader reuses it
    assert len(list(tmp_path.glob("reader-onnx-*"))) == 1
    assert Reader(path, model_path, tmp_path).score(RIGHT[0][0], texts[:2]).shape == (2,)
    # dynamic int8: quantised once beside the fp32 export; it loses precision (on this toy reader
    # a correlation near 0.9 with fp32; the bundled reader is compared in README) but keeps the best
    fp32_dir = next(tmp_path.glob("reader-onnx-*"))
    int8 = Reader(path, model_path, tmp_path, precision="int8")
    d = int8.score(RIGHT[0][0], texts)
    assert int8.backend == "onnx" and fp32_dir.with_name(fp32_dir.name + "-int8").is_dir()
    assert np.corrcoef(a, d)[0, 1] > 0.8 and int(np.argmax(d)) == int(np.argmax(a))
    with pytest.raises(ReaderError, match="precision"):
        Reader(path, model_path, tmp_path, precision="fp16")
    # bf16: the ONNX export on OpenVINO; with backend="torch", PyTorch traced with oneDNN's
    # fusion (rag.reader.fused_bf16); close to fp32, not the same numbers
    ov = Reader(path, model_path, tmp_path, precision="bf16")
    o = ov.score(RIGHT[0][0], texts)
    assert ov.backend == "openvino" and o.dtype == np.float32 and o.shape == b.shape
    assert np.allclose(b, o, atol=0.1) and not np.array_equal(b, o)  # b: PyTorch in fp32
    assert np.allclose(ov.score(RIGHT[0][0], texts[:3]), o[:3], atol=0.05)
    bf16 = Reader(path, model_path, tmp_path, precision="bf16", backend="torch")
    e = bf16.score(RIGHT[0][0], texts)
    assert bf16.backend == "torch" and e.dtype == np.float32
    assert np.allclose(b, e, atol=0.1) and not np.array_equal(b, e)
    # the padded rows change nothing of the real ones
    assert np.allclose(bf16.score(RIGHT[0][0], texts[:3]), e[:3], atol=1e-3)
    # traced, and not only for one batch's rows
    import torch

    assert isinstance(bf16._net, torch.jit.ScriptModule)
    many = bf16.score(RIGHT[0][0], texts * 2)  # 16 rows: other kernels, bf16 rounding
    assert np.allclose(many[:len(texts)], e, atol=0.05) and np.allclose(many[:len(texts)], b, atol=0.1)
    assert np.allclose(many[len(texts):2 * len(texts)], many[:len(texts)], atol=1e-3)
    with pytest.raises(ReaderError, match="ONNX Runtime"):
        Reader(path, model_path, tmp_path, backend="onnx", precision="bf16")
    with pytest.raises(ReaderError, match="only in bf16"):
        Reader(path, model_path, tmp_path, backend="openvino")
    with pytest.raises(ReaderError, match="backend"):
        Reader(path, model_path, tmp_path, backend="tensorrt")
    # several threads for one answer: the same logits, from a session that has those threads
    two = Reader(path, model_path, tmp_path, threads=2)
    assert two._session.get_session_options().intra_op_num_threads == 2
    assert np.allclose(two.score(RIGHT[0][0], texts), a, atol=1e-5)
    # the export traces the plain attention (no scaled_dot_product_attention graph), and an
    # export of an older format is made again
    import onnx

    graph = onnx.load(str(fp32_dir / "model.onnx")).graph
    assert sum(n.op_type == "Softmax" for n in graph.node) == 6  # one per layer
    meta = json.loads((fp32_dir / "export.json").read_text(encoding="utf-8"))
    (fp32_dir / "export.json").write_text(json.dumps({**meta, "export_format": 1}), encoding="utf-8")
    again = Reader(path, model_path, tmp_path)
    assert json.loads((fp32_dir / "export.json").read_text(encoding="utf-8"))["export_format"] == 2
    assert np.allclose(again.score(RIGHT[0][0], texts), a, atol=1e-5)


def test_a_bf16_reader_whose_export_fails_runs_fused_and_says_why(
        trained: tuple[object, Path], model_path: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from rag import reader as reader_module

    _, path = trained

    def broken(*_: object) -> None:
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(reader_module, "export_onnx", broken)
    with caplog.at_level(logging.WARNING):
        fallback = Reader(path, model_path, tmp_path / "cache", precision="bf16")
    assert fallback.backend == "torch" and "exporter crashed" in caplog.text
    assert fallback.score(RIGHT[0][0], [(s, b) for _, s, b in RIGHT]).shape == (len(RIGHT),)
    with pytest.raises(ReaderError, match="exporter crashed"):  # asked for by name: no fallback
        Reader(path, model_path, tmp_path / "cache", precision="bf16", backend="openvino")


def test_damaged_or_foreign_weights_are_refused(trained: tuple[object, Path], model_path: str,
                                                tmp_path: Path) -> None:
    _, path = trained
    bad = tmp_path / "reader.safetensors"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    manifest_path(bad).write_text(manifest_path(path).read_text())
    with pytest.raises(ReaderError, match="checksum"):
        Reader(bad, model_path, tmp_path, backend="torch")
    bad.write_bytes(path.read_bytes())
    other = json.loads(manifest_path(path).read_text())
    other["base_model"] = {"name": "another-model", "sha256": "0" * 64}
    manifest_path(bad).write_text(json.dumps(other))
    with pytest.raises(ReaderError, match="another embedding model"):
        Reader(bad, model_path, tmp_path, backend="torch", fingerprint=model_fingerprint(model_path))
    with pytest.raises(ReaderError, match="No reader"):
        Reader(tmp_path / "missing.safetensors", model_path, tmp_path)


def test_the_assistant_reads_only_its_top_candidates(trained: tuple[object, Path], assistant,  # noqa: ANN001
                                                     tmp_path: Path) -> None:
    _, path = trained
    folder = tmp_path / "models"
    folder.mkdir()
    for f in (path, manifest_path(path)):
        (folder / f.name).write_bytes(f.read_bytes())
    bundled = assistant.extractive.scorer
    scorer = replace(bundled, reader_file=folder / path.name, reader_top=3, reader_sha256="")
    reading = assistant.with_scorer(scorer)
    p = reading.prepare("Who is the leader of North Korea?")
    cands = reading.candidates(p)
    col = SENTENCE_FEATURES.index("reader")
    read = [c for c in cands if np.isfinite(c.features[col])]
    assert len(cands) > 3 and len(read) == 3
    assert max(c.features[SENTENCE_FEATURES.index("reader_to_max")] for c in read) == 0.0
    unread = reading.candidates(p, read=False)
    assert not any(np.isfinite(c.features[col]) for c in unread)
    # a scorer without a reader reads nothing
    assert assistant.with_scorer(replace(bundled, reader_file=None)).reader is None
    assert reading.answer("Who is the leader of North Korea?").text
    # the reader runs in the precision the scorer was trained with (reader_precision auto),
    # fp32 as bf16 where the CPU has AMX
    assert reading.reader.precision == serving_precision("fp32") in ("fp32", "bf16")
    # with a reader loaded, FAISS's OpenMP and numpy's BLAS keep to one thread, so their idle
    # threads do not spin against the reader's (rag.threads.quiet_other_pools)
    import faiss
    from threadpoolctl import threadpool_info

    assert faiss.omp_get_max_threads() == 1
    assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    int8 = assistant.with_scorer(replace(scorer, reader_precision="int8"))
    assert int8.reader_precision == "int8" and int8.reader.precision == "int8"


def test_a_reader_from_another_training_run_is_refused(trained: tuple[object, Path], assistant,  # noqa: ANN001
                                                       tmp_path: Path) -> None:
    from rag.scorer import ScorerError

    _, path = trained
    scorer = replace(assistant.extractive.scorer, reader_file=path, reader_top=3, reader_sha256="0" * 64)
    with pytest.raises(ScorerError, match="retrain"):
        assistant.with_scorer(scorer).reader  # noqa: B018


def test_a_rerun_reuses_the_final_reader(assistant, dev_items: list[dict], tmp_path: Path,  # noqa: ANN001
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The final reader is kept in the cache under the hash of its data and settings: a rerun
    that changes only the scorer's side (here how many it reads) copies it instead of training
    again, and a damaged cached copy is trained again rather than used."""
    import evals.reader_train as reader_train
    from evals.answerer_train import collect
    from evals.settings import TrainSettings
    from evals.train import final_reader, reads_of

    items = [it for it in dev_items if it["answerable"]][:3]
    data = collect(assistant, items, ["a", "b", "c"])
    rag = assistant.settings.model_copy(update={"index": assistant.settings.index.model_copy(
        update={"cache_dir": tmp_path / "cache"})})
    trainings = []
    real = reader_train.train_reader

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        trainings.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reader_train, "train_reader", counted)
    first = TrainSettings(data=["x"], rag=rag, out=tmp_path / "one" / "answerer.json", reader_epochs=0.5)
    a = final_reader(data, first, {"out_of_fold": {}, "reads": reads_of(first)}, [], lambda _: None)
    assert trainings == [1] and a["top"] == 8
    second = first.model_copy(update={"out": tmp_path / "two" / "answerer.json", "reader_reads": 3})
    b = final_reader(data, second, {"out_of_fold": {}, "reads": reads_of(second)}, [], lambda _: None)
    assert trainings == [1] and b["top"] == 3 and b["sha256"] == a["sha256"]
    assert (tmp_path / "two" / "reader.safetensors").read_bytes() == \
        (tmp_path / "one" / "reader.safetensors").read_bytes()
    # the copy loads and passes the reader's own checks
    Reader(tmp_path / "two" / "reader.safetensors", assistant.settings.index.model_path, tmp_path / "cache")
    cached = next((tmp_path / "cache" / "reader-final").glob("*.safetensors"))
    cached.write_bytes(cached.read_bytes()[:-8] + b"damaged!")
    final_reader(data, second, {"out_of_fold": {}, "reads": 3}, [], lambda _: None)
    assert trainings == [1, 1]


def test_reads_are_at_most_the_readers_top() -> None:
    from pydantic import ValidationError

    from evals.settings import TrainSettings
    from evals.train import reads_of

    assert reads_of(TrainSettings(data=["x"])) == 8
    assert reads_of(TrainSettings(data=["x"], reader_reads=4)) == 4
    with pytest.raises(ValidationError):
        TrainSettings(data=["x"], reader_reads=9)


def test_a_reader_of_fewer_layers_is_stored_and_served(model_path: str, tmp_path: Path) -> None:
    """``layers``: the reader keeps the base model's first N layers; it is saved with them only,
    loaded with them (its manifest says how many) and gives the same logits on both backends."""
    from safetensors import safe_open

    from evals.reader_train import ReaderData

    cfg = ReaderConfig(epochs=1, batch=8, lr=2e-4, head_lr=3e-3, layers=2)
    net = train_reader(pairs(), model_path, cfg, log=lambda _: None)
    path = tmp_path / "reader.safetensors"
    save_reader(net, {"base_model": model_fingerprint(model_path), "max_length": cfg.max_length,
                      "top": 4, "settings": cfg.__dict__}, path)
    with safe_open(str(path), "pt") as f:
        layers = {k.split(".")[3] for k in f.keys() if k.startswith("bert.encoder.layer.")}
    assert layers == {"0", "1"}
    texts = [(s, b) for _, s, b in RIGHT]
    onnx = Reader(path, model_path, tmp_path / "cache")
    torch_reader = Reader(path, model_path, tmp_path / "cache", backend="torch")
    assert onnx.backend == "onnx"
    np.testing.assert_allclose(onnx.score(RIGHT[0][0], texts), torch_reader.score(RIGHT[0][0], texts),
                               atol=1e-4)
    # a different depth is a different reader: its held-out scores are not reused
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(ReaderConfig(), folds) != rd.digest(cfg, folds)


def test_a_listwise_reader_learns_which_sentence_answers(model_path: str) -> None:
    cfg = ReaderConfig(epochs=3, batch=8, lr=2e-4, head_lr=3e-3, loss="listwise")
    net = train_reader(pairs(), model_path, cfg, log=lambda _: None)
    qs = [q for q, _, _ in RIGHT]
    scores = score_net(net, model_path, qs, [[(s, b) for _, s, b in RIGHT]] * len(qs), 64)
    assert sum(all(row[i] > row[j] for j in WRONG(i)) for i, row in enumerate(scores)) >= 5


def test_a_reader_trained_in_bf16_learns_and_keeps_fp32_weights(model_path: str) -> None:
    """``train_precision="bf16"``: the passes run under bf16 autocast, the weights stay fp32,
    and the reader still learns; the setting is part of the cache key (fp32's key unchanged)."""
    import torch

    from evals.reader_train import ReaderData

    cfg = ReaderConfig(epochs=3, batch=8, lr=2e-4, head_lr=3e-3, train_precision="bf16")
    net = train_reader(pairs(), model_path, cfg, log=lambda _: None)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    qs = [q for q, _, _ in RIGHT]
    scores = score_net(net, model_path, qs, [[(s, b) for _, s, b in RIGHT]] * len(qs), 64)
    assert sum(all(row[i] > row[j] for j in WRONG(i)) for i, row in enumerate(scores)) >= 5
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(ReaderConfig(), folds) != rd.digest(cfg, folds)
    assert rd.digest(ReaderConfig(), folds) == rd.digest(ReaderConfig(train_precision=None), folds)
    with pytest.raises(ValueError, match="precision"):
        train_reader(pairs(), model_path, ReaderConfig(train_precision="fp16"), log=lambda _: None)


def test_the_window_is_a_training_setting_the_served_reader_keeps(
        trained: tuple[object, Path], model_path: str, tmp_path: Path) -> None:
    """``--reader-window N``: the reader is trained on pairs cut to N word pieces, its manifest
    says N, and answering cuts pairs to the same N; the default
    (64) keeps the earlier readers' cache keys."""
    from evals.reader_train import ReaderData
    from evals.settings import TrainSettings
    from evals.train import reader_config

    # the defaults: window 64 (the training arithmetic is the CPU's: auto)
    assert reader_config(TrainSettings(data=["x"], reader_train_precision="fp32")) == ReaderConfig(
        epochs=1.5, perturb=0.5, loss="both")
    cfg = reader_config(TrainSettings(data=["x"], reader_window=96))
    assert cfg.max_length == 96
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(ReaderConfig(), folds) == rd.digest(ReaderConfig(max_length=64), folds)
    assert rd.digest(ReaderConfig(), folds) != rd.digest(ReaderConfig(max_length=96), folds)

    net, _ = trained
    long = " ".join(f"word{i}" for i in range(60)) + " and the answer is Ortega."
    widths = {}
    for window in (64, 96):
        path = tmp_path / f"w{window}" / "reader.safetensors"
        save_reader(net, {"base_model": model_fingerprint(model_path), "max_length": window,
                          "top": 4}, path)
        reader = Reader(path, model_path, tmp_path / "cache", backend="torch", precision="fp32")
        assert reader.max_length == window
        enc = reader.encode("Who keeps the lighthouse?", [(long, "The lighthouse is old.")])
        widths[window] = enc["input_ids"].shape[1]
        ids = [int(i) for i in enc["input_ids"][0] if i]
        assert len(ids) == window  # cut to the window, and no further
    assert widths == {64: 64, 96: 96}


def test_a_reader_soup_averages_readers_trained_from_one_start(
        model_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``soup=2``: two readers from the same start (the first the very reader ``soup=None``
    trains), on other orders of the pairs; the result holds the mean of their weights and still
    learns. The setting is part of the cache key (None's key unchanged); 0 readers is refused."""
    import torch

    from evals import reader_train
    from evals.reader_train import ReaderData

    cfg = ReaderConfig(epochs=3, batch=8, lr=2e-4, head_lr=3e-3)
    single = train_reader(pairs(), model_path, cfg, log=lambda _: None)
    members: list[dict[str, torch.Tensor]] = []
    real = reader_train._fit

    def kept(net, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        real(net, *args, **kwargs)
        members.append({k: v.detach().clone() for k, v in net.state_dict().items()})

    monkeypatch.setattr(reader_train, "_fit", kept)
    soup = train_reader(pairs(), model_path, replace(cfg, soup=2), log=lambda _: None)
    assert len(members) == 2
    name = "bert.encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(members[0][name], single.state_dict()[name])
    assert not torch.equal(members[0][name], members[1][name])
    for k, v in soup.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, (members[0][k] + members[1][k]) / 2)
    assert not soup.training
    qs = [q for q, _, _ in RIGHT]
    scores = score_net(soup, model_path, qs, [[(s, b) for _, s, b in RIGHT]] * len(qs), 64)
    assert sum(all(row[i] > row[j] for j in WRONG(i)) for i, row in enumerate(scores)) >= 5
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(cfg, folds) != rd.digest(replace(cfg, soup=2), folds)
    assert rd.digest(ReaderConfig(), folds) == rd.digest(ReaderConfig(soup=None), folds)
    with pytest.raises(ValueError, match="soup"):
        train_reader(pairs(), model_path, replace(cfg, soup=0), log=lambda _: None)
    # --reader-soup 1 is one reader: the same configuration (and cache key) as none
    from evals.settings import TrainSettings
    from evals.train import reader_config

    one = TrainSettings(data=["x"], reader_train_precision="fp32", reader_soup=1)
    assert reader_config(one).soup is None
    assert reader_config(one.model_copy(update={"reader_soup": 3})).soup == 3


def test_an_answer_span_loss_trains_beside_the_reader_and_is_not_stored(
        model_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``span``: a head used only in training learns where each right sentence's answer lies
    (its loss falls), the reader still learns which sentence answers, and what is stored is the
    reader alone. The setting is part of the cache key (None's key unchanged); a weight of 0 is
    refused."""
    from evals import reader_train
    from evals.reader_train import ReaderData
    from evals.settings import TrainSettings
    from evals.train import reader_config

    answers = ["bright red", "Ortega", "1932", "2.7 kilometres", "rye bread", "beside the harbour"]
    spanned = [replace(p, answer=answers[[s for _, s, _ in RIGHT].index(p.sentence)]) if p.label else p
               for p in pairs()]
    seen: list[float] = []
    real = reader_train.span_loss

    def kept(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        out = real(*args, **kwargs)
        seen.append(float(out.detach()))
        return out

    monkeypatch.setattr(reader_train, "span_loss", kept)
    cfg = ReaderConfig(epochs=3, batch=8, lr=2e-4, head_lr=3e-3)
    net = train_reader(spanned, model_path, replace(cfg, span=1.0), log=lambda _: None)
    assert len(seen) >= 9
    assert np.mean(seen[-3:]) < 0.5 * np.mean(seen[:3])
    qs = [q for q, _, _ in RIGHT]
    scores = score_net(net, model_path, qs, [[(s, b) for _, s, b in RIGHT]] * len(qs), 64)
    assert sum(all(row[i] > row[j] for j in WRONG(i)) for i, row in enumerate(scores)) >= 5
    plain = train_reader(spanned, model_path, cfg, log=lambda _: None)
    assert net.state_dict().keys() == plain.state_dict().keys()
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert not np.allclose(net.state_dict()[name].numpy(), plain.state_dict()[name].numpy())
    rd = ReaderData(["q"], [[("s", "")]], [np.array([True])], [np.zeros(1)], ["g"])
    folds = np.zeros(1, dtype=int)
    assert rd.digest(cfg, folds) != rd.digest(replace(cfg, span=1.0), folds)
    assert rd.digest(ReaderConfig(), folds) == rd.digest(ReaderConfig(span=None), folds)
    with pytest.raises(ValueError, match="span"):
        train_reader(spanned, model_path, replace(cfg, span=0.0), log=lambda _: None)
    assert reader_config(TrainSettings(data=["x"], reader_train_precision="fp32")).span is None
    assert reader_config(TrainSettings(data=["x"], reader_train_precision="fp32", reader_span=0.5)).span == 0.5
