"""Turn one file into a LoadedDocument, or a one-line reason why it cannot be ingested."""

from __future__ import annotations

from pathlib import Path

from docchat.ingest.document import LoadedDocument, LoadError
from docchat.ingest.loaders.html import load_html, looks_like_html
from docchat.ingest.loaders.markdown import load_markdown
from docchat.ingest.loaders.pdf import load_pdf
from docchat.ingest.loaders.rst import load_rst
from docchat.ingest.loaders.text import load_text

TEXT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
                 ".rst": "rst", ".html": "html", ".htm": "html"}  # fmt: skip
SUPPORTED_SUFFIXES = frozenset({*TEXT_SUFFIXES, ".pdf"})


def is_supported(path: Path) -> bool:
    """True for the file types docchat can ingest."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def fallback_title(path: Path) -> str:
    """A readable title from a file name: ``09-sanic.markdown`` -> ``09 sanic``."""
    return path.stem.replace("-", " ").replace("_", " ").strip() or path.name


def load_file(path: Path, data: bytes) -> LoadedDocument:
    """Parse ``data`` (the bytes of ``path``) with the loader for its type; raise LoadError with a reason."""
    suffix = path.suffix.lower()
    title = fallback_title(path)
    if not data.strip():
        raise LoadError("empty file")
    if suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise LoadError("not a PDF (no %PDF header)")
        document = load_pdf(data, title)
    else:
        text = decode_text(data)
        kind = TEXT_SUFFIXES.get(suffix)
        try:
            if kind == "markdown":
                document = load_markdown(text, title)
            elif kind == "html" or (kind == "text" and looks_like_html(text)):
                document = load_html(text, title)
            elif kind == "rst":
                document = load_rst(text, title)
            elif kind == "text":
                document = load_text(text, title)
            else:
                raise LoadError(f"unsupported file type {suffix or '(none)'}")
        except RecursionError as error:
            raise LoadError("markup nested too deeply to parse") from error
    if not any(block.text.strip() for block in document.blocks):
        raise LoadError("no readable text")
    return document


def decode_text(data: bytes) -> str:
    """Decode UTF-8 text (BOM allowed); binary data or other encodings raise LoadError."""
    head = data[:8192]
    if b"\x00" in head:
        raise LoadError("binary file (NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        controls = sum(byte < 9 or 13 < byte < 32 for byte in head)
        if controls > len(head) * 0.05:
            raise LoadError("binary file, not text") from error
        raise LoadError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8"
        ) from error
    return text.replace("\r\n", "\n").replace("\r", "\n")
