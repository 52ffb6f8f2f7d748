"""evals.build_speed on a small BEIR-layout folder made from the seed articles' paragraphs."""

from __future__ import annotations

import json
from pathlib import Path

from evals.build_speed import main
from index.store import live_version, read_manifest

ROOT = Path(__file__).resolve().parents[2]


def beir_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    rows = []
    for doc in sorted((ROOT / "seeds").glob("*.txt")):
        paras = [p.strip() for p in doc.read_text(encoding="utf-8").split("\n\n") if len(p.split()) > 20]
        rows += [{"_id": f"{doc.stem}-{i}", "title": doc.stem, "text": p} for i, p in enumerate(paras[:6])]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "Who met?"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\nq1\t{rows[0]['_id']}\t1\n")
    return folder


def test_build_speed_times_builds_against_plain_encoding(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["--beir", str(beir_folder(tmp_path)), "--out", str(out),
                 "--precision", "fp32", "int8"]) == 0
    data = json.loads((out / "build_speed.json").read_text())
    assert data["documents"] == data["plain"]["documents"] >= 6
    builds = {b["precision"]: b for b in data["builds"]}
    assert set(builds) == {"fp32", "int8"} and builds["int8"]["engine"] == "onnx"
    for b in builds.values():
        assert b["passages"] >= data["documents"] and b["sentences"] > b["passages"]
        # Each figure is rounded to the millisecond: the parts may overshoot the whole by that.
        assert 0 < b["passage_embedding_s"] + b["sentence_embedding_s"] <= b["seconds"] + 0.002
        manifest = read_manifest(live_version(out / b["precision"] / "index"), out / b["precision"] / "index")
        assert manifest["model"]["precision"] == b["precision"] and manifest["count"] == b["passages"]
    assert builds["int8"]["ratio_to_plain"] > 0 and "exact_seconds" not in data["plain"]


def test_plain_only_times_plain_encoding_alone(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    assert main(["--beir", str(beir_folder(tmp_path)), "--out", str(out), "--plain-only"]) == 0
    data = json.loads((out / "build_speed.json").read_text())
    # what `rag bench` reads: the exact time kept, and no build made
    assert data["builds"] == [] and data["plain"]["exact_seconds"] > 0
    assert data["plain"]["documents"] == data["documents"] >= 6 and not (out / "fp32").exists()


def test_the_bench_builds_the_corpus_anew_each_run(tmp_path: Path) -> None:
    """`rag bench --beir` times a full build: an index left in its folder by an earlier run is
    deleted first, not checked and reused."""
    from evals.bench import beir_figures

    out = tmp_path / "bench"
    left = out / "beir-index"
    left.mkdir(parents=True)
    (left / "left-by-an-earlier-run").write_text("x", encoding="utf-8")
    figures = beir_figures(beir_folder(tmp_path), out, repeat=2)
    assert not (left / "left-by-an-earlier-run").exists()
    manifest = read_manifest(live_version(left), left)
    assert manifest["count"] == figures["passages"] > 0
    assert figures["build_seconds"] > 0 and figures["build_vs_plain_encode"] > 0
