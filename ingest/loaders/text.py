"""Plain text: paragraphs split on blank lines, with their line numbers."""

from __future__ import annotations

from docchat.ingest.document import Block, LoadedDocument


def load_text(text: str, fallback_title: str) -> LoadedDocument:
    """Split plain text into paragraphs (runs of non-blank lines)."""
    blocks: list[Block] = []
    start: int | None = None
    lines = text.split("\n")
    for index, line in enumerate([*lines, ""]):
        if line.strip() and start is None:
            start = index
        elif not line.strip() and start is not None:
            blocks.append(Block("\n".join(lines[start:index]).strip(), (), start + 1, index))
            start = None
    return LoadedDocument(title=fallback_title, blocks=blocks, format="text")
