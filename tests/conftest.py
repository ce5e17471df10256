"""Shared fixtures: real Chroma under a tmp dir, the real embedding model, the real local LLM."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import docchat  # noqa: F401  (sets the no-telemetry / offline environment first)
from docchat.settings import Settings
from ingest.embed import Embedder

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"
FSP = SHARED / "corpora" / "fullstackpython"

# The suite answers with the small bundled model (fast, always installed with the package); tests of the
# shipped default model ask for it by name (DEFAULT_MODEL). Child processes (UI server, CLI) inherit this.
TEST_MODEL = "smollm2-135m"
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
os.environ["DOCCHAT_LLM_MODEL"] = TEST_MODEL


def is_user_setting(key: str) -> bool:
    """A DOCCHAT_* variable of the developer's, to be cleared (not the suite's own test model)."""
    return key.startswith("DOCCHAT_") and key != "DOCCHAT_LLM_MODEL"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export per test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    """The default embedding model (all-MiniLM-L6-v2, ONNX int8), loaded once."""
    return Embedder("all-MiniLM-L6-v2", "onnx-int8", model_cache, threads=2, batch_size=64)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings over a fresh data dir, ignoring any DOCCHAT_* vars or docchat.toml of the developer."""
    for key in list(os.environ):
        if is_user_setting(key):
            monkeypatch.delenv(key)
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
