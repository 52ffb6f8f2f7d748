"""Settings: one definition per setting, from defaults < environment < flags; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.settings import BeirSettings, BenchSettings, EvalSettings
from index.config import flat_fields, load_settings
from index.errors import InvalidSetting, RagError
from index.settings import IndexSettings
from rag.settings import Fusion, LLMSettings, Mode, RagSettings, RetrievalSettings
from ui.settings import UISettings

ALL = [IndexSettings, RagSettings, EvalSettings, BeirSettings, BenchSettings, UISettings]


@pytest.mark.parametrize("model", ALL)
def test_flat_names_are_unique_and_every_leaf_has_a_description(model: type) -> None:
    fields = list(flat_fields(model))
    names = [f.name for f in fields]
    assert len(names) == len(set(names))
    assert all(f.description for f in fields), [f.name for f in fields if not f.description]


def test_environment_overrides_defaults_and_flags_override_the_environment() -> None:
    env = {"RAG_K": "7", "RAG_MODE": "bm25", "RAG_LLM_MODEL": "tiny"}
    s = load_settings(RagSettings, env=env)
    assert (s.retrieval.k, s.retrieval.mode, s.llm.model) == (7, Mode.BM25, "tiny")
    s = load_settings(RagSettings, {"k": 3, "mode": None}, env=env)
    assert (s.retrieval.k, s.retrieval.mode) == (3, Mode.BM25)  # None means "flag not given"


def test_nested_prefix_applies_to_environment_names() -> None:
    names = {f.env for f in flat_fields(RagSettings)}
    assert {"RAG_LLM_BACKEND", "RAG_LLM_BASE_URL", "RAG_DOCS_DIR", "RAG_FUSION",
            "RAG_MAX_FILE_BYTES"} <= names
    assert load_settings(LLMSettings, env={"RAG_LLM_BACKEND": "ollama"}).enabled


def test_unknown_value_names_the_allowed_ones_and_its_source() -> None:
    with pytest.raises(InvalidSetting) as err:
        load_settings(RagSettings, env={"RAG_FUSION": "borda"})
    message = str(err.value)
    assert "RAG_FUSION" in message and "rrf" in message and "weighted" in message
    assert isinstance(err.value, RagError)


def test_out_of_range_flag_is_an_error_naming_the_flag() -> None:
    with pytest.raises(InvalidSetting, match="--k"):
        load_settings(RetrievalSettings, {"k": 0}, env={})


def test_unknown_setting_name_is_an_error() -> None:
    with pytest.raises(InvalidSetting, match="Unknown setting"):
        load_settings(RetrievalSettings, {"kk": 3}, env={})


def test_booleans_and_paths_parse_from_the_environment() -> None:
    s = load_settings(IndexSettings, env={"RAG_CLEAN": "false", "RAG_DOCS_DIR": "notes",
                                          "RAG_MAX_FILE_BYTES": "2048"})
    assert s.clean is False and s.docs_dir == Path("notes") and s.max_file_bytes == 2048


def test_required_setting_says_which_flag() -> None:
    with pytest.raises(InvalidSetting, match="--beir is required"):
        load_settings(BeirSettings, env={})


def test_defaults_sit_between_the_model_and_the_environment() -> None:
    s = load_settings(RetrievalSettings, defaults={"fusion": "weighted", "fetch_k": 300},
                      env={"RAG_FETCH_K": "100"})
    assert s.fusion is Fusion.WEIGHTED and s.fetch_k == 100


def test_settings_are_frozen_and_reject_unknown_fields() -> None:
    s = RetrievalSettings()
    with pytest.raises(ValueError):
        s.k = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        RetrievalSettings(unknown=1)  # type: ignore[call-arg]


def test_auto_answer_mode_follows_the_llm_backend() -> None:
    assert RagSettings().answer_mode.value == "extractive"
    with_llm = RagSettings(llm=LLMSettings(backend="openai"))
    assert with_llm.answer_mode.value == "llm"


def test_eval_on_other_documents_gets_its_own_index() -> None:
    s = EvalSettings(rag=RagSettings(index=IndexSettings(docs_dir=Path("elsewhere/docs"),
                                                         model_path="m")))
    own = s.with_own_index()
    assert own.rag.index.index_dir != IndexSettings.model_fields["index_dir"].default
    assert "docs-" in own.rag.index.index_dir.name
    seeds = EvalSettings(rag=RagSettings(index=IndexSettings(model_path="m")))
    assert seeds.with_own_index() is seeds


def test_scaling_sizes_and_hnsw_vectors_are_lists_from_flags_with_checked_values() -> None:
    s = load_settings(BenchSettings, {"scale_sizes": ["1000", "5000"],
                                      "scale_hnsw_vectors": ["int8", "float32"]}, env={})
    assert s.scale_sizes == [1000, 5000] and s.scale_hnsw_vectors == ["int8", "float32"]
    assert load_settings(BenchSettings, env={}).scale_hnsw_vectors == ["float32"]
    with pytest.raises(InvalidSetting, match="scale"):
        load_settings(BenchSettings, {"scale_hnsw_vectors": ["fp16"]}, env={})
    assert load_settings(IndexSettings, {"hnsw_vectors": "int8"}, env={}).hnsw_vectors == "int8"
    with pytest.raises(InvalidSetting, match="hnsw"):
        load_settings(IndexSettings, {"hnsw_vectors": "pq"}, env={})


def test_training_paths_in_the_manifest_name_no_machine(tmp_path) -> None:
    """The scorer's manifest is committed: absolute paths of the training machine become
    relative to the working folder, in both halves of a FILE=DOCS spec."""
    import os

    from evals.train import relative

    inside = tmp_path / "shared" / "qa.jsonl"
    out = relative(f"{inside}={tmp_path / 'docs'}")
    assert not any(os.path.isabs(p) for p in out.split("="))
    assert os.path.normpath(os.path.join(os.getcwd(), out.split("=")[0])) == str(inside)
    assert relative("evals/seed_qa_dev.jsonl=seeds") == "evals/seed_qa_dev.jsonl=seeds"
