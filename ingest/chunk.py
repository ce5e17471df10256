"""Structure-aware chunking: one section per heading path, then llama-index's SentenceSplitter by size.

Sizes are counted in the embedding model's own word-pieces, so no chunk is silently truncated
by the model. Each chunk keeps the line span of the blocks it came from; a PDF chunk keeps its page and the
lines of that page's text it covers (a chunk never spans pages: each page is a section).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import groupby
from typing import TYPE_CHECKING

from docchat.components.embedding import passage_context, passage_text
from docchat.ingest.document import Block, LoadedDocument

if TYPE_CHECKING:
    from llama_index.core.node_parser import SentenceSplitter

CHUNKER_VERSION = "3"  # bump when chunk boundaries, ids or recorded spans change, so stored files are re-chunked
# (3: PDF chunks record their page and the lines within it, no longer the page as their line span)
MIN_CHUNK_TOKENS = 32  # floor for a piece's size when a title/heading prefix is very long
# Hostile input: llama-index's SentenceSplitter keeps every word of a sentence-less text as a separate
# object (~120 MB of RAM per MB of text), so sections longer than this are chunked a window at a time;
# and a chunk is cut when it has this many characters per allowed word-piece (a run of >100 letters is a
# single [UNK] word-piece, so word-piece counts alone do not bound a chunk's length).
MAX_SECTION_CHARS = 1_000_000
MAX_CHARS_PER_TOKEN = 20


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
    page: int | None = None  # PDF page (1-based); the line span is then within the page's extracted text

    def metadata(self) -> dict[str, str | int]:
        """The chunk's citation fields, as stored in Chroma (``page`` only for PDF chunks)."""
        page = {} if self.page is None else {"page": self.page}
        return {
            "source": self.source,
            "title": self.title,
            "heading": self.heading,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "chunk_index": self.index,
            "span_unit": self.span_unit,
            "format": self.format,
            **page,
        }

    def embedding_text(self) -> str:
        """What gets embedded: title and heading path give the passage its context."""
        return passage_text(self.title, self.heading, self.text)


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
            # imported here: llama-index takes about a second to import, which a re-ingest with nothing
            # new to chunk does not need
            from llama_index.core.node_parser import SentenceSplitter

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
            prefix = passage_context(document.title, heading)
            for text, start_line, end_line, page in self._split_section(list(section), prefix):
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
                        page=page,
                    )
                )
        return chunks

    def _split_section(self, blocks: list[Block], prefix: str) -> Iterator[tuple[str, int, int, int | None]]:
        """Split one section's text; map each piece back to the lines (and page) of the blocks it overlaps."""
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
            exact = start >= 0
            if not exact:  # the splitter normalised whitespace: fall back to the piece's first words
                start = max(cursor, text.find(piece[:20], cursor))
            end = start + len(piece)
            touched = [(lo, block) for lo, hi, block in spans if lo < end and hi > start]
            touched = touched or [(spans[-1][0], spans[-1][2])]
            cursor = start + 1
            lines = [
                _lines_within(block, start - lo, end - lo) if exact else (block.start_line, block.end_line)
                for lo, block in touched
            ]
            pages = [block.page for _, block in touched if block.page is not None]
            yield piece, min(a for a, _ in lines), max(b for _, b in lines), min(pages) if pages else None


def _lines_within(block: Block, start: int, end: int) -> tuple[int, int]:
    """The lines of ``block`` that its characters ``start:end`` (clipped to the block) fall on.

    Only a PDF block's text keeps the line breaks of the text its lines count (the page's extracted text);
    any other block gives its whole span.
    """
    text = block.text
    if block.page is None or text.count("\n") != block.end_line - block.start_line:
        return block.start_line, block.end_line
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    first = block.start_line + text.count("\n", 0, start)
    return first, max(first, block.start_line + text.count("\n", 0, max(start, end - 1)))


def chunk_id(source: str, text: str, occurrence: int = 0) -> str:
    """Stable id from the source path and the chunk text (and its repeat number within the file)."""
    digest = hashlib.sha256(f"{source}\x00{occurrence}\x00{text}".encode()).hexdigest()
    return digest[:32]


# -- hostile input: bounded time, memory and chunk length --------------------------------------------------


def chunk_bounded(chunker: Chunker, source: str, document: LoadedDocument, max_chars: int) -> list[Chunk]:
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
        yield Block(text, block.headings, *span, page=block.page)


def _cut_chunk(chunk: Chunk, limit: int) -> Iterator[Chunk]:
    if len(chunk.text) <= limit:
        yield chunk
        return
    for _, piece in _cut_text(chunk.text, limit):
        if piece.strip():
            yield replace(chunk, text=piece.strip())
