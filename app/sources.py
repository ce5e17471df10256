"""A cited passage in the context of its source file: the library behind the UI's source preview.

Only a file under the folder its source was ingested from (the ``root`` every chunk records) is ever read or
offered for download, symlinks resolved first; a file that moved, vanished or now resolves outside that folder
gives a one-line message and the passage as it was ingested. No Streamlit here: the CLI or API can use it too.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from docchat.app.render import source_location
from docchat.app.schema import Citation
from docchat.ingest.document import LoadError
from docchat.ingest.loaders import decode_text
from docchat.ingest.loaders.pdf import page_texts

CONTEXT_LINES = 8  # lines shown before and after the cited span (a PDF shows its whole page)
MAX_CONTEXT_CHARS = 20_000  # a window longer than this is cut around the quote
MAX_READ_BYTES = 256 * 2**20  # a source file larger than this is not read for a preview


@dataclass(frozen=True)
class SourceContext:
    """What a preview of one citation shows."""

    location: str  # "report.pdf, p. 12, lines 3-7"
    text: str  # the part of the file around the passage (a PDF: the page's text), or the passage itself
    highlight: str  # what to highlight in ``text``: the quote, or the cited lines when the quote is not verbatim
    lines: tuple[int, int] | None  # the lines ``text`` covers (of the file, or of the page's text); None: the passage
    download: Path | None  # the source file (resolved, under its root) when it may be downloaded
    message: str = ""  # why the preview is limited (file moved, outside its folder, changed...), or ""

    @property
    def from_file(self) -> bool:
        """True when ``text`` was read from the source file (not the passage as ingested)."""
        return self.lines is not None


def source_file(root: str, source: str) -> tuple[Path | None, str]:
    """(the file ``source`` names under ``root``, "") or (None, why not). The path is resolved (symlinks
    followed) and must lie inside the resolved ``root``: nothing outside the ingested folder is returned."""
    if not root or not source:
        return None, "The folder this source was ingested from is not recorded; re-ingest it to preview the file."
    base = Path(root)
    try:
        real_root = base.resolve(strict=True)
        path = (base / source).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a dangling or looping symlink, no permission
        return None, f"{source} is no longer where it was ingested from (moved or deleted); showing the passage only."
    if not path.is_relative_to(real_root):
        return None, f"{source} now leads outside the folder it was ingested from, so it is not opened."
    if not path.is_file():
        return None, f"{source} is no longer a regular file; showing the passage only."
    return path, ""


def source_context(citation: Citation, context_lines: int = CONTEXT_LINES) -> SourceContext:
    """The cited passage in its file: ``context_lines`` lines around the cited span (for a PDF, the cited page's
    extracted text), the quote to highlight, and the file for download when it lies under the ingested root."""
    where = source_location(citation)
    passage = SourceContext(where, citation.passage, citation.quote, None, None)
    path, message = source_file(citation.root, citation.source)
    if path is None:
        return replace(passage, message=message)
    try:
        data = read_source(path)
        lines = _page_lines(data, citation.page) if citation.page is not None else decode_text(data).split("\n")
    except (OSError, LoadError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        return replace(passage, download=path, message=f"{citation.source} cannot be read now ({reason}).")
    if lines is None:
        message = f"{citation.source} has no page {citation.page} any more: it changed since it was ingested."
        return replace(passage, download=path, message=message)
    return _window(citation, where, lines, path, context_lines)


def read_source(path: Path, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (already resolved: a symlink put there meanwhile is refused)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file")
        if info.st_size > max_bytes:
            raise LoadError(f"{info.st_size / 2**20:.0f} MB, too large to preview")
        return handle.read(max_bytes)


def _page_lines(data: bytes, page: int) -> list[str] | None:
    """The lines of page ``page``'s extracted text (as ingest numbered them), or None if there is no such page."""
    pages = page_texts(data)
    return pages[page - 1].split("\n") if 1 <= page <= len(pages) else None


def _window(citation: Citation, where: str, lines: list[str], path: Path, context_lines: int) -> SourceContext:
    """The lines around the cited span; if the quote is no longer there but elsewhere in the file, around it."""
    message = ""
    if citation.page is not None:  # a PDF: the whole page (the cited lines, for one ingested before pages were)
        start, end, lo, hi = 1, len(lines), 1, len(lines)
        if citation.span_unit != "page":
            start, end = _clip(citation.lines, len(lines))
    else:
        start, end = _clip(citation.lines, len(lines))
        lo, hi = max(1, start - context_lines), min(len(lines), end + context_lines)
    text = "\n".join(lines[lo - 1 : hi])
    if _find(text, citation.quote) is None:
        moved = _find("\n".join(lines), citation.quote)
        if moved is not None:
            whole = "\n".join(lines)
            start = whole.count("\n", 0, moved[0]) + 1
            end = whole.count("\n", 0, moved[1]) + 1
            lo, hi = max(1, start - context_lines), min(len(lines), end + context_lines)
            text = "\n".join(lines[lo - 1 : hi])
            message = f"{citation.source} changed since it was ingested: the quote is now at lines {start}-{end}."
    if _find(text, citation.quote):
        highlight = citation.quote
    else:  # not verbatim in the file (Markdown markup, a changed file): the cited lines; for an old PDF, nothing
        highlight = "" if citation.span_unit == "page" else "\n".join(lines[start - 1 : end])
    if len(text) > MAX_CONTEXT_CHARS:
        text, lo, hi = _cut(text, highlight, lo)
    return SourceContext(where, text, highlight, (lo, hi), path, message)


def _clip(span: tuple[int, int], count: int) -> tuple[int, int]:
    start = min(max(1, span[0]), max(1, count))
    return start, min(max(start, span[1]), max(1, count))


def _find(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of ``quote`` in ``text``, any run of whitespace matching any other."""
    words = quote.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(word) for word in words), text)
    return (match.start(), match.end()) if match else None


def _cut(text: str, highlight: str, first_line: int) -> tuple[str, int, int]:
    """At most MAX_CONTEXT_CHARS of ``text`` (whose first line is ``first_line``), centred on ``highlight``."""
    found = _find(text, highlight)
    middle = (found[0] + found[1]) // 2 if found else 0
    begin = max(0, min(middle - MAX_CONTEXT_CHARS // 2, len(text) - MAX_CONTEXT_CHARS))
    cut = text[begin : begin + MAX_CONTEXT_CHARS]
    lo = first_line + text.count("\n", 0, begin)
    return cut, lo, lo + cut.count("\n")
