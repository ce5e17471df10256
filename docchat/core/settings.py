"""The one settings object, nested by concern (store, chats, embedding, ingest, retrieval, answer, llm, api).

Every setting has a flat name, its environment variable ``DOCCHAT_<NAME>`` (``docchat settings`` lists them all):
``DOCCHAT_LLM_MODEL`` sets ``settings.llm.model``. In ``docchat.toml`` a setting is either a key under its
group's table (``[llm]`` then ``model = "..."``) or its flat name at the top (``llm_model = "..."``); unknown
keys are refused. Precedence (highest first): arguments passed in code (flat names), ``DOCCHAT_*``
environment variables, the TOML file (``./docchat.toml`` or the path in ``DOCCHAT_CONFIG``), the defaults.
Build it once at an entry point (CLI, UI, API, eval) and pass it down.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DOCCHAT_CONFIG"
DEFAULT_CONFIG_FILE = "docchat.toml"
ENV_PREFIX = "DOCCHAT_"
_FLAT_NAMES: dict[type, dict[str, tuple[str, str]]] = {}


class _Group(BaseModel):
    """A group of settings: set by field name or by flat name, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True, frozen=True)


class StoreSettings(_Group):
    """Where docchat keeps its data and which collection it works on."""

    data_dir: Path = Field(
        Path(".docchat"),
        description="Where the embedded Chroma store, BM25 indexes, exported models and saved chats live.",
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


class ChatSettings(_Group):
    """Saved chats and feedback."""

    db: Path | None = Field(
        None,
        description="SQLite file of saved chats and feedback (UI, `docchat ask`, API); unset: data_dir/chats.sqlite3.",
        validation_alias="chats_db",
    )
    save: bool = Field(
        True,
        description="Save every chat (and allow feedback); false: nothing is saved.",
        validation_alias="save_chats",
    )


class EmbeddingSettings(_Group):
    """The embedding model (ingest and questions)."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model: a name from KNOWN_MODELS (docchat/components/embedding.py) "
        "or a sentence-transformers folder.",
        validation_alias="embed_model",
    )
    backend: Literal["auto", "onnx-int8", "onnx-fp32", "torch"] = Field(
        "auto",
        description="auto: the fastest of the others on this CPU whose vectors stay within cosine 0.99 of torch's "
        "(measured once per data dir and CPU, shown by `docchat settings`); onnx-int8: ONNX export with int8 "
        "matmuls; onnx-fp32: the ONNX export; torch: sentence-transformers as shipped.",
        validation_alias="embed_backend",
    )
    batch_size: int = Field(
        16,
        ge=1,
        le=1024,
        description="Chunks embedded per model call (16: fastest measured here, least memory).",
        validation_alias="embed_batch_size",
    )
    threads: int = Field(
        0, ge=0, description="CPU threads for ingest embedding; 0 = all cores.", validation_alias="embed_threads"
    )
    query_threads: int = Field(
        1, ge=1, description="CPU threads for query embedding (1 keeps it fast while the LLM runs)."
    )


class IngestSettings(_Group):
    """Reading and chunking files."""

    chunk_size: int = Field(
        200, ge=32, le=250, description="Chunk size in the embedding model's word-pieces (MiniLM reads 256)."
    )
    chunk_overlap: int = Field(32, ge=0, description="Word-pieces shared by neighbouring chunks of a section.")
    follow_symlinks: bool = Field(False, description="Follow symlinks that point outside the folder being ingested.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped with a reason.")
    nice: int = Field(
        10,
        ge=0,
        le=19,
        description="How much lower an ingest's CPU priority is (Unix nice; the CLI's and the UI's ingests): "
        "questions answered meanwhile keep their speed, and alone it runs at full speed. 0 = same priority.",
        validation_alias="ingest_nice",
    )
    answer_pause_s: float = Field(
        10.0,
        ge=0,
        description="While a question is being answered in the same data dir, an ingest pauses between files and "
        "between embedding batches, for at most this many seconds each time: the answer gets the whole CPU. "
        "0 = never pause.",
        validation_alias="ingest_answer_pause_s",
    )
    read_ahead_chunks: int = Field(
        50_000,
        ge=256,
        description="New chunks read and BM25-indexed before they are embedded: questions asked during an "
        "ingest find them by keyword search. Bounds the ingest's memory (a few KB a chunk).",
    )
    crash_at: str | None = Field(
        None,
        pattern=r"^(embed|write|bm25)(:[1-9][0-9]*)?$",
        description="Test only (tests/test_faults.py): SIGKILL the ingest at embed:N, write:N or bm25 "
        "(ingest/faults.py). Leave unset.",
        validation_alias="test_crash_at",
    )


class RetrievalSettings(_Group):
    """Finding the passages: dense + BM25, fusion, reranking, abstention."""

    top_k: int = Field(5, ge=1, le=50, description="Passages handed to the LLM and cited.")
    candidates_k: int = Field(
        30, ge=1, le=500, description="Candidates each retriever (dense, BM25) returns before fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    rrf_weight: float = Field(
        30.0,
        ge=0,
        description="relevance reranker: weight of the fused (RRF) score next to similarity + coverage "
        "(30: two first places give 2/61, scaled to about as much as the other two signals).",
    )
    retrieve_parts: bool = Field(
        True,
        description="For a question that asks several things, also retrieve for each part and keep each part's "
        'best passage among the top_k ("Who created Flask, and which static site generator did he start?").',
    )
    reranker: str = Field(
        "relevance",
        description="relevance (similarity + term coverage + fused rank), none (fused order), "
        "or a local sentence-transformers CrossEncoder folder.",
    )
    min_relevance: float = Field(
        0.8,
        ge=0,
        le=2,
        description=(
            "Abstain (no LLM call) when no retrieved passage reaches this relevance: cosine similarity to the "
            "question (the passage's or, if higher, its closest sentence's) + IDF-weighted share of the "
            "question's terms it contains (0..2). Calibrated on eval/sets."
        ),
    )


class AnswerSettings(_Group):
    """Writing and checking the answer: follow-ups, refusals, citation checks, history."""

    condense: Literal["auto", "llm", "heuristic"] = Field(
        "auto",
        description="Follow-up rewriting: llm, heuristic (a rule), auto (the model profile's trust_rewrites).",
    )
    refusal: Literal["auto", "abstain", "quote"] = Field(
        "auto",
        description=(
            "abstain: ask the LLM for the refusal marker and abstain when it gives it; quote: do not ask for it (the "
            "answer is checked; a refusal given anyway is answered with the best quotes); auto: the model "
            "profile's trust_refusals."
        ),
        validation_alias="llm_refusal",
    )
    cite_window: float = Field(
        0.2,
        ge=0,
        le=2,
        description=(
            "Only passages whose relevance is within this of the best passage's can be cited or quoted, and the "
            "page about what the question names wherever it ranks (0..2; calibrated on the Full Stack Python eval "
            "set: wider windows cite off-topic pages)."
        ),
    )
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
    min_quote_similarity: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Quotes replace an answer only when some sentence of the on-topic passages has at least this "
        "cosine to the question, holds every term of a 'which X' question (or of its first clause) but X, or sits "
        "under a heading that holds every term of the question; else docchat refuses (calibrated on both eval "
        "sets, eval/README.md). After the first quote, a sentence below it must add a term of the question.",
    )
    history_turns: int = Field(
        4, ge=0, description="Most recent chat turns (user or assistant) the LLM sees, for answers and rewrites."
    )
    history_turn_chars: int = Field(600, ge=50, description="Each of those turns is cut to this many characters.")


class LLMSettings(_Group):
    """The chat model: backend, model, its profile and limits."""

    backend: Literal["llamacpp", "ollama", "openai"] = Field(
        "llamacpp",
        description="llamacpp: embedded GGUF model in a supervised child process, no server to install; "
        "ollama: an Ollama server; openai: any OpenAI-compatible server (llama-server, vLLM, LM Studio).",
        validation_alias="llm_backend",
    )
    model: str = Field(
        "qwen2.5-coder-0.5b",
        description="The llamacpp model: a name from `docchat models list` (install it with "
        "`docchat models install NAME`). llm_model_path, when set, wins.",
        validation_alias="llm_model",
    )
    model_path: Path | None = Field(
        None, description="Any GGUF file for llamacpp (overrides llm_model).", validation_alias="llm_model_path"
    )
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "docchat" / "models",
        description="Where `docchat models install` keeps model files (shared by every data dir).",
    )
    threads: int = Field(2, ge=1, description="CPU threads llama.cpp generates with.", validation_alias="llm_threads")
    threads_batch: int = Field(
        2,
        ge=1,
        description="CPU threads llama.cpp reads the prompt with (llama.cpp's own default: every core).",
        validation_alias="llm_threads_batch",
    )
    flash_attention: bool = Field(
        True,
        description="llama.cpp's flash attention: reads a prompt faster on CPU (bench/prefill.py); off gives the "
        "plain attention kernels (other rounding, so other greedy text now and then).",
        validation_alias="llm_flash_attention",
    )
    profile: str | None = Field(
        None,
        description="Model profile name (docchat/components/llm/profiles.py); unset: the model's own, or default.",
        validation_alias="llm_profile",
    )
    profile_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='Profile fields to override, as JSON, e.g. {"passage_budget": 300, "repeat_penalty": 1.2}.',
        validation_alias="llm_profile_overrides",
    )
    context: int | None = Field(
        None, ge=512, description="Context window in tokens; unset: the profile's.", validation_alias="llm_context"
    )
    max_tokens: int | None = Field(
        None, ge=16, description="Most tokens for one answer; unset: the profile's.", validation_alias="llm_max_tokens"
    )
    passage_budget: int | None = Field(
        None,
        ge=0,
        description=(
            "Word-pieces of passage text the LLM reads; longer passages are cut to their sentences most similar "
            "to the question (citations are still checked against the full passages). Unset: the model "
            "profile's; 0 = no cut."
        ),
        validation_alias="llm_passage_budget",
    )
    temperature: float = Field(
        0.0,
        ge=0,
        le=2,
        description="Sampling temperature; 0 = greedy: the same question gets the same answer.",
        validation_alias="llm_temperature",
    )
    timeout: float = Field(
        120.0, gt=0, description="Seconds to wait for the LLM server to answer.", validation_alias="llm_timeout"
    )
    connect_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds to wait for a connection to the LLM server (Ollama, OpenAI-compatible).",
        validation_alias="llm_connect_timeout",
    )
    ollama_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    ollama_model: str = Field("llama3.2:3b", description="Ollama model tag (must be pulled on the server).")
    openai_url: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible server (llm_backend=openai)."
    )
    openai_model: str = Field("default", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: str | None = Field(None, description="Bearer token for the OpenAI-compatible server, if any.")


class APISettings(_Group):
    """The OpenAI-compatible API (`docchat serve`)."""

    key: str | None = Field(
        None,
        description="Bearer token every API request must send (all routes but /healthz); required to serve on "
        "a non-loopback address.",
        validation_alias="api_key",
    )
    max_request_mb: float = Field(
        1.0,
        gt=0,
        description="Largest API request body (MB); larger ones get 413.",
        validation_alias="api_max_request_mb",
    )
    max_upload_mb: float = Field(
        50.0,
        gt=0,
        description="Largest API upload request, all its files together (MB); larger ones get 413.",
        validation_alias="api_max_upload_mb",
    )


class Settings(BaseSettings):
    """Everything docchat can be configured with, by concern. Each setting is also ``DOCCHAT_<FLAT NAME>``."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True, frozen=True)

    store: StoreSettings = Field(
        default_factory=StoreSettings, description="Where docchat keeps its data and which collection it works on."
    )
    chats: ChatSettings = Field(default_factory=ChatSettings, description="Saved chats and feedback.")
    embedding: EmbeddingSettings = Field(
        default_factory=EmbeddingSettings, description="The embedding model (ingest and questions)."
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Reading and chunking files.")
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings,
        description="Finding the passages: dense + BM25, fusion, reranking, abstention.",
    )
    answer: AnswerSettings = Field(
        default_factory=AnswerSettings,
        description="Writing and checking the answer: follow-ups, refusals, citation checks, history.",
    )
    llm: LLMSettings = Field(
        default_factory=LLMSettings, description="The chat model: backend, model, its profile and limits."
    )
    api: APISettings = Field(default_factory=APISettings, description="The OpenAI-compatible API (`docchat serve`).")

    @property
    def chroma_path(self) -> Path:
        """Folder of the embedded Chroma store."""
        return self.store.data_dir / "chroma"

    @property
    def chats_path(self) -> Path:
        """The SQLite file of saved chats: ``chats.db``, else ``<data_dir>/chats.sqlite3``."""
        return self.chats.db if self.chats.db is not None else self.store.data_dir / "chats.sqlite3"

    @property
    def models_dir(self) -> Path:
        """Folder for model exports made at run time (the ONNX embedding model)."""
        return self.store.data_dir / "models"

    @property
    def indexes_dir(self) -> Path:
        """Folder for per-collection side indexes (BM25) and locks."""
        return self.store.data_dir / "indexes"

    def updated(self, **flat: Any) -> Settings:
        """A copy with some settings changed, by flat name: ``settings.updated(collection="notes")``."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in flat.items():
            group, name = _place(key)
            changes.setdefault(group, {})[name] = value
        return self.model_copy(
            update={group: getattr(self, group).model_copy(update=values) for group, values in changes.items()}
        )

    def flat_dump(self) -> dict[str, Any]:
        """Every setting by flat name, JSON-ready (eval summaries, ``docchat settings``)."""
        nested = self.model_dump(mode="json")
        return {flat: nested[group][name] for flat, (group, name) in self.flat_names().items()}

    @classmethod
    def flat_names(cls) -> dict[str, tuple[str, str]]:
        """Every setting's flat name -> (group, field): ``{"llm_model": ("llm", "model"), ...}``."""
        if cls not in _FLAT_NAMES:
            names = {}
            for group, info in cls.model_fields.items():
                for name, field in info.annotation.model_fields.items():  # type: ignore[union-attr]
                    names[field.validation_alias if isinstance(field.validation_alias, str) else name] = (group, name)
            _FLAT_NAMES[cls] = names
        return _FLAT_NAMES[cls]

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
        return (
            _FlatInitSource(settings_cls, init_settings),
            _FlatEnvSource(settings_cls),
            _CheckedTomlSource(settings_cls, toml_file=config_file),
        )


def _place(key: str) -> tuple[str, str]:
    """(group, field) of a flat setting name; ValueError naming the nearest one if there is none."""
    names = Settings.flat_names()
    if key in names:
        return names[key]
    raise _not_a_setting(key, names)


def _not_a_setting(key: str, known: Iterable[str], where: str = "") -> ValueError:
    """The error for an unknown setting name, naming the nearest known one."""
    nearest = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean {nearest[0]!r}?" if nearest else "; `docchat settings` lists them all."
    return ValueError(f"{where}{key!r} is not a docchat setting{hint}")


def _nest(values: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Flat keys (``llm_model``) and group tables (``llm = {...}``) as one nested dict; unknown keys refused."""
    nested: dict[str, dict[str, Any]] = {}
    groups = Settings.model_fields
    for key, value in values.items():
        if key in groups and isinstance(value, dict):
            known = groups[key].annotation.model_fields  # type: ignore[union-attr]
            for name, item in value.items():
                if name not in known:
                    raise _not_a_setting(name, known, f"{where}[{key}] ")
                nested.setdefault(key, {})[name] = item
            continue
        try:
            group, name = _place(key)
        except ValueError as error:
            raise ValueError(f"{where}{error}") from None
        nested.setdefault(group, {})[name] = value
    return nested


class _FlatInitSource(PydanticBaseSettingsSource):
    """Arguments passed in code, by flat name (``Settings(collection="notes")``) or by group."""

    def __init__(self, settings_cls: type[BaseSettings], init: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.values = dict(getattr(init, "init_kwargs", {}))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _nest(self.values)


class _FlatEnvSource(PydanticBaseSettingsSource):
    """``DOCCHAT_<FLAT NAME>`` environment variables (case-insensitive); JSON for dict-valued settings."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = {key.upper(): value for key, value in os.environ.items()}
        nested: dict[str, dict[str, Any]] = {}
        for flat, (group, name) in Settings.flat_names().items():
            raw = env.get(f"{ENV_PREFIX}{flat.upper()}")
            if raw is None:
                continue
            annotation = str(Settings.model_fields[group].annotation.model_fields[name].annotation)  # type: ignore
            if annotation.startswith("dict"):
                try:
                    raw = json.loads(raw)
                except ValueError as error:
                    raise ValueError(f"{ENV_PREFIX}{flat.upper()} must be JSON: {error}") from None
            nested.setdefault(group, {})[name] = raw
        return nested


class _CheckedTomlSource(TomlConfigSettingsSource):
    """``docchat.toml``: group tables or flat names, refusing keys that are not settings."""

    def __call__(self) -> dict[str, Any]:
        return _nest(super().__call__(), f"{self.toml_file_path}: ")


def explain(error: Exception) -> str:
    """A settings error as one line naming each bad setting by its env var: ``DOCCHAT_TOP_K (retrieval.top_k): ...``."""
    if not isinstance(error, ValidationError):
        return " ".join(str(error).split())
    places = {place: flat for flat, place in Settings.flat_names().items()}
    parts = []
    for problem in error.errors(include_url=False):
        loc = tuple(str(part) for part in problem["loc"][:2])
        flat = places.get(loc)  # type: ignore[call-overload]
        name = f"DOCCHAT_{flat.upper()} ({'.'.join(loc)})" if flat else ".".join(loc)
        parts.append(f"{name}: {problem['msg']} (got {problem.get('input')!r})")
    return "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Build the settings from env and config file, with explicit overrides by flat name (None values ignored)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
