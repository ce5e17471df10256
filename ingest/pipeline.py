"""The ingest job: discover -> load -> chunk -> embed what is new -> write Chroma -> sweep what is gone.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chromadb.api.models.Collection import Collection

from docchat import bm25
from docchat.errors import DocchatError
from docchat.settings import Settings
from docchat.store import iter_rows, open_client, open_collection, update_metadata
from ingest.chunk import Chunk, Chunker
from ingest.discover import Found, discover, matches
from ingest.document import LoadError
from ingest.embed import Embedder
from ingest.loaders import load_file
from ingest.lock import ingest_lock

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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
    seconds: float = 0.0

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
    """Ingest files/folders into ``settings.collection``; each folder is a root for source paths."""
    missing = [str(path) for path in paths if not Path(path).exists()]
    if missing:
        raise DocchatError(f"No such file or folder: {', '.join(missing)}")
    started = time.perf_counter()
    report = IngestReport(settings.collection)
    client = open_client(settings)
    with ingest_lock(settings.indexes_dir, settings.collection):
        if rebuild:
            _drop_collection(client, settings.collection)
        collection = open_collection(client, settings.collection, embedder.name, embedder.dimension, create=True)
        chunker = Chunker(embedder.count_tokens, settings.chunk_size, settings.chunk_overlap, embedder.max_tokens)
        writer = _Writer(collection, embedder, client.get_max_batch_size(), progress)
        for root in paths:
            _ingest_root(settings, Path(root), pattern, chunker, writer, report, progress)
        writer.flush()
        report.chunks_written, report.chunks_reused = writer.written, writer.reused
        sources = {meta.get("source") for _, meta in iter_rows(collection)}
        changed = report.added + report.updated + report.deleted + report.chunks_deleted > 0
        # A unique stamp (not a counter): a rebuilt collection never reuses an old index's generation.
        generation = time.time_ns() if changed else int((collection.metadata or {}).get("generation", 0))
        update_metadata(
            collection,
            documents=len(sources),
            last_ingest=time.time(),
            generation=generation,
            embed_backend=embedder.backend,
            chunker=chunker.signature,
        )
        if changed or not bm25.is_current(settings.indexes_dir, settings.collection, generation):
            if progress:
                progress("bm25", 0, 1)
            bm25.rebuild(client.get_collection(settings.collection), settings.indexes_dir)
            if progress:
                progress("bm25", 1, 1)
    report.seconds = time.perf_counter() - started
    return report


def _drop_collection(client, name: str) -> None:
    with contextlib.suppress(Exception):
        client.delete_collection(name)


def _ingest_root(
    settings: Settings,
    root: Path,
    pattern: str | None,
    chunker: Chunker,
    writer: _Writer,
    report: IngestReport,
    progress: Progress | None,
) -> None:
    root_key = str(root.resolve() if root.is_dir() else root.resolve().parent)
    stored: dict[str, _Stored] = defaultdict(_Stored)
    for row_id, meta in iter_rows(writer.collection, where={"root": root_key}):
        entry = stored[str(meta.get("source"))]
        entry.ids.add(row_id)
        entry.hashes.add(str(meta.get("file_hash")))
        entry.counts.add(int(meta.get("chunk_count", -1)))

    found = list(discover(root, pattern, settings.follow_symlinks))
    seen: set[str] = set()
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    for done, item in enumerate(found, start=1):
        if progress:
            progress("files", done, len(found))
        report.files_seen += 1
        seen.add(item.source)
        old = stored.get(item.source, _Stored())
        try:
            chunks, file_hash = _load_chunks(item, chunker, max_bytes, old)
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


def _load_chunks(item: Found, chunker: Chunker, max_bytes: int, old: _Stored) -> tuple[list[Chunk] | None, str]:
    """The file's chunks, or None if the store already holds exactly this version."""
    if item.skip_reason:
        raise LoadError(item.skip_reason)
    try:
        size = item.path.stat().st_size
        if size > max_bytes:
            raise LoadError(f"file too large ({size / 2**20:.0f} MB > DOCCHAT_MAX_FILE_MB)")
        data = item.path.read_bytes()
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
    return chunker.chunk(item.source, document), file_hash


class _Writer:
    """Buffers chunks across files; embeds only chunks the store lacks; writes in Chroma-sized batches."""

    def __init__(self, collection: Collection, embedder: Embedder, max_batch: int, progress: Progress | None):
        self.collection = collection
        self._embedder = embedder
        self._max_batch = max_batch
        self._progress = progress
        self._new: list[tuple[Chunk, dict]] = []
        self._kept: list[tuple[Chunk, dict]] = []
        self._stale: set[str] = set()
        self.written = 0
        self.reused = 0
        self._buffer_limit = max(256, embedder.batch_size * 8)
        self._stamped = False

    def _before_write(self) -> None:
        """Stamp a new generation before the first change, so a run killed mid-write leaves the BM25
        side index visibly stale (readers rebuild it from the chunks) rather than silently out of step."""
        if not self._stamped:
            update_metadata(self.collection, generation=time.time_ns())
            self._stamped = True

    def put(self, chunks: list[Chunk], metadata: dict, existing: set[str], stale: set[str]) -> None:
        for chunk in chunks:
            target = self._kept if chunk.id in existing else self._new
            target.append((chunk, {**metadata, **chunk.metadata()}))
        self._stale |= stale
        if len(self._new) >= self._buffer_limit:
            self.flush()

    def delete(self, ids: set[str]) -> None:
        if ids:
            self._before_write()
        for batch in _batches(sorted(ids), self._max_batch):
            self.collection.delete(ids=batch)

    def flush(self) -> None:
        """Write buffered chunks (new ones embedded), then delete what they replace."""
        if self._new or self._kept:
            self._before_write()
        pending = len(self._new)
        for batch in _batches(self._new, min(self._max_batch, 256)):
            vectors = self._embedder.embed([chunk.embedding_text() for chunk, _ in batch])
            self.collection.upsert(
                ids=[chunk.id for chunk, _ in batch],
                embeddings=vectors,
                documents=[chunk.text for chunk, _ in batch],
                metadatas=[meta for _, meta in batch],
            )
            self.written += len(batch)
            pending -= len(batch)
            if self._progress:
                self._progress("chunks", self.written, self.written + pending)
        for batch in _batches(self._kept, self._max_batch):
            self.collection.update(ids=[chunk.id for chunk, _ in batch], metadatas=[meta for _, meta in batch])
            self.reused += len(batch)
        self._new, self._kept = [], []
        self.delete(self._stale)
        self._stale = set()


def _batches(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
