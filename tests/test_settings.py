"""The one settings object: docchat.toml keys are checked, env vars win, profiles come from settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from docchat.cli.main import app as cli
from docchat.core.settings import Settings


def test_a_misspelled_key_in_docchat_toml_is_refused_naming_the_nearest_setting(settings: Settings) -> None:
    Path("docchat.toml").write_text('colection = "notes"\ntop_k = 4\n')  # the fixture runs in a tmp folder
    with pytest.raises(ValueError, match=r"'colection' is not a docchat setting; did you mean 'collection'\?"):
        Settings()
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 2 and "did you mean 'collection'" in result.output and "Traceback" not in result.output


def test_valid_docchat_toml_is_read_and_env_vars_win(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("docchat.toml").write_text('collection = "notes"\ntop_k = 4\n')
    assert (Settings().store.collection, Settings().retrieval.top_k) == ("notes", 4)
    monkeypatch.setenv("DOCCHAT_TOP_K", "7")
    assert Settings().retrieval.top_k == 7


def test_docchat_settings_lists_every_env_var_and_hides_keys(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("DOCCHAT_API_KEY", "s3cret-value")
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 0
    assert "s3cret-value" not in result.output and "(set, hidden)" in result.output
    for name in Settings.flat_names():
        assert f"DOCCHAT_{name.upper()}" in result.output


def test_settings_nest_by_concern_and_keep_their_flat_names(settings: Settings, monkeypatch) -> None:
    """docchat.toml takes group tables or flat names; env vars and code take flat names; code reads groups."""
    Path("docchat.toml").write_text('collection = "notes"\n[llm]\nthreads = 1\n[retrieval]\ntop_k = 3\n')
    loaded = Settings()
    assert (loaded.store.collection, loaded.llm.threads, loaded.retrieval.top_k) == ("notes", 1, 3)
    monkeypatch.setenv("DOCCHAT_LLM_THREADS", "2")
    monkeypatch.setenv("DOCCHAT_LLM_PROFILE_OVERRIDES", '{"passage_budget": 120}')
    loaded = Settings(top_k=9)
    assert (loaded.llm.threads, loaded.retrieval.top_k) == (2, 9)
    assert loaded.llm.profile_overrides == {"passage_budget": 120}
    changed = loaded.updated(llm_model="smollm2-135m", collection="other")
    assert (changed.llm.model, changed.store.collection, loaded.store.collection) == ("smollm2-135m", "other", "notes")
    assert loaded.flat_dump()["top_k"] == 9 and set(loaded.flat_dump()) == set(Settings.flat_names())
    Path("docchat.toml").write_text("[llm]\nthread = 1\n")
    with pytest.raises(ValueError, match=r"\[llm\] 'thread' is not a docchat setting; did you mean 'threads'\?"):
        Settings()
    with pytest.raises(ValueError, match=r"'colection' is not a docchat setting"):
        Settings(colection="x")


def test_a_bad_value_is_named_by_its_env_var(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("DOCCHAT_TOP_K", "many")
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "DOCCHAT_TOP_K (retrieval.top_k): Input should be a valid integer" in " ".join(result.output.split())
