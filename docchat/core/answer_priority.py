"""Answers come first: while a question is being answered, ingests into the same data dir pause.

An answer holds a shared lock on ``answering.lock`` in the indexes folder (any number of answers at
once). An ingest calls ``AnswerGate.wait`` between two files and between two embedding batches: while
any answer holds the lock it waits, at most ``most`` seconds per call, so a steady stream of questions
slows an ingest but never stops it. The lower CPU priority of ingests (``ingest.nice``) already gives an
answer most of the CPU; the pause takes the rest (measured on 2 cores: answers 5-10% faster, README).

``flock`` locks belong to the open file, so this works between threads of one process (the UI's
background ingest) as between processes (the CLI), and a crashed process's lock goes with it.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_NAME = "answering.lock"
POLL_S = 0.05


def _open_lock(folder: Path) -> IO[str]:
    """The data dir's answering lock file, opened (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    return open(folder / LOCK_NAME, "a+")  # the callers close it


@contextmanager
def answering(folder: Path) -> Iterator[None]:
    """Hold the data dir's answering lock (shared) while a question is answered (not if the folder is read-only:
    then no ingest can run there either)."""
    try:
        handle = _open_lock(folder)
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class AnswerGate:
    """An ingest's side: wait while questions are being answered in the same data dir."""

    def __init__(self, folder: Path, most: float) -> None:
        self._folder = folder
        self._most = most
        self.waited = 0.0  # seconds spent waiting, over all calls

    def wait(self) -> float:
        """Return once no answer is in progress, or after ``most`` seconds; the seconds waited."""
        if self._most <= 0:
            return 0.0
        started = time.perf_counter()
        blocked = False
        with _open_lock(self._folder) as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # an answer holds it
                    blocked = True
                    if time.perf_counter() - started >= self._most:
                        break
                    time.sleep(POLL_S)
                    continue
                fcntl.flock(handle, fcntl.LOCK_UN)
                break
        waited = time.perf_counter() - started if blocked else 0.0
        self.waited += waited
        return waited
