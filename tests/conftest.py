"""Shared fixtures and helpers: real Chroma under a tmp dir, the real embedding model, the real local LLM.

One of each, for every test file: ``free_port``, clearing the developer's DOCCHAT_* settings (in this process,
for a fixture wider than one test, or for a child process), seeding a data dir with the session's ONNX export,
the session's embedder and chat model, and ``RecordingLLM`` (the real model, with what it was asked and said).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import docchat  # noqa: F401  (sets the no-telemetry / offline environment first)
from docchat.components.embedding import Embedder
from docchat.core.settings import Settings
from tests.fake_ollama import free_port  # noqa: F401  (the one free_port, re-exported: stdlib only, for bench/ too)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"
FSP = SHARED / "corpora" / "fullstackpython"

# The suite answers with the small bundled model (fast, always installed with the package); tests of the
# shipped default model ask for it by name (DEFAULT_MODEL). Child processes (UI server, CLI) inherit this.
TEST_MODEL = "smollm2-135m"
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
# The suite embeds with onnx-int8 (one ONNX export per session, seeded into each data dir) rather than the
# default `auto`, which times every backend once per data dir; tests/test_embedding_choice.py tests `auto`.
SUITE_ENV = {"DOCCHAT_LLM_MODEL": TEST_MODEL, "DOCCHAT_EMBED_BACKEND": "onnx-int8"}
os.environ.update(SUITE_ENV)


# -- the developer's DOCCHAT_* settings ---------------------------------------------------------------------


def is_user_setting(key: str) -> bool:
    """A DOCCHAT_* variable of the developer's, to be cleared (not the suite's own SUITE_ENV)."""
    return key.startswith("DOCCHAT_") and key not in SUITE_ENV


def clean_environ() -> dict[str, str]:
    """This process's environment without the developer's DOCCHAT_* settings: for a CLI or UI child process."""
    return {key: value for key, value in os.environ.items() if not is_user_setting(key)}


def clear_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the developer's DOCCHAT_* variables for as long as ``monkeypatch`` lasts."""
    for key in list(os.environ):
        if is_user_setting(key):
            monkeypatch.delenv(key)


def isolated_settings(data_dir: Path, **updates: object) -> Settings:
    """Settings over ``data_dir`` that ignore the developer's DOCCHAT_* variables and docchat.toml (read from
    ``data_dir``'s parent): for module- or session-scoped fixtures, which cannot use the ``settings`` fixture."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_user_settings(monkeypatch)
        monkeypatch.chdir(data_dir.parent)
        return Settings(data_dir=data_dir, **updates)


# -- models ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export per test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    """The default embedding model (all-MiniLM-L6-v2, ONNX int8), loaded once (its export lands in model_cache)."""
    embedder = Embedder("all-MiniLM-L6-v2", "onnx-int8", model_cache, threads=2, batch_size=64)
    embedder.load()
    return embedder


def seed_model(data_dir: Path, model_cache: Path, embedder: Embedder) -> Path:
    """Put the session's ONNX export into ``data_dir/models`` (a hard link, or a copy across file systems),
    so a CLI, UI or engine over ``data_dir`` does not export the model again. Returns ``data_dir``."""
    source = model_cache / embedder.name / "model-int8.onnx"
    assert source.is_file(), "the session embedder exports the model into model_cache when it is made"
    target = data_dir / "models" / embedder.name / "model-int8.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy(source, target)
    return data_dir


@pytest.fixture(scope="session")
def llm(tmp_path_factory: pytest.TempPathFactory):
    """The suite's real chat model (TEST_MODEL via llama.cpp, in its supervised model process), made once."""
    from docchat.components.llm.backends import build_llm

    return build_llm(isolated_settings(tmp_path_factory.mktemp("llm") / "data"))


class GatedEmbedder:
    """The real embedder, whose ``embed`` waits for the test to open the gate: the ingest is then stopped
    at its first embedding batch, after reading every file."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.waiting = threading.Event()
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.waiting.set()
        assert self.gate.wait(300), "the test never opened the gate"
        return self._inner.embed(texts)


class RecordingLLM:
    """A chat model (the real one, in this suite) that records each call: the messages it was given and, for
    streams, the pieces it yielded. ``calls`` counts both kinds (a test of abstention expects none)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.profile = inner, inner.name, inner.profile
        self.prompts: list[list[dict[str, str]]] = []
        self.streamed: list[list[str]] = []
        self.calls = 0

    def stream_chat(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[str]:
        self.calls += 1
        self.prompts.append(messages)
        pieces: list[str] = []
        self.streamed.append(pieces)
        for piece in self.inner.stream_chat(messages, max_tokens):
            pieces.append(piece)
            yield piece

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        self.calls += 1
        self.prompts.append(messages)
        return self.inner.complete(messages, max_tokens)

    def warm(self) -> None:
        self.inner.warm()


# -- stores and corpora ----------------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings over a fresh data dir, ignoring any DOCCHAT_* vars or docchat.toml of the developer."""
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the default corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def fsp_sample(tmp_path: Path, names: list[str]) -> Path:
    """Copy a few Full Stack Python pages (keeping their relative paths) into a tmp root."""
    root = tmp_path / "fsp"
    for name in names:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FSP / name, target)
    return root
