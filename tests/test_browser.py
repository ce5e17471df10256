"""The real UI in a real browser: ``docchat ui`` in a subprocess, driven by Debian's chromium via Playwright.

Never downloads a browser: it uses /usr/bin/chromium (``make browser`` installs it) and skips without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from docchat.components.embedding import Embedder
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, clean_environ, free_port, seed_model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
START_TIMEOUT = 180  # seconds for the server to answer its health check
ANSWER_TIMEOUT = 300  # seconds for one answer (SmolLM2 on 2 shared cores)
SCREENSHOT_COPY = Path("/tmp/docchat-ui.png")
EVIL_MD = """# The Andean llama grooming festival

The Andean llama grooming festival is held every April in the town of Puno, beside Lake Titicaca.
Herders brush their llamas and decorate them with coloured tassels, and judges award a prize to the
best-groomed llama of the festival.

The festival poster once printed `<script>window.__pwned=1</script>` by mistake, and the festival
website showed `<img src=x onerror="window.__pwned=1">` instead of a photo of the winning llama.

<script>window.__pwned=1</script>
<img src=x onerror="window.__pwned=1">
"""

SERVER_PIDS: dict[str, int] = {}  # UI url -> the `docchat ui` process


def model_process(parent: int) -> int:
    """The pid of the model process (docchat.components.llm.child) that the UI process ``parent`` started."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"docchat.components.llm.child" in cmdline:
            return int(stat.parent.name)
    raise AssertionError(f"no model process under pid {parent}")


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (run: make browser)"),
]


def wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"docchat ui exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"docchat ui did not start within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def ui_url(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder) -> Iterator[str]:
    """``docchat ui`` over a data dir holding the default corpus plus evil.md, on a free local port."""
    root = tmp_path_factory.mktemp("browser")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "evil.md").write_text(EVIL_MD, encoding="utf-8")
    data_dir = seed_model(root / "data", model_cache, embedder)  # the server need not export the model again
    report = ingest_paths(Settings(data_dir=data_dir, collection="default"), [corpus], embedder=embedder)
    assert not report.skipped and report.added == 2

    port = free_port()
    env = clean_environ()
    env["DOCCHAT_DATA_DIR"] = str(data_dir)
    docchat = Path(sys.executable).with_name("docchat")
    log = root / "ui.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(docchat), "ui", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = server.pid
    try:
        wait_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture
def page(tmp_path: Path):
    """A fresh headless chromium (temporary profile) with one page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1800},  # tall: the screenshot shows the sources too
        )
        try:
            yield browser.pages[0] if browser.pages else browser.new_page()
        finally:
            browser.close()


def ask(page, question: str, *, streamed: bool = False):
    """Type ``question``, send it, and return the assistant message once its answer (with Sources) is shown.

    ``streamed``: also check that the answer streamed in (the typing cursor was seen before the final answer).
    """
    from playwright.sync_api import expect

    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_editable(timeout=START_TIMEOUT * 1000)
    box.fill(question)
    box.press("Enter")
    answers = page.get_by_test_id("stChatMessage").filter(has_not_text=question)
    reply = answers.last
    if streamed:
        expect(reply.get_by_text("▌")).to_be_visible(timeout=ANSWER_TIMEOUT * 1000)
    sources = reply.get_by_test_id("stExpander").filter(has_text="Sources")
    expect(sources).to_be_visible(timeout=ANSWER_TIMEOUT * 1000)
    # The page saves the turn and reruns; only that second run shows the feedback buttons. Wait for them, not
    # only for the running indicator to go, so that a click that follows lands on the page's final elements (a
    # click during the rerun was the suspected cause of a CI run where "Show in context" never opened).
    expect(reply.get_by_role("radiogroup", name="Feedback rating")).to_be_visible(timeout=ANSWER_TIMEOUT * 1000)
    idle(page)
    return reply, sources


def idle(page) -> None:
    """Wait until the script run is over (Streamlit's running indicator is gone) and animations settle."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=ANSWER_TIMEOUT * 1000)
    page.wait_for_timeout(300)


def test_ask_stream_and_see_sources(ui_url: str, page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(ui_url)
    expect(page.get_by_text("Chat with your documents")).to_be_visible(timeout=START_TIMEOUT * 1000)
    expect(page.get_by_test_id("stSidebar").get_by_text("Documents", exact=True)).to_be_visible()
    reply, sources = ask(page, "Which government agency built Collab?", streamed=True)
    expect(reply.get_by_text("[1]").first).to_be_visible()  # inline citation
    expect(reply.get_by_text("▌")).to_have_count(0)  # the checked answer replaced the streamed text
    sources.locator("summary").click()
    expect(sources.get_by_text("full-stack-python.txt").first).to_be_visible()
    expect(sources.get_by_text("relevance").first).to_be_visible()
    highlight = sources.locator(".stMarkdownColoredBackground")
    expect(highlight.first).to_be_visible()  # the supporting quote
    idle(page)
    shot = tmp_path / "docchat-ui.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copy(shot, SCREENSHOT_COPY)


def test_corpus_markup_is_shown_as_text(ui_url: str, page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(ui_url)
    reply, sources = ask(page, "When and where is the Andean llama grooming festival held?")
    sources.locator("summary").click()
    expect(sources.get_by_text("evil.md").first).to_be_visible()
    shown = sources.inner_text()
    assert "<script>window.__pwned=1</script>" in shown, shown
    assert '<img src=x onerror="window.__pwned=1">' in shown, shown
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert reply.locator("script, img[onerror], img[src='x']").count() == 0
    assert page.locator("[data-testid=stMainBlockContainer] img[src='x']").count() == 0
    idle(page)
    page.screenshot(path=str(tmp_path / "docchat-ui-markup.png"), full_page=True)


def test_killing_the_model_mid_answer_never_takes_the_ui_down(ui_url: str, page) -> None:
    """kill -9 the model process while a question is in flight: the chat says so, the server stays up,
    and the next question gets a normal answer with sources. The model is frozen (SIGSTOP) first, so the
    kill lands while that answer is being generated, however fast the model is."""
    import signal

    from playwright.sync_api import expect

    page.goto(ui_url)
    ask(page, "Which government agency built Collab?")  # the model process is up and warm
    model = model_process(SERVER_PIDS[ui_url])
    os.kill(model, signal.SIGSTOP)
    time.sleep(0.5)
    state = Path(f"/proc/{model}/status").read_text().split("State:")[1].split("\n")[0]
    assert "stopped" in state, state
    try:
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill("What does the frontend of an application contain?")
        box.press("Enter")
        expect(page.get_by_text("writing the answer").last).to_be_visible(timeout=ANSWER_TIMEOUT * 1000)
        time.sleep(1.5)  # the caption shows before the request is sent; the frozen model cannot answer meanwhile
    finally:
        os.kill(model, signal.SIGKILL)
    expect(page.get_by_text("The local model stopped (killed by signal 9, SIGKILL); it is restarting")).to_be_visible(
        timeout=ANSWER_TIMEOUT * 1000
    )
    with urllib.request.urlopen(f"{ui_url}/_stcore/health", timeout=5) as response:
        assert response.read().strip() == b"ok"
    _reply, sources = ask(page, "Which government agency built Collab?")
    sources.locator("summary").click()
    expect(sources.get_by_text("full-stack-python.txt").first).to_be_visible()
    assert model_process(SERVER_PIDS[ui_url]) != model
