"""Writing chunks: BM25 side index as they are read, Chroma once embedded (only new chunks, Chroma-sized batches).

Chunks are indexed for BM25 (text and metadata stored) as files are read, and published every
``COMMIT_EVERY`` chunks or ``COMMIT_SECONDS``, and before embedding starts, so a collection answers by
keyword search while its chunks are embedded; up to ``read_ahead`` new chunks wait for the embedder.
Writing a batch to Chroma overlaps with embedding the next. Between two files and two embedding batches
the writer pauses while a question is being answered (``AnswerGate``; the pipeline calls it before reading
each file).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from chromadb.api.models.Collection import Collection

from docchat.components.embedding import Embedder
from docchat.components.store import update_metadata
from docchat.core.answer_priority import AnswerGate
from docchat.ingest import Progress
from docchat.ingest.chunk import Chunk
from docchat.ingest.faults import CrashPoints
from docchat.ingest.lexical_sync import LexicalSync

COMMIT_EVERY = 2048  # chunks indexed between two commits of the BM25 side index while reading
COMMIT_SECONDS = 1.0  # ... or this long since the last commit, so the first files are searchable soon
EMBED_BATCH = 128  # chunks per embedding call: short enough that a question waits little for the pause


class ChunkWriter:
    """Indexes chunks for BM25 as they come; embeds only chunks the store lacks, up to ``read_ahead`` at a time."""

    def __init__(
        self,
        collection: Collection,
        embedder: Embedder,
        max_batch: int,
        progress: Progress | None,
        lexical: LexicalSync,
        crash: CrashPoints,
        read_ahead: int = 50_000,
        gate: AnswerGate | None = None,
    ):
        self.collection = collection
        self._lexical = lexical
        self._crash = crash
        self._embedder = embedder
        self._max_batch = max_batch
        self._progress = progress
        self._new: list[tuple[Chunk, dict]] = []
        self._kept: list[tuple[Chunk, dict]] = []
        self._stale: set[str] = set()
        self.written = 0
        self.reused = 0
        self._buffer_limit = read_ahead
        self._uncommitted = 0
        self._committed_at = time.perf_counter()
        self._stamped = False
        self._gate = gate

    def _before_write(self) -> None:
        """Stamp a new generation before the first change, so a run killed mid-write leaves the BM25
        side index visibly stale (readers rebuild it from the chunks) rather than silently out of step."""
        if not self._stamped:
            update_metadata(self.collection, generation=time.time_ns())
            self._stamped = True

    def put(self, chunks: list[Chunk], metadata: dict, existing: set[str], stale: set[str]) -> None:
        """Take one file's chunks: indexed for BM25 now, embedded (if new) at the next flush."""
        if chunks:
            self._before_write()
        rows = [(chunk, {**metadata, **chunk.metadata()}) for chunk in chunks]
        for row in rows:
            (self._kept if row[0].id in existing else self._new).append(row)
        self._lexical.add(rows)
        self._uncommitted += len(rows)
        if self._uncommitted >= COMMIT_EVERY or (
            self._uncommitted and time.perf_counter() - self._committed_at >= COMMIT_SECONDS
        ):
            self._commit_lexical()
        self._stale |= stale
        if len(self._new) >= self._buffer_limit:
            self.flush()

    def _commit_lexical(self) -> None:
        """Publish the chunks indexed so far, and how many of the new ones are embedded (readers say so)."""
        self._lexical.commit()
        self._uncommitted = 0
        self._committed_at = time.perf_counter()
        if self._new:
            self._lexical.embedding(self.written, self.written + len(self._new))

    def _write(self, batch: Sequence[tuple[Chunk, dict]], vectors: list, total: int) -> None:
        """Store one embedded batch in Chroma and report progress (on the writer thread)."""
        self.collection.upsert(
            ids=[chunk.id for chunk, _ in batch],
            embeddings=vectors,
            documents=[chunk.text for chunk, _ in batch],
            metadatas=[meta for _, meta in batch],
        )
        self._crash.reached("write")
        self.written += len(batch)
        self._lexical.embedding(self.written, total)
        if self._progress:
            self._progress("chunks", self.written, total)

    def yield_to_answers(self) -> None:
        """Wait while a question is answered in this data dir (before reading a file, before embedding a batch)."""
        if self._gate is not None:
            self._gate.wait()

    def delete(self, ids: set[str]) -> None:
        if ids:
            self._before_write()
        for batch in batches(sorted(ids), self._max_batch):
            self.collection.delete(ids=batch)
            self._lexical.delete(batch)

    def flush(self) -> None:
        """Write buffered chunks (new ones embedded), then delete what they replace."""
        if self._new or self._kept:
            self._before_write()
        self._commit_lexical()  # everything read so far is searchable before the embedder starts
        total = self.written + len(self._new)
        # Chroma writes batch i while the model embeds batch i+1 (at most one batch waits to be written).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docchat-write") as writes:
            writing: Future | None = None
            for batch in batches(self._new, min(self._max_batch, EMBED_BATCH)):
                self.yield_to_answers()
                vectors = self._embedder.embed([chunk.embedding_text() for chunk, _ in batch])
                self._crash.reached("embed")
                if writing is not None:
                    writing.result()
                writing = writes.submit(self._write, batch, vectors, total)
            if writing is not None:
                writing.result()
        for batch in batches(self._kept, self._max_batch):
            self.collection.update(ids=[chunk.id for chunk, _ in batch], metadatas=[meta for _, meta in batch])
            self.reused += len(batch)
        self._new, self._kept = [], []
        self.delete(self._stale)
        self._stale = set()
        self._commit_lexical()


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
