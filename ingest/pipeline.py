"""The ingest job: discover -> load -> chunk -> embed what is new -> write Chroma -> sweep what is gone.

Idempotent and crash-safe because chunk ids come from content and every chunk records the hash
of the file version it belongs to and how many chunks that version has: a file is up to date
only when the store holds exactly that many chunks of that version. Anything else (changed,
new, half-written by a killed run) is re-chunked; chunks already stored are not re-embedded,
stale ones are deleted once the new ones are written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import signal
import stat
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from pathlib import Path

from chromadb.api.models.Collection import Collection
from chromadb.errors import ChromaError

from docchat.components import bm25
from docchat.components.embedding import Embedder
from docchat.components.store import folder_is_read_only, iter_rows, open_client, open_collection, update_metadata
from docchat.core.errors import DocchatError
from docchat.core.lock import ingest_lock
from docchat.core.settings import Settings
from docchat.ingest.chunk import Chunk, Chunker, chunk_id
from docchat.ingest.discover import Found, discover, matches
from docchat.ingest.document import Block, LoadedDocument, LoadError
from docchat.ingest.loaders import load_file

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Hostile input: llama-index's SentenceSplitter keeps every word of a sentence-less text as a separate
# object (~120 MB of RAM per MB of text), so sections longer than this are chunked a window at a time;
# and a chunk is cut when it has this many characters per allowed word-piece (a run of >100 letters is a
# single [UNK] word-piece, so word-piece counts alone do not bound a chunk's length).
MAX_SECTION_CHARS = 1_000_000
MAX_CHARS_PER_TOKEN = 20
LOW_DISK_BYTES = 4 * 2**20  # a store write that fails with less free space than this is reported as a full disk
CRASH_ENV = "DOCCHAT_TEST_CRASH_AT"  # test-only fault injection, see _crash_point


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
    _check_writable(settings)
    try:
        return _ingest(settings, paths, embedder, pattern, rebuild, progress)
    except DocchatError:
        raise
    except Exception as error:
        storage = _storage_error(settings, error)
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
    report = IngestReport(settings.collection)
    client = open_client(settings)
    with ingest_lock(settings.indexes_dir, settings.collection):
        if rebuild:
            _drop_collection(client, settings.collection)
        collection = open_collection(client, settings.collection, embedder.name, embedder.dimension, create=True)
        chunker = Chunker(embedder.count_tokens, settings.chunk_size, settings.chunk_overlap, embedder.max_tokens)
        lexical = _LexicalSide(settings.indexes_dir, collection)
        writer = _Writer(collection, embedder, client.get_max_batch_size(), progress, lexical)
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
            embed_backend=embedder.backend,
            chunker=chunker.signature,
        )
        _crash_point("bm25")
        lexical.finish(client.get_collection(settings.collection), generation, progress)
    report.seconds = time.perf_counter() - started
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
    writer: _Writer,
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

    found = list(discover(root, pattern, settings.follow_symlinks))
    seen: set[str] = set()
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    for done, item in enumerate(found, start=1):
        if progress:
            progress("files", done, len(found))
        seen.add(item.source)
        if (root_key, item.source) in done_in_run:  # named twice (a folder and a file in it): same chunk ids
            continue
        done_in_run.add((root_key, item.source))
        report.files_seen += 1
        old = stored.get(item.source, _Stored())
        try:
            chunks, file_hash = _load_chunks(item, chunker, max_bytes, old, settings.chunk_size)
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
        data = _read_file(item.path, max_bytes)
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
    return _chunk_document(chunker, item.source, document, chunk_size * MAX_CHARS_PER_TOKEN), file_hash


def _read_file(path: Path, max_bytes: int) -> bytes:
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


def _chunk_document(chunker: Chunker, source: str, document: LoadedDocument, max_chars: int) -> list[Chunk]:
    """``chunker.chunk``, kept linear in time and bounded in memory and chunk length on hostile input.

    Ordinary documents are chunked exactly as ``chunker.chunk`` does. A section over MAX_SECTION_CHARS is
    chunked a window at a time (its giant blocks cut at whitespace); a chunk over ``max_chars`` characters
    is cut; then ids and indexes are renumbered over the whole file, as the chunker numbers them.
    """
    sections = [list(blocks) for _, blocks in groupby(document.blocks, key=lambda block: block.headings)]
    if all(_size(blocks) <= MAX_SECTION_CHARS for blocks in sections):
        chunks = chunker.chunk(source, document)
        if all(len(chunk.text) <= max_chars for chunk in chunks):
            return chunks
    else:
        chunks = [
            chunk for window in _windows(sections) for chunk in chunker.chunk(source, replace(document, blocks=window))
        ]
    seen: dict[str, int] = {}
    numbered: list[Chunk] = []
    for piece in (piece for chunk in chunks for piece in _cut_chunk(chunk, max_chars)):
        key = piece.embedding_text()  # what the chunker derives ids from: title/heading prefix + text
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        numbered.append(replace(piece, id=chunk_id(source, key, occurrence), index=len(numbered)))
    return numbered


def _size(blocks: list[Block]) -> int:
    return sum(len(block.text) + 2 for block in blocks)


def _windows(sections: list[list[Block]]) -> Iterator[list[Block]]:
    """Each section, split into windows of at most MAX_SECTION_CHARS when it is larger."""
    for blocks in sections:
        if _size(blocks) <= MAX_SECTION_CHARS:
            yield blocks
            continue
        window: list[Block] = []
        size = 0
        for block in blocks:
            for piece in _cut_block(block, MAX_SECTION_CHARS // 2):
                if window and size + len(piece.text) + 2 > MAX_SECTION_CHARS:
                    yield window
                    window, size = [], 0
                window.append(piece)
                size += len(piece.text) + 2
        if window:
            yield window


def _cut_text(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) of ``text`` in pieces of at most ``limit`` characters, cut at whitespace when possible."""
    start = 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            cut = max(text.rfind(" ", start + limit // 2, end), text.rfind("\n", start + limit // 2, end))
            end = cut if cut > start else end
        yield start, text[start:end]
        start = end


def _cut_block(block: Block, limit: int) -> Iterator[Block]:
    if len(block.text) <= limit:
        yield block
        return
    exact = block.text.count("\n") == block.end_line - block.start_line  # the text's lines are the file's
    line, counted = block.start_line, 0
    for offset, piece in _cut_text(block.text, limit):
        text = piece.strip()
        if not text:
            continue
        first = offset + piece.index(text[0])
        line += block.text.count("\n", counted, first)
        counted = first
        span = (line, line + text.count("\n")) if exact else (block.start_line, block.end_line)
        yield Block(text, block.headings, *span)


def _cut_chunk(chunk: Chunk, limit: int) -> Iterator[Chunk]:
    if len(chunk.text) <= limit:
        yield chunk
        return
    for _, piece in _cut_text(chunk.text, limit):
        if piece.strip():
            yield replace(chunk, text=piece.strip())


class _Writer:
    """Buffers chunks across files; embeds only chunks the store lacks; writes in Chroma-sized batches."""

    def __init__(
        self,
        collection: Collection,
        embedder: Embedder,
        max_batch: int,
        progress: Progress | None,
        lexical: _LexicalSide,
    ):
        self.collection = collection
        self._lexical = lexical
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
            self._lexical.delete(batch)

    def flush(self) -> None:
        """Write buffered chunks (new ones embedded), then delete what they replace."""
        if self._new or self._kept:
            self._before_write()
        pending = len(self._new)
        for batch in _batches(self._new, min(self._max_batch, 256)):
            vectors = self._embedder.embed([chunk.embedding_text() for chunk, _ in batch])
            _crash_point("embed")
            self.collection.upsert(
                ids=[chunk.id for chunk, _ in batch],
                embeddings=vectors,
                documents=[chunk.text for chunk, _ in batch],
                metadatas=[meta for _, meta in batch],
            )
            _crash_point("write")
            self._lexical.add(batch)
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
        self._lexical.commit()


class _LexicalSide:
    """Keeps the collection's BM25 index in step with the writes of this ingest.

    An index that matches the collection when the run starts (or that of an empty collection) is
    updated chunk by chunk as Chroma is written; any other (missing, or left stale by a killed run)
    is rebuilt from the stored chunks at the end.
    """

    def __init__(self, indexes_dir: Path, collection: Collection) -> None:
        self._dir = indexes_dir
        self._folder = bm25.index_folder(indexes_dir, collection.name)
        current = bm25.is_current(indexes_dir, collection.name, int((collection.metadata or {}).get("generation", 0)))
        self._incremental = current or collection.count() == 0
        self._reset = not current
        self._updater: bm25.IndexUpdater | None = None

    def _open(self) -> bm25.IndexUpdater | None:
        if self._incremental and self._updater is None:
            self._updater = bm25.IndexUpdater(self._folder, reset=self._reset)
        return self._updater

    def add(self, batch: Sequence[tuple[Chunk, dict]]) -> None:
        if updater := self._open():
            updater.add([chunk.id for chunk, _ in batch], [meta for _, meta in batch], [c.text for c, _ in batch])

    def delete(self, ids: Sequence[str]) -> None:
        if ids and (updater := self._open()):
            updater.delete(ids)

    def commit(self) -> None:
        if self._updater is not None:
            self._updater.commit()

    def close(self) -> None:
        if self._updater is not None:
            self._updater.close()

    def finish(self, collection: Collection, generation: int, progress: Progress | None) -> None:
        """Mark the updated index current, or rebuild an index that was not kept in step."""
        if self._updater is not None:
            self._updater.finish(generation)
        elif not bm25.is_current(self._dir, collection.name, generation):
            if progress:
                progress("bm25", 0, 1)
            bm25.rebuild(collection, self._dir)
            if progress:
                progress("bm25", 1, 1)


def _batches(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- storage failures ------------------------------------------------------------------------------------


def _check_writable(settings: Settings) -> None:
    """Refuse at once, with a clear reason, to ingest into a data dir that cannot be written."""
    folders = [settings.data_dir, settings.indexes_dir] + ([] if settings.chroma_url else [settings.chroma_path])
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


def _storage_error(settings: Settings, error: BaseException) -> DocchatError | None:
    """A clear DocchatError for a write that failed on a full or read-only disk (chromadb often hides the OSError)."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    codes = {getattr(item, "errno", None) for item in chain}
    text = " ".join(str(item) for item in chain).lower()
    where = settings.data_dir.absolute()
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
            f"Ingest stopped: the disk holding {where} is full{left}. Collection {settings.collection!r} may not "
            "answer until space is freed (other collections still do); free some space and run the ingest "
            "again: it resumes where it stopped."
        )
    return None


_crashes: dict[str, int] = {}


def _crash_point(stage: str) -> None:
    """Test-only fault injection: DOCCHAT_TEST_CRASH_AT=embed:N (after the N-th batch is embedded, before it
    is written), write:N (after the N-th batch is written) or bm25 (before the BM25 index is marked current
    or rebuilt) SIGKILLs this process there (tests/test_faults.py). Unset in normal use: then this does nothing."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != stage:
        return
    _crashes[stage] = _crashes.get(stage, 0) + 1
    if _crashes[stage] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
