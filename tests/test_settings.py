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
    assert (Settings().collection, Settings().top_k) == ("notes", 4)
    monkeypatch.setenv("DOCCHAT_TOP_K", "7")
    assert Settings().top_k == 7


def test_docchat_settings_lists_every_env_var_and_hides_keys(settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv("DOCCHAT_API_KEY", "s3cret-value")
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(cli, ["settings"])
    assert result.exit_code == 0
    assert "s3cret-value" not in result.output and "(set, hidden)" in result.output
    for name in Settings.model_fields:
        assert f"DOCCHAT_{name.upper()}" in result.output
