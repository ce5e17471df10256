"""One installed package: ``docchat`` (issue 14). The stage folders install inside it, nothing else is installed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def _declared() -> tuple[dict[str, str], list[str]]:
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return tool["package-dir"], tool["packages"]


def _folder(package: str, package_dir: dict[str, str]) -> Path:
    """The source folder setuptools maps ``package`` to (longest mapped prefix wins)."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in package_dir:
            return REPO / package_dir[prefix] / Path(*parts[cut:])
    return REPO / Path(*parts)


def test_every_package_folder_is_installed() -> None:
    package_dir, packages = _declared()
    declared = {_folder(name, package_dir).resolve() for name in packages}
    on_disk = {
        init.parent.resolve()
        for root in {"docchat", *package_dir.values()}
        for init in (REPO / root).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk - declared == set(), "package folders missing from pyproject.toml [tool.setuptools] packages"
    assert declared - on_disk == set(), "pyproject.toml names packages that have no folder"
    assert all(name == "docchat" or name.startswith("docchat.") for name in packages)


def test_stage_folders_import_only_under_docchat(tmp_path: Path) -> None:
    """From outside the repo, ``docchat.app`` imports and the bare ``app``, ``ingest`` and ``eval`` do not."""
    script = (
        "import importlib, importlib.util, json\n"
        "import docchat.app.engine, docchat.ingest.pipeline, docchat.eval.runner, docchat.cli.main\n"
        "print(json.dumps({name: importlib.util.find_spec(name) is not None for name in ('app', 'ingest', 'eval')}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == '{"app": false, "ingest": false, "eval": false}'
