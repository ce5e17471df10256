"""HTML (.html, .htm, and .txt files that hold HTML markup): BeautifulSoup with source line numbers."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from ingest.document import Block, LoadedDocument
from ingest.loaders.headings import HeadingTracker

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {
    "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption", "caption",
    "address", "div", "section", "article", "aside", "header", "footer", "main", "nav",
    "table", "tr", "ul", "ol", "dl", "form", "fieldset", "details", "summary",
}  # fmt: skip
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title", "svg", "iframe", "object"}
_HTML_HINT = re.compile(r"<(?:html|body|p|div|h[1-6]|br|li|ul|table|article|section)\b[^>]*>", re.I)
_MD_TITLE = re.compile(r"^#\s+(.+)$")


def looks_like_html(text: str) -> bool:
    """True when a plain-text file is really HTML markup (several block tags near the top)."""
    return len(_HTML_HINT.findall(text[:20_000])) >= 3


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, tags dropped (markup is never kept as markup)."""
    soup = BeautifulSoup(fragment, "html.parser")
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())


def load_html(text: str, fallback_title: str) -> LoadedDocument:
    """Parse HTML into leaf blocks (paragraphs, list items, cells...) under their heading path."""
    soup = BeautifulSoup(text, "html.parser")
    headings = HeadingTracker()
    blocks: list[Block] = []
    title = _title(soup)
    first_h1: str | None = None
    lines = text.split("\n")
    cursor = 0  # line index, for locating loose text that has no tag of its own

    for node in soup.descendants:
        if isinstance(node, Tag):
            if node.name in _HEADINGS and not _hidden(node):
                heading = " ".join(node.get_text(" ").split())
                if heading:
                    headings.enter(int(node.name[1]), heading)
                    first_h1 = first_h1 or (heading if node.name == "h1" else None)
                    cursor = max(cursor, (node.sourceline or 1) - 1)
            elif node.name in _BLOCKS and _is_leaf_block(node) and not _hidden(node):
                block_text = " ".join(node.get_text(" ").split())
                if block_text and node.sourceline:
                    start = node.sourceline
                    end = start + str(node).count("\n")
                    blocks.append(Block(block_text, headings.path, start, end))
                    cursor = max(cursor, start - 1)
        elif _is_loose_text(node):
            loose = " ".join(str(node).split())
            line = _find_line(lines, loose, cursor)
            md_title = _MD_TITLE.match(loose)
            if md_title and not blocks and title is None:
                title = md_title.group(1).strip()
                continue
            blocks.append(Block(loose, headings.path, line, line + str(node).strip().count("\n")))
            cursor = line - 1
    return LoadedDocument(title=title or first_h1 or fallback_title, blocks=blocks, format="html")


def _title(soup: BeautifulSoup) -> str | None:
    tag = soup.find("title")
    text = " ".join(tag.get_text(" ").split()) if tag else ""
    return text or None


def _hidden(tag: Tag) -> bool:
    return any(parent.name in _INVISIBLE for parent in tag.parents if isinstance(parent, Tag))


def _is_leaf_block(tag: Tag) -> bool:
    return tag.find(list(_BLOCKS | _HEADINGS)) is None


def _is_loose_text(node: object) -> bool:
    """Text that sits outside any block or heading (e.g. bare lines between tags)."""
    if not isinstance(node, NavigableString) or isinstance(node, (Comment, Doctype)) or not node.strip():
        return False
    parent = node.parent
    while parent is not None and parent.name not in _BLOCKS | _HEADINGS | _INVISIBLE:
        parent = parent.parent
    return parent is None or parent.name in ("body", "html", "[document]")


def _find_line(lines: list[str], text: str, cursor: int) -> int:
    probe = text[:40]
    for index in range(cursor, len(lines)):
        if probe in " ".join(lines[index].split()):
            return index + 1
    return cursor + 1
