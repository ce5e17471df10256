"""An ingest runs at a lower CPU priority than answering (Unix nice, per thread on Linux)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from docchat.ingest.priority import lower_priority
from tests.conftest import CORPUS, clean_environ, seed_model


def test_only_the_ingest_thread_is_lowered() -> None:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[int] = []

    def ingest_thread() -> None:
        lower_priority(5)
        seen.append(os.getpriority(os.PRIO_PROCESS, 0))
        child = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
        child.start()
        child.join()

    thread = threading.Thread(target=ingest_thread)
    thread.start()
    thread.join()
    assert seen == [min(19, before + 5)] * 2  # the ingest thread and the threads it starts (the embedder's)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the answering thread keeps its priority


def test_the_cli_ingest_runs_at_the_ingest_nice(tmp_path: Path, model_cache: Path, embedder) -> None:
    data_dir = seed_model(tmp_path / "data", model_cache, embedder)
    env = {**clean_environ(), "DOCCHAT_DATA_DIR": str(data_dir), "DOCCHAT_INGEST_NICE": "7"}
    process = subprocess.Popen(
        [sys.executable, "-m", "docchat.cli.main", "ingest", str(CORPUS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen = set()
    while process.poll() is None:
        with contextlib.suppress(OSError):  # /proc/PID/stat: field 19 is the nice value
            seen.add(int(Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[16]))
        time.sleep(0.05)
    assert process.returncode == 0
    assert max(seen) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)
