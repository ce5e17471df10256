"""Ingest: discover -> load -> chunk -> embed -> store (``pipeline.ingest_paths`` runs it all)."""

from collections.abc import Callable

Progress = Callable[[str, int, int], None]  # a long step's progress: (stage, done, total)
