"""HTML (.html, .htm, and .txt files that hold HTML markup): BeautifulSoup with source line numbers."""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from docchat.ingest.document import Block, LoadedDocument
from docchat.ingest.loaders.headings import HeadingTracker

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

    nodes = list(soup.descendants)
    inner, outer_headings, hidden, covered = _structure(nodes)
    finder = _LineFinder(lines)
    for node in nodes:
        if isinstance(node, Tag):
            if node.name in _HEADINGS and not hidden[id(node)] and id(node) not in outer_headings:
                heading = " ".join(node.get_text(" ").split())
                if heading:
                    headings.enter(int(node.name[1]), heading)
                    first_h1 = first_h1 or (heading if node.name == "h1" else None)
                    cursor = max(cursor, (node.sourceline or 1) - 1)
            elif node.name in _BLOCKS and id(node) not in inner and not hidden[id(node)]:
                block_text = " ".join(node.get_text(" ").split())
                if block_text and node.sourceline:
                    start = node.sourceline
                    end = start + str(node).count("\n")
                    blocks.append(Block(block_text, headings.path, start, end))
                    cursor = max(cursor, start - 1)
        elif _is_loose_text(node, covered):
            loose = " ".join(str(node).split())
            line = finder.line_of(loose, cursor)
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


def _structure(nodes: list) -> tuple[set[int], set[int], dict[int, bool], dict[int, bool]]:
    """One pass over the tree (in document order), linear even for markup nested 100,000 deep.

    Returns the ids of tags that hold a block or heading (so are not leaf blocks), the ids of tags that
    hold a heading (a heading inside a heading is malformed; only the innermost one is a heading, else
    nested headings would cost quadratic time), whether each tag sits inside an invisible element, and
    whether each tag is or sits inside a block, heading or invisible element (text under it is not loose).
    """
    enclosing = _BLOCKS | _HEADINGS | _INVISIBLE
    inner: set[int] = set()
    outer_headings: set[int] = set()
    hidden: dict[int, bool] = {}
    covered: dict[int, bool] = {}
    for node in nodes:
        if not isinstance(node, Tag):
            continue
        parent = node.parent
        hidden[id(node)] = parent is not None and (parent.name in _INVISIBLE or hidden.get(id(parent), False))
        covered[id(node)] = node.name in enclosing or covered.get(id(parent), False)
        if node.name in _BLOCKS or node.name in _HEADINGS:
            _mark_ancestors(node, inner)
        if node.name in _HEADINGS:
            _mark_ancestors(node, outer_headings)
    return inner, outer_headings, hidden, covered


def _mark_ancestors(node: Tag, marked: set[int]) -> None:
    """Add the ancestors' ids, stopping at one already there (its own ancestors are too): linear overall."""
    parent = node.parent
    while parent is not None and id(parent) not in marked:
        marked.add(id(parent))
        parent = parent.parent


def _is_loose_text(node: object, covered: dict[int, bool]) -> bool:
    """Text that sits outside any block or heading (e.g. bare lines between tags)."""
    if not isinstance(node, NavigableString) or isinstance(node, (Comment, Doctype)) or not node.strip():
        return False
    return not covered.get(id(node.parent), False)


class _LineFinder:
    """Finds the source line of loose text: the first line from ``cursor`` on whose whitespace-normalised
    text holds the text's first 40 characters. The normalised lines are joined once and searched within a
    bounded window, so many unmatched texts (entities, say) or one very long line cost linear time."""

    WINDOW = 50_000  # characters searched ahead of the cursor's line

    def __init__(self, lines: list[str]) -> None:
        normalised = [" ".join(line.split()) for line in lines]
        self._starts = list(accumulate((len(line) + 1 for line in normalised), initial=0))
        self._text = "\n".join(normalised)

    def line_of(self, text: str, cursor: int) -> int:
        """1-based line of ``text`` at or after the 0-based line ``cursor``; ``cursor + 1`` if not found."""
        start = self._starts[min(cursor, len(self._starts) - 1)]
        found = self._text.find(text[:40], start, start + self.WINDOW)
        return bisect_right(self._starts, found) if found >= 0 else cursor + 1
