"""The one settings object: docchat.toml keys are checked, env vars win, profiles come from settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from docchat.cli import app as cli
from docchat.settings import Settings


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
