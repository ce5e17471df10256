"""Writing chunks to Chroma: buffered across files, only new chunks embedded, in Chroma-sized batches."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from chromadb.api.models.Collection import Collection

from docchat.components.embedding import Embedder
from docchat.components.store import update_metadata
from docchat.ingest import Progress
from docchat.ingest.chunk import Chunk
from docchat.ingest.faults import CrashPoints
from docchat.ingest.lexical_sync import LexicalSync


class ChunkWriter:
    """Buffers chunks across files; embeds only chunks the store lacks; writes in Chroma-sized batches."""

    def __init__(
        self,
        collection: Collection,
        embedder: Embedder,
        max_batch: int,
        progress: Progress | None,
        lexical: LexicalSync,
        crash: CrashPoints,
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
        for batch in batches(sorted(ids), self._max_batch):
            self.collection.delete(ids=batch)
            self._lexical.delete(batch)

    def flush(self) -> None:
        """Write buffered chunks (new ones embedded), then delete what they replace."""
        if self._new or self._kept:
            self._before_write()
        pending = len(self._new)
        for batch in batches(self._new, min(self._max_batch, 256)):
            vectors = self._embedder.embed([chunk.embedding_text() for chunk, _ in batch])
            self._crash.reached("embed")
            self.collection.upsert(
                ids=[chunk.id for chunk, _ in batch],
                embeddings=vectors,
                documents=[chunk.text for chunk, _ in batch],
                metadatas=[meta for _, meta in batch],
            )
            self._crash.reached("write")
            self._lexical.add(batch)
            self.written += len(batch)
            pending -= len(batch)
            if self._progress:
                self._progress("chunks", self.written, self.written + pending)
        for batch in batches(self._kept, self._max_batch):
            self.collection.update(ids=[chunk.id for chunk, _ in batch], metadatas=[meta for _, meta in batch])
            self.reused += len(batch)
        self._new, self._kept = [], []
        self.delete(self._stale)
        self._stale = set()
        self._lexical.commit()


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
