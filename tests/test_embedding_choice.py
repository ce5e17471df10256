"""``embed_backend=auto`` (issue 17): every backend is timed once on this CPU, the fastest faithful one is used,
the choice and figures are recorded in the data dir and shown by ``docchat settings``. Real models throughout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from docchat.cli.main import app as cli
from docchat.components import embedding_choice
from docchat.components.embedding import BACKENDS, Embedder, make_embedder
from docchat.components.embedding_choice import MIN_COSINE, choice_path, choose_backend, cpu_signature
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import clear_user_settings, seed_model


@pytest.fixture(scope="module")
def auto_settings(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder) -> Settings:
    data_dir = tmp_path_factory.mktemp("auto")
    seed_model(data_dir, model_cache, embedder)  # the int8 export; the fp32 one is made by the measurement
    return Settings(data_dir=data_dir, embed_backend="auto", embed_threads=2)


@pytest.fixture(scope="module")
def measured(auto_settings: Settings) -> embedding_choice.BackendChoice:
    return choose_backend(auto_settings)


def test_auto_times_every_backend_and_keeps_the_fastest_faithful_one(measured, auto_settings: Settings) -> None:
    assert set(measured.figures) == set(BACKENDS)
    for figures in measured.figures.values():
        assert figures["word_pieces_per_s"] > 0
    assert measured.figures["torch"]["min_cosine"] == pytest.approx(1.0, abs=1e-4)  # torch is the reference
    faithful = {name: f for name, f in measured.figures.items() if f["min_cosine"] >= MIN_COSINE}
    assert measured.chosen == max(faithful, key=lambda name: faithful[name]["word_pieces_per_s"])
    assert measured.cpu == cpu_signature()
    recorded = json.loads(choice_path(auto_settings).read_text())
    assert recorded["chosen"] == measured.chosen and recorded["figures"] == measured.figures
    assert (auto_settings.models_dir / "all-MiniLM-L6-v2" / "model.onnx").exists()  # the fp32 export


def test_the_recorded_choice_is_read_back_not_measured_again(measured, auto_settings, monkeypatch) -> None:
    def measure_again(settings: Settings) -> None:
        raise AssertionError("measured again although this CPU's choice is recorded")

    monkeypatch.setattr(embedding_choice, "measure", measure_again)
    assert choose_backend(auto_settings) == measured
    assert make_embedder(auto_settings, for_queries=True).backend == measured.chosen


def test_a_choice_made_on_another_cpu_is_measured_again(measured, auto_settings, monkeypatch) -> None:
    path = choice_path(auto_settings)
    saved = path.read_text()
    try:
        path.write_text(json.dumps({**json.loads(saved), "cpu": "another CPU, 64 cores, avx2"}))
        calls = []
        monkeypatch.setattr(embedding_choice, "measure", lambda settings: calls.append(1) or measured)
        assert choose_backend(auto_settings).chosen == measured.chosen and calls == [1]
    finally:
        path.write_text(saved)


def test_a_set_backend_is_used_as_is_and_nothing_is_measured(tmp_path: Path, model_cache: Path, embedder) -> None:
    seed_model(tmp_path, model_cache, embedder)
    settings = Settings(data_dir=tmp_path, embed_backend="onnx-int8")
    assert make_embedder(settings).backend == "onnx-int8"
    assert not choice_path(settings).exists()


def test_an_ingest_with_nothing_to_embed_measures_nothing(
    tmp_path: Path, model_cache: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_model(tmp_path / "data", model_cache, embedder)
    settings = Settings(data_dir=tmp_path / "data", embed_backend="onnx-int8")
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("# Otters\n\nOtters hold hands while they sleep.\n")
    ingest_paths(settings, [root], embedder=make_embedder(settings))
    auto = settings.updated(embed_backend="auto")
    monkeypatch.setattr(embedding_choice, "measure", lambda s: pytest.fail("timed the backends with nothing to embed"))
    lazy = make_embedder(auto)
    assert ingest_paths(auto, [root], embedder=lazy).chunks_written == 0  # a warm re-ingest
    assert lazy.backend == "auto" and not choice_path(auto).exists()


def test_docchat_settings_shows_the_choice_and_its_figures(measured, auto_settings, monkeypatch) -> None:
    clear_user_settings(monkeypatch)
    monkeypatch.setenv("DOCCHAT_DATA_DIR", str(auto_settings.store.data_dir))
    monkeypatch.setenv("DOCCHAT_EMBED_BACKEND", "auto")
    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Embedding backend"))
    assert f"auto: {measured.chosen}" in line and all(name in line for name in BACKENDS)
    assert "word-pieces/s" in line


def test_identical_texts_are_embedded_once(embedder: Embedder, model_cache: Path) -> None:
    """Boilerplate repeated across a corpus (issue 17): the model sees each distinct text once."""
    texts = [f"A licence paragraph, version {n}." for n in range(3)]
    fresh = Embedder(embedder.name, "onnx-int8", model_cache, threads=2, remember=8)
    first = fresh.embed([texts[0], texts[1], texts[0]])
    assert (fresh.computed, fresh.repeated) == (2, 1)  # two distinct texts
    again = fresh.embed([texts[1], texts[2]])
    assert (fresh.computed, fresh.repeated) == (3, 2)
    assert np.array_equal(first[1], again[0]) and np.array_equal(first[0], first[2])
    reference = embedder.embed(texts)
    cosines = np.sum(np.vstack([first[0], first[1], again[1]]) * reference, axis=1)
    assert cosines.min() > 0.98  # int8 activations are scaled per batch: other batch-mates, nearly the same vector
    forgetful = Embedder(embedder.name, "onnx-int8", model_cache, threads=2, remember=0)
    forgetful.embed([texts[0]])
    forgetful.embed([texts[0]])
    assert forgetful.repeated == 0
