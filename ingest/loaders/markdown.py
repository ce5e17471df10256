"""Markdown (.md, .markdown): markdown-it-py's block map gives each block its source lines."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from docchat.ingest.document import Block, LoadedDocument
from docchat.ingest.loaders.front_matter import split_front_matter
from docchat.ingest.loaders.headings import HeadingTracker
from docchat.ingest.loaders.html import html_to_text

_PARSER = MarkdownIt("commonmark").enable("table")


def load_markdown(text: str, fallback_title: str) -> LoadedDocument:
    """Parse Markdown into blocks under their heading path; front matter becomes metadata."""
    meta, body = split_front_matter(text)
    headings = HeadingTracker()
    blocks: list[Block] = []
    first_h1: str | None = None
    tokens = _PARSER.parse(body)
    line_map: list[int] | None = None
    pending_heading: int | None = None
    for token in tokens:
        if token.map:
            line_map = token.map
        if token.type == "heading_open":
            pending_heading = int(token.tag[1])
        elif token.type == "inline" and pending_heading is not None:
            title = _inline_text(token)
            headings.enter(pending_heading, title)
            if pending_heading == 1 and first_h1 is None:
                first_h1 = title
            pending_heading = None
        elif token.type == "inline" and line_map:
            _add(blocks, _inline_text(token), headings.path, line_map)
        elif token.type in ("fence", "code_block") and token.map:
            _add(blocks, token.content, headings.path, token.map)
        elif token.type == "html_block" and token.map:
            _add(blocks, html_to_text(token.content), headings.path, token.map)
    title = meta.get("title") or first_h1 or fallback_title
    return LoadedDocument(title=title, blocks=blocks, format="markdown", metadata=meta)


def _add(blocks: list[Block], text: str, path: tuple[str, ...], line_map: list[int]) -> None:
    text = text.strip()
    if text:
        blocks.append(Block(text, path, line_map[0] + 1, max(line_map[0] + 1, line_map[1])))


def _inline_text(token: Token) -> str:
    """Readable text of an inline token: link text without URLs, image alt text, no raw HTML."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
        elif child.type == "html_inline":
            parts.append(html_to_text(child.content))
    return "".join(parts)
