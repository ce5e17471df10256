"""The ingest job: discover -> load -> chunk -> embed what is new -> write Chroma -> sweep what is gone.

This module orchestrates; reading files is read.py, chunking chunk.py (hostile input included), writing
writer.py (which keeps BM25 in step through lexical_sync.py), disk failures storage_errors.py.

Idempotent and crash-safe because chunk ids come from content and every chunk records the hash
of the file version it belongs to and how many chunks that version has: a file is up to date
only when the store holds exactly that many chunks of that version. Anything else (changed,
new, half-written by a killed run) is re-chunked; chunks already stored are not re-embedded,
stale ones are deleted once the new ones are written.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chromadb.api.models.Collection import Collection

from docchat.components.embedding import BACKENDS, Embedder
from docchat.components.store import iter_rows, open_client, open_collection, update_metadata
from docchat.core.answer_priority import AnswerGate
from docchat.core.errors import DocchatError
from docchat.core.lock import ingest_lock
from docchat.core.settings import Settings
from docchat.ingest import Progress
from docchat.ingest.chunk import MAX_CHARS_PER_TOKEN, Chunk, Chunker, chunk_bounded
from docchat.ingest.discover import Found, discover, matches
from docchat.ingest.document import LoadError
from docchat.ingest.faults import CrashPoints
from docchat.ingest.lexical_sync import LexicalSync
from docchat.ingest.loaders import load_file
from docchat.ingest.read import read_file
from docchat.ingest.storage_errors import check_writable, storage_error
from docchat.ingest.writer import ChunkWriter


@dataclass
class IngestReport:
    """What one ingest run did."""

    collection: str
    files_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    chunks_written: int = 0
    chunks_reused: int = 0
    chunks_deleted: int = 0
    texts_repeated: int = 0  # chunks whose text was embedded once for several chunks (or earlier in the process)
    model_seconds: float = 0.0  # of ``seconds``, the time spent inside the embedding model
    paused_seconds: float = 0.0  # of ``seconds``, the time paused while questions were answered
    seconds: float = 0.0

    def summary(self) -> str:
        """One line saying what the ingest did (the CLI, the UI and the API show it)."""
        model = f", {self.model_seconds:.1f} s in the embedding model" if self.chunks_written else ""
        repeated = f" ({self.texts_repeated} repeated texts embedded once)" if self.texts_repeated else ""
        paused = f", {self.paused_seconds:.1f} s paused for questions" if self.paused_seconds >= 0.05 else ""
        return (
            f"{self.collection}: {self.files_seen} files seen, {self.added} added, {self.updated} updated, "
            f"{self.deleted} deleted, {self.unchanged} unchanged, {len(self.skipped)} skipped; "
            f"{self.chunks_written} chunks embedded{repeated}, {self.chunks_deleted} removed; "
            f"{self.seconds:.1f} s{model}{paused}"
        )

    @property
    def failed(self) -> bool:
        """True if any file could not be ingested."""
        return bool(self.skipped)


@dataclass
class _Stored:
    ids: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    counts: set[int] = field(default_factory=set)

    def is_complete(self, file_hash: str) -> bool:
        return self.hashes == {file_hash} and self.counts == {len(self.ids)}


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    embedder: Embedder,
    pattern: str | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files/folders into ``settings.store.collection``; each folder is a root for source paths."""
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing:
        raise DocchatError(f"No such file or folder: {', '.join(missing)}")
    check_writable(settings)
    try:
        return _ingest(settings, paths, embedder, pattern, rebuild, progress)
    except DocchatError:
        raise
    except Exception as error:
        storage = storage_error(settings, error)
        if storage is None:
            raise
        raise storage from error


def _ingest(
    settings: Settings,
    paths: Sequence[Path],
    embedder: Embedder,
    pattern: str | None,
    rebuild: bool,
    progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    model_seconds, repeated = embedder.model_seconds, embedder.repeated
    report = IngestReport(settings.store.collection)
    client = open_client(settings)
    with ingest_lock(settings.indexes_dir, settings.store.collection):
        if rebuild:
            _drop_collection(client, settings.store.collection)
        collection = open_collection(client, settings.store.collection, embedder.name, embedder.dimension, create=True)
        chunker = Chunker(
            embedder.count_tokens, settings.ingest.chunk_size, settings.ingest.chunk_overlap, embedder.max_tokens
        )
        lexical = LexicalSync(settings.indexes_dir, collection)
        crash = CrashPoints(settings.ingest.crash_at)
        gate = AnswerGate(settings.indexes_dir, settings.ingest.answer_pause_s)
        writer = ChunkWriter(collection, embedder, client.get_max_batch_size(), progress, lexical, crash,
                             settings.ingest.read_ahead_chunks, gate)  # fmt: skip
        done: set[tuple[str, str]] = set()  # (root, source) already ingested in this run
        try:
            for root in paths:
                _ingest_root(settings, Path(root), pattern, chunker, writer, report, progress, done)
            writer.flush()
        except BaseException:
            lexical.close()  # a later ingest in this process (the UI's) must be able to open it again
            raise
        report.chunks_written, report.chunks_reused = writer.written, writer.reused
        documents = _count_documents(collection)
        changed = report.added + report.updated + report.deleted + report.chunks_deleted > 0
        # A unique stamp (not a counter): a rebuilt collection never reuses an old index's generation.
        generation = time.time_ns() if changed else int((collection.metadata or {}).get("generation", 0))
        update_metadata(
            collection,
            documents=documents,
            last_ingest=time.time(),
            generation=generation,
            **({"embed_backend": embedder.backend} if embedder.backend in BACKENDS else {}),  # "auto": never loaded
            chunker=chunker.signature,
        )
        crash.reached("bm25")
        lexical.finish(client.get_collection(settings.store.collection), generation, progress)
    report.seconds = time.perf_counter() - started
    report.model_seconds = embedder.model_seconds - model_seconds
    report.texts_repeated = embedder.repeated - repeated
    report.paused_seconds = gate.waited
    return report


def _count_documents(collection: Collection) -> int:
    """Files stored: each file's stored version has one chunk of chunk_index 0 (ids only, one query)."""
    return len(collection.get(where={"chunk_index": 0}, include=[])["ids"])


def _drop_collection(client, name: str) -> None:
    with contextlib.suppress(Exception):
        client.delete_collection(name)


def _ingest_root(
    settings: Settings,
    root: Path,
    pattern: str | None,
    chunker: Chunker,
    writer: ChunkWriter,
    report: IngestReport,
    progress: Progress | None,
    done_in_run: set[tuple[str, str]],
) -> None:
    root_key = str(root.resolve() if root.is_dir() else root.resolve().parent)
    stored: dict[str, _Stored] = defaultdict(_Stored)
    for row_id, meta in iter_rows(writer.collection, where={"root": root_key}):
        entry = stored[str(meta.get("source"))]
        entry.ids.add(row_id)
        entry.hashes.add(str(meta.get("file_hash")))
        entry.counts.add(int(meta.get("chunk_count", -1)))

    found = list(discover(root, pattern, settings.ingest.follow_symlinks))
    seen: set[str] = set()
    max_bytes = int(settings.ingest.max_file_mb * 1024 * 1024)
    for done, item in enumerate(found, start=1):
        if progress:
            progress("files", done, len(found))
        seen.add(item.source)
        if (root_key, item.source) in done_in_run:  # named twice (a folder and a file in it): same chunk ids
            continue
        done_in_run.add((root_key, item.source))
        report.files_seen += 1
        old = stored.get(item.source, _Stored())
        writer.yield_to_answers()  # reading and chunking compete with an answer for the CPU too
        try:
            chunks, file_hash = _load_chunks(item, chunker, max_bytes, old, settings.ingest.chunk_size)
        except LoadError as error:
            report.skipped.append((item.source, str(error)))
            writer.delete(old.ids)  # the file's current version cannot be read: its old chunks are stale
            report.chunks_deleted += len(old.ids)
            continue
        if chunks is None:
            report.unchanged += 1
            continue
        if old.ids:
            report.updated += 1
        else:
            report.added += 1
        metadata = {"root": root_key, "file_hash": file_hash, "chunk_count": len(chunks)}
        stale = old.ids - {chunk.id for chunk in chunks}
        writer.put(chunks, metadata, existing=old.ids, stale=stale)
        report.chunks_deleted += len(stale)

    if root.is_dir():
        for source, entry in stored.items():
            if source not in seen and matches(source, pattern):
                writer.delete(entry.ids)
                report.deleted += 1
                report.chunks_deleted += len(entry.ids)


def _load_chunks(
    item: Found, chunker: Chunker, max_bytes: int, old: _Stored, chunk_size: int
) -> tuple[list[Chunk] | None, str]:
    """The file's chunks, or None if the store already holds exactly this version."""
    if item.skip_reason:
        raise LoadError(item.skip_reason)
    try:
        data = read_file(item.path, max_bytes)
    except FileNotFoundError as error:
        raise LoadError("file vanished during ingest") from error
    except IsADirectoryError as error:
        raise LoadError("is a folder") from error
    except OSError as error:
        raise LoadError(f"cannot read file ({error.strerror})") from error
    file_hash = hashlib.sha256(chunker.signature.encode() + b"\0" + data).hexdigest()[:32]
    if old.ids and old.is_complete(file_hash):
        return None, file_hash
    document = load_file(item.path, data)
    del data
    return chunk_bounded(chunker, item.source, document, chunk_size * MAX_CHARS_PER_TOKEN), file_hash
