"""Reading a file for ingest: only regular files, never more than the size limit (files may grow meanwhile)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from docchat.ingest.document import LoadError


def read_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; only a regular file, and never more than ``max_bytes`` (it may grow meanwhile)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO without O_NONBLOCK waits for a writer
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise LoadError("is a folder")
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file (a pipe, device or socket)")
        if info.st_size > max_bytes:
            raise LoadError(f"file too large ({info.st_size / 2**20:.0f} MB > DOCCHAT_MAX_FILE_MB)")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise LoadError(f"file too large (over {max_bytes / 2**20:.0f} MB > DOCCHAT_MAX_FILE_MB)")
    return data
