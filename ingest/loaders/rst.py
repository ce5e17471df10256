"""reStructuredText: docutils parses the document tree; blocks keep their section titles and lines."""

from __future__ import annotations

from collections.abc import Iterator

from docutils import nodes
from docutils.core import publish_doctree

from docchat.ingest.document import Block, LoadedDocument, LoadError

# docutils nests a node per indentation level, and a deep staircase of lists took ~3 GB of RAM before it
# gave up (a 9 MB file of 3,000 levels); no real document indents a line this far.
MAX_INDENT = 400

_TEXT_NODES = (nodes.paragraph, nodes.literal_block, nodes.line_block, nodes.term, nodes.field_name)


def load_rst(text: str, fallback_title: str) -> LoadedDocument:
    """Parse reST quietly (markup errors are tolerated, not printed) into blocks."""
    lines = text.split("\n")
    if max((len(line) - len(line.lstrip(" \t")) for line in lines), default=0) > MAX_INDENT:
        raise LoadError("markup nested too deeply to parse")
    doctree = publish_doctree(
        text,
        settings_overrides={"report_level": 5, "halt_level": 5, "file_insertion_enabled": False,
                            "raw_enabled": False, "warning_stream": False},
    )  # fmt: skip
    normalised = [" ".join(line.split()) for line in lines]
    blocks: list[Block] = []
    title = None
    # docutils promotes a lone sub-section to the document's subtitle; keep it as the heading of its text.
    lead = tuple(node.astext() for node in doctree.children if isinstance(node, nodes.subtitle))[:1]
    for node in doctree.findall(_TEXT_NODES):
        if isinstance(node.parent, nodes.system_message):
            continue
        block_text = node.astext().strip()
        if not block_text:
            continue
        path = lead + tuple(
            section[0].astext() for section in reversed(list(_sections(node))) if len(section) and
            isinstance(section[0], nodes.title)
        )  # fmt: skip
        start = _locate(normalised, block_text, node.line)
        end = min(len(lines), start + block_text.count("\n"))
        blocks.append(Block(block_text, path, start, end))
    if isinstance(doctree.get("title"), str):
        title = doctree["title"]
    for top in doctree.findall(nodes.title):
        title = title or top.astext()
        break
    return LoadedDocument(title=title or fallback_title, blocks=blocks, format="rst")


def _sections(node: nodes.Node):
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.section):
            yield parent
        parent = parent.parent


def _locate(normalised: list[str], text: str, hint: int | None) -> int:
    """1-based line where ``text`` starts: docutils' line hint is sometimes the block's last line.

    Looks at the 400 lines nearest the hint (``normalised``: the lines with whitespace collapsed).
    """
    probe = " ".join(text.split("\n")[0].split())[:30]
    guess = max(0, (hint or 1) - 1)
    if probe:
        for index in _nearest(guess, len(normalised), 400):
            if probe in normalised[index]:
                return index + 1
    return guess + 1


def _nearest(guess: int, count: int, limit: int) -> Iterator[int]:
    """The ``limit`` indexes in ``range(count)`` nearest ``guess``, nearest first, the lower one first on a
    tie (what sorting every index by distance gives, without the cost of a sort per block)."""
    found = 0
    distance = max(0, guess - count + 1)
    while found < limit and (guess - distance >= 0 or guess + distance < count):
        for index in (guess - distance, guess + distance) if distance else (guess,):
            if 0 <= index < count:
                yield index
                found += 1
                if found == limit:
                    return
        distance += 1
