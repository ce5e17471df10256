"""The data a loader hands to the chunker: a document as a list of text blocks with their place."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """A piece of readable text (paragraph, list item, code block...) and where it sits.

    ``start_line``/``end_line`` are 1-based and inclusive, in the source file; for a PDF (``page`` set), in the
    page's extracted text (see ``docchat.ingest.loaders.pdf.page_texts``), whose line breaks the block keeps.
    ``headings`` is the heading path above the block, outermost first.
    """

    text: str
    headings: tuple[str, ...]
    start_line: int
    end_line: int
    page: int | None = None  # 1-based PDF page number; None for every other format


@dataclass
class LoadedDocument:
    """A source file turned into blocks, plus its title and extra metadata (e.g. front matter)."""

    title: str
    blocks: list[Block]
    format: str
    span_unit: str = "line"
    metadata: dict[str, str] = field(default_factory=dict)


class LoadError(Exception):
    """A file that cannot be ingested; the message is the one-line reason shown to the user."""
