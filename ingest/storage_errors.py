"""Storage failures during ingest, as one clear sentence: a read-only data dir, a full disk."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from chromadb.errors import ChromaError

from docchat.components.store import folder_is_read_only
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings

LOW_DISK_BYTES = 4 * 2**20  # a store write that fails with less free space than this is reported as a full disk


def check_writable(settings: Settings) -> None:
    """Refuse at once, with a clear reason, to ingest into a data dir that cannot be written."""
    folders = [settings.store.data_dir, settings.indexes_dir] + (
        [] if settings.store.chroma_url else [settings.chroma_path]
    )
    for folder in folders:
        folder = Path(folder).absolute()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if folder_is_read_only(folder):
            raise DocchatError(_read_only_message(folder))


def _read_only_message(folder: Path) -> str:
    return (
        f"Cannot ingest: {folder} is read-only (read-only file system or no write permission); remount it "
        "read-write or set DOCCHAT_DATA_DIR to a writable folder."
    )


def storage_error(settings: Settings, error: BaseException) -> DocchatError | None:
    """A clear DocchatError for a write that failed on a full or read-only disk (chromadb often hides the OSError)."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    codes = {getattr(item, "errno", None) for item in chain}
    text = " ".join(str(item) for item in chain).lower()
    where = settings.store.data_dir.absolute()
    if errno.EROFS in codes or "read-only file system" in text or "readonly database" in text:
        return DocchatError(_read_only_message(where))
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        free = None
    full = "disk is full" in text or "no space left" in text or errno.ENOSPC in codes or errno.EDQUOT in codes
    store_failed = any(isinstance(item, (OSError, ChromaError)) for item in chain)
    if full or (store_failed and free is not None and free < LOW_DISK_BYTES):
        left = f" ({free / 2**20:.1f} MB free)" if free is not None else ""
        return DocchatError(
            f"Ingest stopped: the disk holding {where} is full{left}. Collection {settings.store.collection!r} may not "
            "answer until space is freed (other collections still do); free some space and run the ingest "
            "again: it resumes where it stopped."
        )
    return None
