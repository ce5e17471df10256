"""Keeping a collection's BM25 side index in step with an ingest's writes to Chroma."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chromadb.api.models.Collection import Collection

from docchat.components import bm25
from docchat.ingest import Progress
from docchat.ingest.chunk import Chunk


class LexicalSync:
    """Keeps the collection's BM25 index in step with the writes of this ingest.

    An index that matches the collection when the run starts (or that of an empty collection) is
    updated chunk by chunk as files are read, ahead of Chroma; any other (missing, or left stale by a
    killed run) is rebuilt from the stored chunks at the end.
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

    def embedding(self, done: int, total: int) -> None:
        """Tell readers how far embedding of the chunks indexed ahead of Chroma is."""
        if self._updater is not None:
            self._updater.embedding(done, total)

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
