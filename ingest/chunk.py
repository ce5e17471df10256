"""Structure-aware chunking: one section per heading path, then llama-index's SentenceSplitter by size.

Sizes are counted in the embedding model's own word-pieces, so no chunk is silently truncated
by the model. Each chunk keeps the line span of the blocks it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby

from llama_index.core.node_parser import SentenceSplitter

from docchat.ingest.document import Block, LoadedDocument

CHUNKER_VERSION = "2"  # bump when chunk boundaries or ids change, so stored files are re-chunked
MIN_CHUNK_TOKENS = 32  # floor for a piece's size when a title/heading prefix is very long


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document, with everything a citation needs."""

    id: str
    source: str
    title: str
    heading: str
    text: str
    start_line: int
    end_line: int
    index: int
    span_unit: str = "line"
    format: str = "text"

    def metadata(self) -> dict[str, str | int]:
        """The chunk's citation fields, as stored in Chroma."""
        return {
            "source": self.source,
            "title": self.title,
            "heading": self.heading,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "chunk_index": self.index,
            "span_unit": self.span_unit,
            "format": self.format,
        }

    def embedding_text(self) -> str:
        """What gets embedded: title and heading path give the passage its context."""
        context = _context(self.title, self.heading)
        return f"{context}\n{self.text}" if context else self.text


class Chunker:
    """Splits loaded documents into chunks of at most ``chunk_size`` word-pieces."""

    def __init__(
        self, count_tokens: Callable[[str], list], chunk_size: int, chunk_overlap: int, max_tokens: int = 256
    ) -> None:
        self.signature = f"v{CHUNKER_VERSION}-{chunk_size}-{chunk_overlap}-{max_tokens}"
        self._count_tokens = count_tokens
        self._chunk_size = chunk_size
        self._chunk_overlap = chunk_overlap
        self._max_tokens = max_tokens  # the model's limit, [CLS] and [SEP] included
        self._splitters: dict[int, SentenceSplitter] = {}

    def _splitter(self, prefix: str) -> SentenceSplitter:
        """A splitter whose pieces fit the model together with their title/heading ``prefix``."""
        room = self._max_tokens - 2 - len(self._count_tokens(prefix)) if prefix else self._max_tokens - 2
        size = max(MIN_CHUNK_TOKENS, min(self._chunk_size, room))
        if size not in self._splitters:
            self._splitters[size] = SentenceSplitter(
                chunk_size=size,
                chunk_overlap=min(self._chunk_overlap, size // 2),
                tokenizer=self._count_tokens,
                paragraph_separator="\n\n",
            )
        return self._splitters[size]

    def chunk(self, source: str, document: LoadedDocument) -> list[Chunk]:
        """Chunks of one document, in reading order, with content-derived ids."""
        chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        for headings, section in groupby(document.blocks, key=lambda block: block.headings):
            heading = " > ".join(headings)
            prefix = _context(document.title, heading)
            for text, start_line, end_line in self._split_section(list(section), prefix):
                # The id covers what is embedded (title/heading prefix too): a renamed heading re-embeds.
                key = f"{prefix}\n{text}" if prefix else text
                occurrence = seen.get(key, 0)
                seen[key] = occurrence + 1
                chunks.append(
                    Chunk(
                        id=chunk_id(source, key, occurrence),
                        source=source,
                        title=document.title,
                        heading=heading,
                        text=text,
                        start_line=start_line,
                        end_line=end_line,
                        index=len(chunks),
                        span_unit=document.span_unit,
                        format=document.format,
                    )
                )
        return chunks

    def _split_section(self, blocks: list[Block], prefix: str) -> Iterator[tuple[str, int, int]]:
        """Split one section's text; map each piece back to the lines of the blocks it overlaps."""
        spans: list[tuple[int, int, Block]] = []
        parts: list[str] = []
        offset = 0
        for block in blocks:
            spans.append((offset, offset + len(block.text), block))
            parts.append(block.text)
            offset += len(block.text) + 2
        text = "\n\n".join(parts)
        cursor = 0
        for piece in self._splitter(prefix).split_text(text):
            start = text.find(piece, cursor)
            if start < 0:  # the splitter normalised whitespace: fall back to the piece's first words
                start = max(cursor, text.find(piece[:20], cursor))
            end = start + len(piece)
            touched = [block for lo, hi, block in spans if lo < end and hi > start] or [spans[-1][2]]
            cursor = start + 1
            yield piece, min(b.start_line for b in touched), max(b.end_line for b in touched)


def _context(title: str, heading: str) -> str:
    """The title/heading prefix embedded with a chunk's text."""
    return " > ".join(part for part in (title, heading) if part)


def chunk_id(source: str, text: str, occurrence: int = 0) -> str:
    """Stable id from the source path and the chunk text (and its repeat number within the file)."""
    digest = hashlib.sha256(f"{source}\x00{occurrence}\x00{text}".encode()).hexdigest()
    return digest[:32]
