"""One ingest per collection at a time: an advisory file lock next to the store."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docchat.core.errors import IngestLocked


@contextmanager
def ingest_lock(folder: Path, collection: str) -> Iterator[None]:
    """Hold the collection's ingest lock, or raise IngestLocked at once if another ingest has it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{collection}.ingest.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise IngestLocked(
                f"An ingest into collection {collection!r} is already running; wait for it to finish."
            ) from error
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
