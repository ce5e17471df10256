"""PDF: pypdf extracts the text page by page; a block's span is in pages."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from docchat.ingest.document import Block, LoadedDocument, LoadError


def load_pdf(data: bytes, fallback_title: str) -> LoadedDocument:
    """Read a PDF's pages into blocks (one per page); encrypted or broken PDFs raise LoadError.

    Parses ``data`` (the bytes already read and hashed), not the path: the file may change or vanish meanwhile.
    """
    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.CRITICAL)  # damage is reported as the LoadError reason, not as stray log lines
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF (needs a password); decrypt it first")
        blocks = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                blocks.append(Block(text, (f"Page {number}",), number, number))
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise LoadError(f"unreadable PDF ({type(error).__name__}: {str(error)[:80]})") from error
    except Exception as error:  # pypdf raises assorted errors on damaged files
        raise LoadError(f"damaged PDF ({type(error).__name__})") from error
    finally:
        pypdf_log.setLevel(level)
    if not blocks:
        raise LoadError("PDF has no extractable text (scanned images need OCR first)")
    return LoadedDocument(title=title or fallback_title, blocks=blocks, format="pdf", span_unit="page")
