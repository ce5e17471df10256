"""PDF: pypdf extracts the text page by page; each page's paragraphs are blocks, with their page number and
their line span within the page's extracted text (what ``page_texts`` returns, and the source preview shows)."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from docchat.ingest.document import Block, LoadedDocument, LoadError
from docchat.ingest.loaders.text import load_text


def load_pdf(data: bytes, fallback_title: str) -> LoadedDocument:
    """Read a PDF's pages into blocks (its paragraphs, under the heading ``Page N``); encrypted or broken PDFs
    raise LoadError.

    Parses ``data`` (the bytes already read and hashed), not the path: the file may change or vanish meanwhile.
    """
    pages, title = _read(data)
    blocks = [
        Block(block.text, (f"Page {number}",), block.start_line, block.end_line, page=number)
        for number, text in enumerate(pages, start=1)
        for block in load_text(text, "").blocks
    ]
    if not blocks:
        raise LoadError("PDF has no extractable text (scanned images need OCR first)")
    return LoadedDocument(title=title or fallback_title, blocks=blocks, format="pdf")


def page_texts(data: bytes) -> list[str]:
    """Each page's extracted text (stripped; "" for a page without text): line numbers of PDF citations count
    the lines of these texts. Raises LoadError for an unreadable PDF."""
    return _read(data)[0]


def _read(data: bytes) -> tuple[list[str], str]:
    """(the pages' texts, the document's title or "")."""
    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.CRITICAL)  # damage is reported as the LoadError reason, not as stray log lines
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (needs a password); decrypt it first")
        pages = [_clean(page.extract_text() or "") for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise LoadError(f"unreadable PDF ({type(error).__name__}: {str(error)[:80]})") from error
    except Exception as error:  # pypdf raises assorted errors on damaged files
        raise LoadError(f"damaged PDF ({type(error).__name__})") from error
    finally:
        pypdf_log.setLevel(level)
    return pages, title


def _clean(text: str) -> str:
    """A page's text with one kind of line break, stripped."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()
