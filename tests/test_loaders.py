"""Loaders, one per format: title, heading path and source span of every block (issue #2).

The unit tests call ``docchat.ingest.loaders.load_file`` on bytes; the last test ingests a folder holding
every format through ``docchat.ingest.pipeline.ingest_paths`` (real model, real Chroma) and reads the
stored metadata back.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from docchat.components.embedding import Embedder
from docchat.components.store import open_client, open_collection
from docchat.core.settings import Settings
from docchat.ingest.document import LoadedDocument, LoadError
from docchat.ingest.loaders import load_file
from docchat.ingest.pipeline import ingest_paths


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF (no PDF writer library here draws text): Helvetica text, one line per line of each
    page's string (lines 14 points apart).

    Objects: 1 catalog, 2 page tree, then a page and its content stream per page, the font, the info
    dictionary; the xref table holds each object's real byte offset.
    """
    font_id = 3 + 2 * len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()]
    for i, text in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 {font_id} 0 R >> >> "
            f"/Contents {4 + 2 * i} 0 R >>".encode()
        )
        lines = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in text.split("\n")]
        leading = " 14 TL" if len(lines) > 1 else ""
        stream = f"BT /F1 12 Tf{leading} 72 720 Td {' T* '.join(f'({line}) Tj' for line in lines)} ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = ""
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
        info = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def blocks_of(document: LoadedDocument) -> list[tuple[str, tuple[str, ...], int, int]]:
    return [(block.text, block.headings, block.start_line, block.end_line) for block in document.blocks]


def test_markdown_yaml_front_matter_gives_title_and_keeps_line_numbers() -> None:
    text = (
        "---\n"
        "title: YAML Title\n"
        "tags: [a, b]\n"
        "---\n"
        "\n"
        "# Heading One\n"
        "\n"
        "Para one with a [link](https://example.com/x) and `code`.\n"
        "\n"
        "## Sub\n"
        "\n"
        "Para two.\n"
    )
    document = load_file(Path("notes.md"), text.encode())
    assert document.title == "YAML Title"
    assert document.format == "markdown"
    assert document.metadata["title"] == "YAML Title" and "tags" in document.metadata
    assert blocks_of(document) == [
        ("Para one with a link and code.", ("Heading One",), 8, 8),  # link text kept, URL dropped
        ("Para two.", ("Sub",), 12, 12),
    ]


def test_markdown_pelican_front_matter_gives_title() -> None:
    text = "title: Pelican Title\ncategory: page\nslug: pel\n\nBody text here.\n\n## Part\n\nMore.\n"
    document = load_file(Path("09-page.markdown"), text.encode())
    assert document.title == "Pelican Title"
    assert document.metadata["category"] == "page"
    assert blocks_of(document) == [("Body text here.", (), 5, 5), ("More.", ("Part",), 9, 9)]


def test_markdown_prose_with_colon_is_not_front_matter() -> None:
    document = load_file(Path("note.md"), b"Note: this is prose.\n\n# Real Title\n\nText.\n")
    assert document.title == "Real Title"
    assert document.metadata == {}
    assert blocks_of(document)[0] == ("Note: this is prose.", (), 1, 1)


def test_markdown_without_title_falls_back_to_file_name() -> None:
    document = load_file(Path("09-sanic-notes.md"), b"Just a paragraph.\n")
    assert document.title == "09 sanic notes"


def test_restructuredtext_sections_form_the_heading_path() -> None:
    text = (
        "=========\n"
        "Doc Title\n"
        "=========\n"
        "\n"
        "Intro paragraph with *emphasis*.\n"
        "\n"
        "Installation\n"
        "============\n"
        "\n"
        "Run ``pip install docchat`` first.\n"
        "\n"
        "Details\n"
        "-------\n"
        "\n"
        "A deeper paragraph\n"
        "spanning two lines.\n"
        "\n"
        "Usage\n"
        "=====\n"
        "\n"
        "- item one\n"
        "- item two\n"
    )
    document = load_file(Path("guide.rst"), text.encode())
    assert document.title == "Doc Title"
    assert document.format == "rst"
    assert blocks_of(document) == [
        ("Intro paragraph with emphasis.", (), 5, 5),
        ("Run pip install docchat first.", ("Installation",), 10, 10),
        ("A deeper paragraph\nspanning two lines.", ("Installation", "Details"), 15, 16),
        ("item one", ("Usage",), 21, 21),
        ("item two", ("Usage",), 22, 22),
    ]


def test_restructuredtext_lone_subsection_keeps_its_heading() -> None:
    """docutils turns a lone sub-section into the document subtitle; its text must still carry that heading."""
    text = "Guide\n=====\n\nSection\n-------\n\nBody text.\n\nSub\n~~~\n\nDeep text.\n"
    document = load_file(Path("guide.rst"), text.encode())
    assert document.title == "Guide"
    assert blocks_of(document) == [("Body text.", ("Section",), 7, 7), ("Deep text.", ("Section", "Sub"), 12, 12)]


HTML_PAGE = """<!DOCTYPE html>
<html>
<head><title>Page Title</title>
<style>p { color: red; }</style></head>
<body>
<h1>Main Heading</h1>
<p>First paragraph
across two lines.</p>
<h2>Section A</h2>
<ul>
  <li>Item one</li>
  <li>Item <b>two</b></li>
</ul>
<script>var hidden = "do not index";</script>
<h3>Deeper</h3>
<p>Deep text.</p>
</body>
</html>
"""


def test_html_file_blocks_headings_and_lines() -> None:
    document = load_file(Path("page.html"), HTML_PAGE.encode())
    assert document.title == "Page Title"
    assert document.format == "html"
    assert blocks_of(document) == [
        ("First paragraph across two lines.", ("Main Heading",), 7, 8),
        ("Item one", ("Section A",), 11, 11),
        ("Item two", ("Section A",), 12, 12),
        ("Deep text.", ("Section A", "Deeper"), 16, 16),
    ]
    assert not any("hidden" in text or "color" in text for text, *_ in blocks_of(document))


def test_txt_holding_html_is_parsed_as_html() -> None:
    document = load_file(Path("page.txt"), HTML_PAGE.encode())
    assert document.format == "html"
    assert blocks_of(document) == blocks_of(load_file(Path("page.html"), HTML_PAGE.encode()))
    assert all("<" not in text for text, *_ in blocks_of(document))


def test_txt_with_markdown_title_line_and_html_body() -> None:
    """The seed corpus file: a ``# Title`` line, then HTML."""
    text = "# Seed Title\n<h2>Part</h2>\n<p>One.</p>\n<p>Two.</p>\n"
    document = load_file(Path("seed.txt"), text.encode())
    assert document.title == "Seed Title"
    assert blocks_of(document) == [("One.", ("Part",), 3, 3), ("Two.", ("Part",), 4, 4)]


def test_plain_text_paragraphs_keep_line_numbers() -> None:
    document = load_file(Path("plain.txt"), b"\r\nfirst para\r\nstill first\r\n\r\n\r\nsecond para\r\n")
    assert document.format == "text"
    assert blocks_of(document) == [("first para\nstill first", (), 2, 3), ("second para", (), 6, 6)]


def test_utf8_bom_is_accepted() -> None:
    document = load_file(Path("bom.md"), "\ufeff# Titre\n\nCafé crème.\n".encode())
    assert document.title == "Titre"
    assert blocks_of(document) == [("Café crème.", ("Titre",), 3, 3)]


def test_generated_pdf_is_valid_for_pypdf_in_strict_mode() -> None:
    """Guards the hand-written PDF itself, so the loader tests below test the loader."""
    reader = PdfReader(io.BytesIO(make_pdf(["alpha beta", "gamma"], title="T")), strict=True)
    assert [page.extract_text() for page in reader.pages] == ["alpha beta", "gamma"]


def test_pdf_pages_become_blocks_with_their_page_and_lines_within_it() -> None:
    data = make_pdf(["Flask is a micro web framework (page one).", "Django ships an ORM\non page two."], "Tiny Guide")
    document = load_file(Path("guide.pdf"), data)
    assert document.title == "Tiny Guide"
    assert (document.format, document.span_unit) == ("pdf", "line")
    assert blocks_of(document) == [
        ("Flask is a micro web framework (page one).", ("Page 1",), 1, 1),
        ("Django ships an ORM\non page two.", ("Page 2",), 1, 2),
    ]
    assert [block.page for block in document.blocks] == [1, 2]


def test_pdf_is_parsed_from_the_bytes_read_not_reopened_from_the_path(tmp_path: Path) -> None:
    """The pipeline hashes the bytes it read; the loader must parse those bytes (the file may be gone)."""
    document = load_file(tmp_path / "gone.pdf", make_pdf(["still here"]))
    assert document.title == "gone"
    assert blocks_of(document) == [("still here", ("Page 1",), 1, 1)]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"  \n\n\t\n", "empty file"),
        ("nul.txt", b"hello\x00\x01\x02world", "binary"),
        ("random.txt", bytes(range(1, 9)) * 200 + b"\xff\xfe", "binary"),
        ("latin1.md", "Café au lait.\n".encode("latin-1"), "not valid UTF-8"),
        ("garbage.pdf", b"this is not a pdf at all", "not a PDF"),
        ("truncated.pdf", make_pdf(["some text"])[:300], "PDF"),
        ("header-only.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8, "PDF"),
        ("no-text.pdf", make_pdf([""]), "no extractable text"),
        ("only-markup.html", b"<html><body><script>x()</script></body></html>", "no readable text"),
    ],
)
def test_bad_input_raises_one_line_reason(
    name: str, data: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(LoadError) as raised:
        load_file(Path(name), data)
    message = str(raised.value)
    assert reason in message
    assert message and "\n" not in message and len(message) < 200
    assert not [record for record in caplog.records if record.name.startswith("pypdf")]  # no stray log lines


def test_every_format_through_the_pipeline(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "yaml.md").write_text("---\ntitle: YAML Title\n---\n\n## Setup\n\nInstall the package with pip.\n")
    (root / "pelican.markdown").write_text("title: Pelican Title\ncategory: page\n\n## Intro\n\nPelican body.\n")
    (root / "guide.rst").write_text("Guide\n=====\n\nSection\n-------\n\nRestructured body text.\n")
    (root / "page.html").write_text(HTML_PAGE)
    (root / "page-in.txt").write_text(HTML_PAGE)
    (root / "doc.pdf").write_bytes(make_pdf(["PDF page one text.", "PDF page two text."], "PDF Title"))

    report = ingest_paths(settings, [root], embedder=embedder)
    assert report.skipped == []
    assert report.added == 6

    collection = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    got = collection.get(include=["documents", "metadatas"])
    rows = {
        (meta["source"], doc): (meta["title"], meta["heading"], meta["start_line"], meta["end_line"], meta["format"])
        for doc, meta in zip(got["documents"], got["metadatas"], strict=True)
    }
    spans = {meta["source"]: meta["span_unit"] for meta in got["metadatas"]}
    pages = {
        (meta["source"], doc): meta.get("page") for doc, meta in zip(got["documents"], got["metadatas"], strict=True)
    }
    assert rows[("yaml.md", "Install the package with pip.")] == ("YAML Title", "Setup", 7, 7, "markdown")
    assert rows[("pelican.markdown", "Pelican body.")] == ("Pelican Title", "Intro", 6, 6, "markdown")
    assert rows[("guide.rst", "Restructured body text.")] == ("Guide", "Section", 7, 7, "rst")
    assert rows[("doc.pdf", "PDF page two text.")] == ("PDF Title", "Page 2", 1, 1, "pdf")  # line 1 of page 2
    assert pages[("doc.pdf", "PDF page two text.")] == 2 and pages[("guide.rst", "Restructured body text.")] is None
    assert spans["doc.pdf"] == "line" and spans["guide.rst"] == "line"
    for source in ("page.html", "page-in.txt"):
        assert rows[(source, "Deep text.")] == ("Page Title", "Section A > Deeper", 16, 16, "html")


def test_rst_staircase_of_thousands_of_levels_is_refused_in_one_line() -> None:
    """docutils took ~3 GB before giving up on 3,000 nested list levels; such input is refused up front,
    while ordinary nesting still loads."""
    from docchat.ingest.document import LoadError

    staircase = "".join("  " * i + "- item\n\n" for i in range(3_000)).encode()
    with pytest.raises(LoadError, match="nested too deeply"):
        load_file(Path("deep.rst"), staircase)
    shallow = "".join("  " * i + f"- item {i}\n\n" for i in range(5)).encode()
    assert "item 4" in " ".join(block.text for block in load_file(Path("ok.rst"), shallow).blocks)
