"""What a front end needs besides answering: warm the engine, describe collections and the LLM, save
uploaded files safely, and ingest a folder into a named collection. Plain functions (no Streamlit), so
the CLI, eval and tests can use them too.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from docchat.app.engine import Engine
from docchat.components import bm25
from docchat.components.embedding import Embedder
from docchat.components.store import CollectionInfo, list_collections
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings
from docchat.ingest import Progress
from docchat.ingest.loaders import SUPPORTED_SUFFIXES
from docchat.ingest.pipeline import IngestReport, ingest_paths

UPLOAD_SUFFIXES = tuple(sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES))
MAX_NAME_CHARS = 120
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._ ()+,=@-]+")


# -- the engine ---------------------------------------------------------------------------------------


# -- collections -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionStats:
    """One collection as a front end shows it."""

    name: str
    documents: int
    chunks: int
    embed_model: str
    last_ingest: str  # local time, or "never"
    embedding: tuple[int, int] | None = None  # (embedded, to embed) while an ingest embeds new chunks

    @classmethod
    def of(cls, info: CollectionInfo, embedding: tuple[int, int] | None = None) -> CollectionStats:
        when = datetime.fromtimestamp(info.last_ingest).strftime("%Y-%m-%d %H:%M") if info.last_ingest else "never"
        return cls(info.name, info.documents, info.chunks, info.embed_model, when, embedding)


def collection_stats(engine: Engine) -> list[CollectionStats]:
    """Every collection of the engine's store, by name, with the progress of an ingest that embeds into it."""
    indexes = engine.settings.indexes_dir
    return [
        CollectionStats.of(info, bm25.embedding_progress(bm25.index_folder(indexes, info.name)))
        for info in list_collections(engine.client)
    ]


def with_collection(settings: Settings, name: str) -> Settings:
    """``settings`` for collection ``name``, or DocchatError if the name is not a valid collection name."""
    name = (name or "").strip()
    try:
        store = type(settings.store).model_validate({**settings.store.model_dump(), "collection": name})
    except ValidationError as error:
        raise DocchatError(
            f"{name!r} is not a valid collection name: use 3-63 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit."
        ) from error
    return settings.model_copy(update={"store": store})


# -- uploads ---------------------------------------------------------------------------------------------


def uploads_dir(settings: Settings) -> Path:
    """Where uploaded files of ``settings.store.collection`` are kept (and ingested from)."""
    return settings.store.data_dir / "uploads" / settings.store.collection


def safe_filename(name: str) -> str:
    """The last path component of an uploaded file's name, reduced to harmless characters.

    Directory parts (``/`` or ``\\``), drive letters, control characters and leading dots are removed, so
    the result can never name a parent folder, an absolute path or a hidden file. Raises DocchatError if
    nothing usable is left or the type is not one docchat can ingest.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")  # controls, NUL, format chars
    base = base.split(":")[-1]  # "C:evil.md" (drive-relative) and NTFS streams
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    if suffix.lower() not in UPLOAD_SUFFIXES:
        shown = f".{suffix}" if suffix else "(none)"
        raise DocchatError(
            f"Cannot add {name!r}: unsupported file type {shown}; use one of {', '.join(UPLOAD_SUFFIXES)}."
        )
    stem = stem.strip(" .")[: MAX_NAME_CHARS - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix.lower()}"


def save_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/<safe_filename(name)>`` (atomically); the file never lands outside ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    target = root / safe_filename(name)
    if target.parent != root or target.is_symlink():
        raise DocchatError(f"Cannot add {name!r}: it would be written outside {folder}.")
    handle, scratch = tempfile.mkstemp(dir=root, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return target


# -- ingest ------------------------------------------------------------------------------------------------


def ingest_target(path: str | Path) -> Path:
    """A server-side file or folder to ingest, checked: DocchatError says what is wrong with it."""
    text = str(path).strip()
    if not text:
        raise DocchatError("Type the path of a folder (or file) on the server to add.")
    target = Path(text).expanduser()
    if not target.exists():
        raise DocchatError(f"No such file or folder on the server: {target}")
    if not (target.is_dir() or target.is_file()):
        raise DocchatError(f"{target} is neither a folder nor a file.")
    return target


def ingest_into(
    settings: Settings,
    collection: str,
    path: str | Path,
    *,
    embedder: Embedder,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest a server-side file or folder into ``collection`` (created if new), checking the path first."""
    target = ingest_target(path)
    return ingest_paths(with_collection(settings, collection), [target], embedder=embedder, progress=progress)
