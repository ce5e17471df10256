"""The one settings object: env vars prefixed ``DOCCHAT_``, an optional ``docchat.toml``, defaults.

Precedence (highest first): arguments passed in code, ``DOCCHAT_*`` environment variables,
the TOML file (``./docchat.toml`` or the path in ``DOCCHAT_CONFIG``), the defaults below.
Build it once at an entry point (CLI, UI, eval) and pass it down.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DOCCHAT_CONFIG"
DEFAULT_CONFIG_FILE = "docchat.toml"


class CheckedTomlSource(TomlConfigSettingsSource):
    """``docchat.toml``, refusing keys that are not settings (a typo would otherwise be ignored silently)."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        known = set(self.settings_cls.model_fields)
        for key in values:
            if key not in known:
                nearest = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {nearest[0]!r}?" if nearest else "; `docchat settings` lists them all."
                raise ValueError(f"{self.toml_file_path}: {key!r} is not a docchat setting{hint}")
        return values


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
        description="Embedding model: a name from KNOWN_MODELS (docchat/components/embedding.py) "
        "or a sentence-transformers folder.",
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
        description="Follow-up rewriting: llm, heuristic (a rule), auto (the model profile's trust_rewrites).",
    )
    llm_passage_budget: int | None = Field(
        None,
        ge=0,
        description=(
            "Word-pieces of passage text the LLM reads; longer passages are cut to their sentences most similar "
            "to the question (citations are still checked against the full passages). Unset: the model "
            "profile's; 0 = no cut."
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
            "When the LLM answers with the refusal marker although passages passed min_relevance: abstain, quote "
            "(answer with the best quotes, labelled as quotes), or auto (the model profile's trust_refusals)."
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

    rrf_weight: float = Field(
        30.0,
        ge=0,
        description="relevance reranker: weight of the fused (RRF) score next to similarity + coverage "
        "(30: two first places give 2/61, scaled to about as much as the other two signals).",
    )

    # -- answer checking ---------------------------------------------------------------------------
    support_similarity: float = Field(
        0.62,
        ge=0,
        le=1,
        description="A passage supports an answer sentence when the cosine between the sentence and the passage's "
        "closest sentence reaches this...",
    )
    support_overlap: float = Field(
        0.7,
        ge=0,
        le=1,
        description="...or when this share of the sentence's content words is in the passage (and in both cases "
        "the passage or the question holds the sentence's key facts: numbers, names).",
    )
    min_supported_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Below this share of supported sentences the generated answer is replaced by quotes.",
    )
    history_turns: int = Field(
        4, ge=0, description="Most recent chat turns (user or assistant) the LLM sees, for answers and rewrites."
    )
    history_turn_chars: int = Field(600, ge=50, description="Each of those turns is cut to this many characters.")

    # -- generation ----------------------------------------------------------------------------
    llm_backend: Literal["llamacpp", "ollama", "openai"] = Field(
        "llamacpp",
        description="llamacpp: embedded GGUF model in a supervised child process, no server to install; "
        "ollama: an Ollama server; openai: any OpenAI-compatible server (llama-server, vLLM, LM Studio).",
    )
    llm_model: str = Field(
        "qwen2.5-coder-0.5b",
        description="The llamacpp model: a name from `docchat models list` (install it with "
        "`docchat models install NAME`). llm_model_path, when set, wins.",
    )
    llm_model_path: Path | None = Field(None, description="Any GGUF file for llamacpp (overrides llm_model).")
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "docchat" / "models",
        description="Where `docchat models install` keeps model files (shared by every data dir).",
    )
    llm_threads: int = Field(2, ge=1, description="CPU threads llama.cpp generates with.")
    llm_threads_batch: int = Field(
        2, ge=1, description="CPU threads llama.cpp reads the prompt with (llama.cpp's own default: every core)."
    )
    llm_profile: str | None = Field(
        None, description="Model profile name (docchat/components/llm/profiles.py); unset: the model's own, or default."
    )
    llm_profile_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='Profile fields to override, as JSON, e.g. {"passage_budget": 300, "repeat_penalty": 1.2}.',
    )
    llm_context: int | None = Field(None, ge=512, description="Context window in tokens; unset: the profile's.")
    llm_max_tokens: int | None = Field(None, ge=16, description="Most tokens for one answer; unset: the profile's.")
    llm_temperature: float = Field(
        0.0, ge=0, le=2, description="Sampling temperature; 0 = greedy: the same question gets the same answer."
    )
    ollama_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    ollama_model: str = Field("llama3.2:3b", description="Ollama model tag (must be pulled on the server).")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for the LLM server to answer.")
    llm_connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for a connection to the LLM server (Ollama, OpenAI-compatible)."
    )
    openai_url: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible server (llm_backend=openai)."
    )
    openai_model: str = Field("default", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: str | None = Field(None, description="Bearer token for the OpenAI-compatible server, if any.")

    # -- API server (docchat serve) ------------------------------------------------------------
    api_key: str | None = Field(
        None,
        description="Bearer token every API request must send (all routes but /healthz); required to serve on "
        "a non-loopback address.",
    )
    api_max_request_mb: float = Field(1.0, gt=0, description="Largest API request body (MB); larger ones get 413.")
    api_max_upload_mb: float = Field(
        50.0, gt=0, description="Largest API upload request, all its files together (MB); larger ones get 413."
    )

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
        return (init_settings, env_settings, CheckedTomlSource(settings_cls, toml_file=config_file))


def load_settings(**overrides: object) -> Settings:
    """Build the settings from env and config file, with explicit overrides (None values ignored)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
