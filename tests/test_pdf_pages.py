"""PDF citations carry their page, and a line span within that page's extracted text.

Real PDFs (tests/test_loaders.make_pdf), the real chunker and MiniLM, real Chroma, real SmolLM2 for ``docchat ask``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docchat.app.api.openai_format import citation_out
from docchat.app.engine import Engine
from docchat.app.render import lines_label, source_location
from docchat.app.retrieve import stored_page
from docchat.app.schema import Citation
from docchat.cli.main import app as cli
from docchat.components.embedding import Embedder
from docchat.components.store import open_client, open_collection, update_metadata
from docchat.core.settings import Settings
from docchat.ingest.chunk import Chunker
from docchat.ingest.loaders import load_file
from docchat.ingest.loaders.pdf import page_texts
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import clear_user_settings, isolated_settings, seed_model
from tests.test_loaders import make_pdf

FACT = "The Zorblax lighthouse protocol was designed by Ada Quillfeather in 1987 for the harbour of Port Elsin."
QUESTION = "Who designed the Zorblax lighthouse protocol?"
FRUITS = ("apples", "pears", "plums", "figs", "dates", "limes", "quinces")
FACT_LINE = 26  # the fact's line within page 2


def filler(page: int, count: int) -> list[str]:
    """Distinct ordinary lines, none about lighthouses."""
    return [
        f"Ledger {page}.{i}: the market hall received {i + 3} crates of {FRUITS[i % len(FRUITS)]} on day {i + 1}."
        for i in range(count)
    ]


def zorblax_pdf() -> bytes:
    """Three pages; page 2 has 40 lines (several chunks) and the fact on line FACT_LINE."""
    second = filler(2, 40)
    second[FACT_LINE - 1] = FACT
    return make_pdf(["\n".join(filler(1, 12)), "\n".join(second), "\n".join(filler(3, 8))], title="Harbour Notes")


def page_lines(data: bytes, page: int) -> list[str]:
    return page_texts(data)[page - 1].split("\n")


# -- loader and chunker ---------------------------------------------------------------------------------------


def test_pdf_page_text_keeps_its_lines_and_blocks_count_them() -> None:
    data = zorblax_pdf()
    assert page_lines(data, 2)[FACT_LINE - 1] == FACT  # the hand-made PDF really has one line per line
    document = load_file(Path("harbour.pdf"), data)
    assert document.format == "pdf" and document.span_unit == "line"
    for block in document.blocks:
        assert block.headings == (f"Page {block.page}",)
        assert block.text == "\n".join(page_lines(data, block.page)[block.start_line - 1 : block.end_line])
    assert sorted({block.page for block in document.blocks}) == [1, 2, 3]


def test_pdf_chunks_record_their_page_and_lines_within_it(embedder: Embedder) -> None:
    data = zorblax_pdf()
    chunker = Chunker(embedder.count_tokens, chunk_size=64, chunk_overlap=0, max_tokens=embedder.max_tokens)
    chunks = chunker.chunk("harbour.pdf", load_file(Path("harbour.pdf"), data))
    on_two = [chunk for chunk in chunks if chunk.page == 2]
    assert len(on_two) >= 3, "page 2 is long enough for several chunks"
    for chunk in chunks:
        lines = page_lines(data, chunk.page)
        assert 1 <= chunk.start_line <= chunk.end_line <= len(lines)
        span = "\n".join(lines[chunk.start_line - 1 : chunk.end_line])
        assert chunk.text in span, (chunk.page, chunk.start_line, chunk.end_line)
        assert chunk.metadata()["page"] == chunk.page and chunk.metadata()["span_unit"] == "line"
    fact = next(chunk for chunk in chunks if "Quillfeather" in chunk.text)
    assert fact.page == 2 and fact.start_line <= FACT_LINE <= fact.end_line and fact.start_line > 1
    assert [c.end_line for c in on_two] == sorted(c.end_line for c in on_two) and on_two[-1].end_line == 40


def test_other_formats_store_no_page(embedder: Embedder) -> None:
    chunker = Chunker(embedder.count_tokens, chunk_size=64, chunk_overlap=0, max_tokens=embedder.max_tokens)
    chunks = chunker.chunk("a.md", load_file(Path("a.md"), b"# A\n\nSome text\nover two lines.\n"))
    assert [(c.page, c.start_line, c.end_line) for c in chunks] == [(None, 3, 4)]
    assert "page" not in chunks[0].metadata()


# -- locations -----------------------------------------------------------------------------------------------


def test_one_place_formats_a_location() -> None:
    pdf = Citation(1, "report.pdf", "Report", "Page 12", (3, 7), "q", "q", page=12)
    text = Citation(2, "notes/setup.md", "Setup", "Install", (20, 25), "q", "q")
    old_pdf = Citation(3, "old.pdf", "Old", "Page 4", (4, 4), "q", "q", span_unit="page", page=4)
    assert source_location(pdf) == "report.pdf, p. 12, lines 3-7"
    assert source_location(text) == "notes/setup.md, lines 20-25"
    assert source_location(old_pdf) == "old.pdf, p. 4"
    assert lines_label("line", (5, 5), 2) == "p. 2, line 5"
    assert citation_out(pdf).page == 12 and citation_out(pdf).lines == [3, 7]
    assert citation_out(text).page is None


def test_old_rows_without_a_page_field_read_sensibly() -> None:
    assert stored_page({"span_unit": "page", "start_line": 4, "end_line": 4}) == 4  # ingested before pages
    assert stored_page({"span_unit": "line", "start_line": 3, "end_line": 7, "page": 12}) == 12
    assert stored_page({"span_unit": "line", "start_line": 3, "end_line": 7}) is None


# -- ingest, retrieve, ask ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_store(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder) -> Settings:
    root = tmp_path_factory.mktemp("pdf-corpus")
    (root / "harbour.pdf").write_bytes(zorblax_pdf())
    (root / "other.md").write_text("# Gardens\n\nThe botanical garden opens at nine.\n", encoding="utf-8")
    data = seed_model(tmp_path_factory.mktemp("pdf-pages") / "data", model_cache, embedder)
    settings = isolated_settings(data)
    report = ingest_paths(settings, [root], embedder=embedder)
    assert report.added == 2 and not report.failed
    return settings


def test_ask_json_and_cli_cite_the_page_and_lines_within_it(
    pdf_store: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCCHAT_DATA_DIR", str(pdf_store.store.data_dir))
    monkeypatch.setenv("DOCCHAT_LLM_REFUSAL", "quote")  # a refusal by the small model still cites, as quotes
    runner = CliRunner()
    result = runner.invoke(cli, ["ask", QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not data["abstained"] and data["citations"], data
    lines = page_lines(zorblax_pdf(), 2)
    cited = [c for c in data["citations"] if c["source"] == "harbour.pdf" and "Quillfeather" in c["passage"]]
    assert cited, data["citations"]
    citation = cited[0]
    assert citation["page"] == 2 and citation["span_unit"] == "line"
    start, end = citation["lines"]
    assert 1 < start <= FACT_LINE <= end < len(lines), citation  # a span inside page 2, not the page number
    assert citation["passage"] in "\n".join(lines[start - 1 : end])
    assert " ".join(citation["quote"].split()) in " ".join(" ".join(lines[start - 1 : end]).split())
    assert any(r["page"] == 2 for r in data["retrieved"] if r["source"] == "harbour.pdf")

    result = runner.invoke(cli, ["ask", QUESTION])
    assert result.exit_code == 0, result.output
    assert f"harbour.pdf, p. 2, lines {start}-{end}" in result.stdout, result.stdout


def _make_rows_old_style(settings: Settings, embedder: Embedder, data: bytes) -> int:
    """Rewrite the PDF's rows as an ingest before pages were recorded wrote them: span unit "page", the page
    number as the line span, no ``page`` field, and the file hash and chunker signature of that version."""
    collection = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    got = collection.get(where={"source": "harbour.pdf"}, include=["documents", "metadatas", "embeddings"])
    old_signature = "v2-" + (collection.metadata or {})["chunker"].split("-", 1)[1]
    old_hash = hashlib.sha256(old_signature.encode() + b"\0" + data).hexdigest()[:32]
    metadatas = []
    for meta in got["metadatas"]:
        page = meta["page"]
        old = {key: value for key, value in meta.items() if key != "page"}
        metadatas.append({**old, "span_unit": "page", "start_line": page, "end_line": page, "file_hash": old_hash})
    collection.delete(ids=got["ids"])
    collection.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=metadatas)
    update_metadata(collection, chunker=old_signature)
    return len(got["ids"])


def test_a_collection_ingested_before_pages_still_answers_and_reingest_updates_it(
    tmp_path: Path, model_cache: Path, embedder: Embedder, llm
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    data = zorblax_pdf()
    (root / "harbour.pdf").write_bytes(data)
    settings = isolated_settings(seed_model(tmp_path / "data", model_cache, embedder))
    assert ingest_paths(settings, [root], embedder=embedder).added == 1
    count = _make_rows_old_style(settings, embedder, data)

    passages = Engine(settings, embedder=embedder, llm=llm).retrieve(QUESTION)
    old = next(p for p in passages if "Quillfeather" in p.text)
    assert (old.span_unit, old.page, old.lines) == ("page", 2, (2, 2))
    assert source_location(old) == "harbour.pdf, p. 2"

    report = ingest_paths(settings, [root], embedder=embedder)  # the chunker version changed: re-chunked
    assert report.updated == 1 and report.chunks_written == 0 and report.chunks_reused == count  # nothing re-embedded
    passages = Engine(settings, embedder=embedder, llm=llm).retrieve(QUESTION)
    new = next(p for p in passages if "Quillfeather" in p.text)
    assert new.span_unit == "line" and new.page == 2 and new.start_line <= FACT_LINE <= new.end_line
