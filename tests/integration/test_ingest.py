"""The embedding job on Dask distributed (index.ingest): a local cluster held to loopback,
Parquet output, and builds that take their vectors from it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import loopback

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")


def test_job_on_a_loopback_cluster_then_a_build_from_its_parquet(seed_settings, seed_index,  # noqa: ANN001
                                                                 embedder, tmp_path: Path) -> None:  # noqa: ANN001
    import pyarrow.parquet as pq

    from index.build import build_index
    from index.ingest import LookupEmbedder, run_job
    from index.search import SearchIndex

    docs = tmp_path / "docs"
    shutil.copytree(seed_settings.docs_dir, docs)
    settings = seed_settings.model_copy(update={"docs_dir": docs, "index_dir": tmp_path / "index"})
    seen: dict[str, list[str]] = {}

    def inspect(client) -> None:  # noqa: ANN001
        info = client.scheduler_info()
        seen["addresses"] = [client.scheduler.address, *info["workers"]]
        if shutil.which("ss"):
            seen["ss"] = subprocess.run(["ss", "-tln"], capture_output=True, text=True).stdout.splitlines()

    report = run_job(settings, tmp_path / "parquet", workers=1, on_ready=inspect)
    assert report.workers == 1 and report.passages == len(seed_index.passages)
    assert report.sentences == len(seed_index.sentence_vectors)
    assert all(loopback(a) for a in seen["addresses"]), seen["addresses"]
    ports = {a.rsplit(":", 1)[1] for a in seen["addresses"]}
    for line in seen.get("ss", []):
        if any(line.split()[3:4] and line.split()[3].endswith(f":{p}") for p in ports):
            assert loopback(line.split()[3]), line
    assert not (tmp_path / "parquet" / ".dask").exists()  # no scratch space left behind
    table = pq.read_table(tmp_path / "parquet" / report.files[0])
    assert {"kind", "passage_id", "doc_id", "start", "end", "text", "vector"} <= set(table.column_names)

    lookup = LookupEmbedder(tmp_path / "parquet", embedder)
    build_index(settings, embedder=lookup)
    assert lookup.missed == 0 and lookup.found == report.passages + report.sentences
    built = SearchIndex.load(settings)
    assert [p.id for p in built.passages] == [p.id for p in seed_index.passages]
    assert np.min(np.sum(built.vectors * seed_index.vectors, axis=1)) > 0.9999

    # a document added after the job: only its texts are embedded during the build
    (docs / "harbour.txt").write_text("Harbour notes\n\nThe Kellerman Point lighthouse was "
                                      "restored in 1998 by fourteen volunteers.\n", encoding="utf-8")
    stale = LookupEmbedder(tmp_path / "parquet", embedder)
    build_index(settings, embedder=stale, full=True)
    assert 0 < stale.missed <= 3 and stale.found == lookup.found
    assert "harbour.txt" in SearchIndex.load(settings).documents


def test_lookup_without_job_output_is_a_clear_error(embedder, tmp_path: Path) -> None:  # noqa: ANN001
    from index.errors import RagIndexError
    from index.ingest import LookupEmbedder

    with pytest.raises(RagIndexError, match="part-"):
        LookupEmbedder(tmp_path, embedder)
