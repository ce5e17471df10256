"""Start the chat UI: ``streamlit run app/ui/page.py`` headless, without telemetry (``docchat ui``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from docchat.app.ui import PAGE_SCRIPT

COLLECTION_ENV = "DOCCHAT_COLLECTION"  # the page reads its settings (and so its collection) from the env


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The ``streamlit run`` command line for the page, with the interpreter running this code."""
    options = {
        "server.headless": "true",
        "server.address": host,
        "server.port": str(port),
        "browser.gatherUsageStats": "false",
        "global.developmentMode": "false",
        "server.fileWatcherType": "none",  # a deployed app; no reloading on file changes
        "server.runOnSave": "false",
        "client.showErrorDetails": "none",  # the page shows errors as sentences; never a traceback
        "client.toolbarMode": "viewer",
    }
    command = [sys.executable, "-m", "streamlit", "run", str(PAGE_SCRIPT)]
    for name, value in options.items():
        command += [f"--{name}", value]
    return command


def ui_environment(collection: str | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The page's environment: ``base`` (default: this process's) with the collection chosen, no telemetry."""
    env = dict(os.environ if base is None else base)
    if collection:
        env[COLLECTION_ENV] = collection
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    env.setdefault("ANONYMIZED_TELEMETRY", "False")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def launch(host: str = "127.0.0.1", port: int = 8501, collection: str | None = None) -> int:
    """Run the UI until it stops; returns Streamlit's exit code. On POSIX the process becomes Streamlit."""
    command = streamlit_command(host, port)
    env = ui_environment(collection)
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(command[0], command, env)  # signals (Ctrl-C, SIGTERM) go straight to Streamlit
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
