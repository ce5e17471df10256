"""The source preview: ``docchat.app.sources.source_context`` on real files, and the page's "Show in context"
popover run by Streamlit's AppTest over a real store, the real embedder and real SmolLM2."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from docchat.app.schema import Citation
from docchat.app.sources import CONTEXT_LINES, source_context, source_file
from docchat.app.ui.preview import PREVIEW_LABEL
from docchat.components.embedding import Embedder
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import seed_model
from tests.test_browser import CHROMIUM, page, ui_url  # noqa: F401  (fixtures)
from tests.test_browser import ask as browser_ask
from tests.test_pdf_pages import FACT, FACT_LINE, QUESTION, page_lines, zorblax_pdf
from tests.test_ui import ask, page_env, texts, unescape  # noqa: F401  (page_env is a fixture)

QUOTE = "The festival poster once printed <script>window.__pwned=1</script> by mistake."
LLAMAS = f"""Notes from the highlands, gathered over many years of travel.

The Andean llama grooming festival is held every April in the town of Puno, beside Lake Titicaca.
Herders brush their llamas and decorate them with coloured tassels.
{QUOTE}
<img src=x onerror="window.__pwned=1">

Other notes follow on other subjects.
"""
LLAMA_QUESTION = "When and where is the Andean llama grooming festival held?"


def numbered(count: int, special: dict[int, str]) -> str:
    return "\n".join(special.get(i, f"Filler line number {i} about nothing at all.") for i in range(1, count + 1))


def cite(root: Path | str, source: str, lines: tuple[int, int], quote: str, **fields) -> Citation:
    return Citation(1, source, source, "", lines, quote, fields.pop("passage", quote), root=str(root), **fields)


# -- the library function -------------------------------------------------------------------------------------


def test_context_is_a_window_of_lines_around_the_span_with_the_quote(tmp_path: Path) -> None:
    quote = "Line forty says <b>bold</b> things."
    (tmp_path / "notes.txt").write_text(numbered(100, {40: quote}) + "\n", encoding="utf-8")
    context = source_context(cite(tmp_path, "notes.txt", (40, 40), quote))
    assert context.lines == (40 - CONTEXT_LINES, 40 + CONTEXT_LINES)
    shown = context.text.split("\n")
    assert shown[CONTEXT_LINES] == quote and len(shown) == 2 * CONTEXT_LINES + 1
    assert shown[0] == "Filler line number 32 about nothing at all."
    assert context.highlight == quote and not context.message
    assert context.download == (tmp_path / "notes.txt").resolve()
    assert context.location == "notes.txt, line 40"


def test_quote_not_verbatim_in_the_file_highlights_the_cited_lines(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text("# Guide\n\nInstall it with **pip** and\nthen run it.\n", encoding="utf-8")
    context = source_context(cite(tmp_path, "guide.md", (3, 4), "Install it with pip and then run it."))
    assert context.highlight == "Install it with **pip** and\nthen run it."
    assert context.lines == (1, 5) and not context.message


def test_a_moved_quote_is_found_and_said(tmp_path: Path) -> None:
    quote = "The moved sentence is unique."
    (tmp_path / "a.txt").write_text(numbered(60, {50: quote}), encoding="utf-8")
    context = source_context(cite(tmp_path, "a.txt", (10, 10), quote))
    assert quote in context.text and context.lines == (50 - CONTEXT_LINES, 50 + CONTEXT_LINES)
    assert "changed since it was ingested" in context.message and "lines 50-50" in context.message


def test_pdf_context_is_the_page_text(tmp_path: Path) -> None:
    data = zorblax_pdf()
    (tmp_path / "harbour.pdf").write_bytes(data)
    context = source_context(cite(tmp_path, "harbour.pdf", (FACT_LINE, FACT_LINE), FACT, page=2))
    assert context.text == "\n".join(page_lines(data, 2)) and context.lines == (1, 40)
    assert context.highlight == FACT and context.download == (tmp_path / "harbour.pdf").resolve()
    assert context.location == f"harbour.pdf, p. 2, line {FACT_LINE}"
    # ingested before pages were recorded: span unit "page", its lines are pages; still the page's text
    old = source_context(cite(tmp_path, "harbour.pdf", (2, 2), FACT, page=2, span_unit="page"))
    assert old.text == context.text and old.highlight == FACT and old.location == "harbour.pdf, p. 2"
    gone = source_context(cite(tmp_path, "harbour.pdf", (1, 1), FACT, page=9))
    assert gone.lines is None and "no page 9" in gone.message and gone.download is not None


def test_a_file_outside_the_root_is_never_read_or_offered(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret contents\n", encoding="utf-8")
    os.symlink(outside / "secret.txt", root / "link.txt")
    (root / "inner").mkdir()
    os.symlink(outside, root / "inner" / "door")
    for source in ("link.txt", "../outside/secret.txt", str(outside / "secret.txt"), "inner/door/secret.txt"):
        context = source_context(cite(root, source, (1, 1), "the passage as ingested"))
        assert context.download is None and context.lines is None, source
        assert context.text == "the passage as ingested" and "top secret" not in context.text
        assert "outside the folder" in context.message, source
        assert source_file(str(root), source)[0] is None


def test_a_missing_file_or_unrecorded_root_gives_a_message(tmp_path: Path) -> None:
    missing = source_context(cite(tmp_path, "gone.md", (3, 4), "what was said"))
    assert missing.download is None and missing.text == "what was said"
    assert "moved or deleted" in missing.message
    unknown = source_context(cite("", "a.md", (1, 1), "q"))
    assert unknown.download is None and "not recorded" in unknown.message
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01binary")
    unreadable = source_context(cite(tmp_path, "bad.txt", (1, 1), "q"))
    assert unreadable.lines is None and "cannot be read" in unreadable.message
    assert unreadable.download == (tmp_path / "bad.txt").resolve()  # still the ingested file itself


# -- the page --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preview_store(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder) -> Path:
    """A data dir whose ``default`` collection holds llamas.txt (with HTML in it) and a three-page PDF."""
    data_dir = seed_model(tmp_path_factory.mktemp("preview-store"), model_cache, embedder)
    docs = tmp_path_factory.mktemp("preview-docs")
    (docs / "llamas.txt").write_text(LLAMAS, encoding="utf-8")
    (docs / "harbour.pdf").write_bytes(zorblax_pdf())
    report = ingest_paths(Settings(data_dir=data_dir, collection="default"), [docs], embedder=embedder)
    assert not report.skipped and report.added == 2
    return data_dir


@pytest.fixture(autouse=True, scope="module")
def _free_engines():
    yield
    import streamlit as st

    st.cache_resource.clear()


def popovers(node) -> list:
    """The "Show in context" popovers under an AppTest node."""
    found = [node] if getattr(node, "type", None) == "popover" else []
    for child in getattr(node, "children", {}).values():
        found += popovers(child)
    return found


def open_preview(app: AppTest, source: str):
    """Open the preview of the first citation of ``source`` in the last answer; return its popover."""
    sources = [e for e in app.chat_message[-1].expander if e.label == "Sources"]
    assert sources, texts(app.chat_message[-1])
    boxes = [box for box in sources[0].children.values() if source in texts(box)]
    assert boxes, texts(sources[0])
    (popover,) = popovers(boxes[0])
    assert popover.proto.popover.label == PREVIEW_LABEL and not popover.children  # closed: nothing read yet
    key = popover.proto.popover.id.split("-", 2)[2]
    app.session_state[key] = True
    app.run()
    assert not app.exception, app.exception
    sources = [e for e in app.chat_message[-1].expander if e.label == "Sources"]
    boxes = [box for box in sources[0].children.values() if source in texts(box)]
    (popover,) = popovers(boxes[0])
    return popover


@pytest.mark.slow
def test_preview_shows_the_quote_in_its_file_with_html_inert(page_env, preview_store: Path) -> None:  # noqa: F811
    app = ask(page_env(preview_store, llm_refusal="quote"), LLAMA_QUESTION)
    popover = open_preview(app, "llamas.txt")
    raw = "\n".join(element.value for element in popover.markdown)
    shown = texts(popover)
    assert "llamas.txt, lines" in shown and "Lines 1-" in shown
    assert "Notes from the highlands" in shown and "Other notes follow" in shown  # the file around the passage
    assert ":orange-background[" in raw, raw  # the quote is highlighted
    assert "\\<script\\>" in raw and not re.search(r"(?<!\\)<", raw), raw  # document markup is escaped ...
    assert '<img src=x onerror="window.__pwned=1">' in shown  # ... and shown literally
    downloads = popover.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download llamas.txt"]


@pytest.mark.slow
def test_pdf_citation_shows_its_page_and_the_page_text(page_env, preview_store: Path) -> None:  # noqa: F811
    app = ask(page_env(preview_store, llm_refusal="quote"), QUESTION)
    sources = [e for e in app.chat_message[-1].expander if e.label == "Sources"]
    assert sources and "harbour.pdf, p. 2, lines" in texts(sources[0]), texts(app.chat_message[-1])
    popover = open_preview(app, "harbour.pdf")
    shown = texts(popover)
    assert "The extracted text of page 2" in shown
    assert "Ledger 2.0:" in shown and "Ledger 2.39:" in shown and "Ledger 1." not in shown  # page 2, all of it
    raw = "\n".join(element.value for element in popover.markdown)
    assert ":orange-background[" in raw and "Quillfeather" in raw


# -- the real page in a real browser ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (run: make browser)")
def test_browser_opens_a_preview_with_the_quote_highlighted_and_markup_inert(ui_url: str, page) -> None:  # noqa: F811
    """``docchat ui`` over the default corpus plus evil.md (tests/test_browser.py), driven by chromium."""
    from playwright.sync_api import expect

    page.goto(ui_url)
    _, sources = browser_ask(page, "When and where is the Andean llama grooming festival held?")
    sources.locator("summary").click()
    cited = (
        sources.get_by_test_id("stLayoutWrapper")
        .filter(has_text="evil.md")
        .filter(has=page.get_by_test_id("stPopoverButton"))
    )
    button = cited.last.get_by_test_id("stPopoverButton")
    button.click()
    body = page.get_by_test_id("stPopoverBody")
    try:
        expect(body).to_have_count(1, timeout=15_000)
    except AssertionError:
        # CI once saw the popover stay shut after the click, and so did one run here with the wait in ask() (cause
        # not pinned; the six runs after it opened at once). A click the page never registered (the button not
        # expanded) is clicked again; a popover that says it is open but shows nothing is not, and fails below.
        if button.get_attribute("aria-expanded") != "true":
            button.click()
    expect(body.get_by_text("Download evil.md")).to_be_visible(timeout=60_000)
    expect(body.locator(".stMarkdownColoredBackground").first).to_be_visible()  # the quote, highlighted
    shown = body.inner_text()
    assert "evil.md, lines" in shown and "Lines " in shown, shown
    assert "<script>window.__pwned=1</script>" in shown, shown  # the file's markup, as text
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert body.locator("script, img").count() == 0
