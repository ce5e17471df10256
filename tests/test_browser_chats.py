"""Saved chats in a real browser: ``docchat ui`` in a subprocess, Debian's chromium via Playwright (as test_browser.py).

Ask, give the answer a thumbs down, reload the page: the chat is in the sidebar and in the main area. Restart the
server: the chat's URL reopens it and it continues. Two browser contexts asking at the same time keep their chats
apart, in the page and in the chat database.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docchat.app.chats.store import ChatStore
from docchat.components.embedding import Embedder
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, FSP, clean_environ, free_port, seed_model
from tests.test_browser import ANSWER_TIMEOUT, CHROMIUM, CHROMIUM_ARGS, START_TIMEOUT, ask, idle, wait_healthy

COLLAB = "Which government agency built Collab?"
PERU = "What is the capital of Peru?"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (run: make browser)"),
]


class UiServer:
    """``docchat ui`` over ``data_dir`` on a fixed port, which can be stopped and started again."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root, self.data_dir, self.port = root, data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = root / "ui.log"

    def start(self) -> None:
        env = clean_environ()
        env["DOCCHAT_DATA_DIR"] = str(self.data_dir)
        docchat = Path(sys.executable).with_name("docchat")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(docchat), "ui", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_healthy(self.url, self.process, self.log)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder) -> Iterator[UiServer]:
    root = tmp_path_factory.mktemp("browser-chats")
    data_dir = seed_model(root / "data", model_cache, embedder)
    report = ingest_paths(Settings(data_dir=data_dir, collection="default"), [CORPUS], embedder=embedder)
    assert report.added == 1
    ui = UiServer(root, data_dir)
    ui.start()
    try:
        yield ui
    finally:
        ui.stop()
    assert "Traceback" not in ui.log.read_text(), ui.log.read_text()[-3000:]


@pytest.fixture
def browser(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def chat_in_url(page) -> str:
    """The chat id the page put into its URL (``?chat=ID``), waiting for it."""
    deadline = time.monotonic() + 30
    while "chat=" not in page.url:
        assert time.monotonic() < deadline, page.url
        page.wait_for_timeout(200)
    return page.url.split("chat=", 1)[1].split("&")[0]


def send(page, question: str) -> None:
    from playwright.sync_api import expect

    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_editable(timeout=START_TIMEOUT * 1000)
    box.fill(question)
    box.press("Enter")


def expect_chat(page, question: str) -> None:
    """The page shows the saved chat that starts with ``question``: in the main area and in the sidebar list."""
    from playwright.sync_api import expect

    try:
        messages = page.get_by_test_id("stChatMessage")  # the sidebar has none
        expect(messages.filter(has_text=question)).to_have_count(1, timeout=START_TIMEOUT * 1000)
        expect(messages.get_by_test_id("stExpander").filter(has_text="Sources")).to_have_count(1)
        expect(page.get_by_test_id("stSidebar").get_by_role("button", name=question)).to_be_visible()
    except AssertionError as error:
        raise AssertionError(f"{error}\n{page.url}\n{page.locator('body').inner_text()[:3000]}") from None


def test_chat_survives_reload_and_restart_and_sessions_stay_apart(server: UiServer, browser) -> None:
    from playwright.sync_api import expect

    store = ChatStore(Settings(data_dir=server.data_dir).chats_path)
    first = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    first.goto(server.url)
    reply, _sources = ask(first, COLLAB)
    chat_id = chat_in_url(first)
    assert [t.question for t in store.get(chat_id).turns] == [COLLAB]

    reply = first.get_by_test_id("stChatMessage").last  # the page was drawn again once the turn was saved
    reply.get_by_test_id("stFeedback").get_by_role("radio", name="Thumbs down").click()
    comment = reply.get_by_label("Comment (optional)")
    expect(comment).to_be_visible(timeout=START_TIMEOUT * 1000)
    comment.fill("Name the agency in full")
    comment.press("Enter")
    deadline = time.monotonic() + 30
    while (store.get(chat_id).turns[0].rating, store.get(chat_id).turns[0].comment) != (
        "down", "Name the agency in full"
    ):  # fmt: skip
        assert time.monotonic() < deadline, "the feedback was not saved"
        time.sleep(0.3)
    idle(first)

    first.reload()  # a browser refresh loses nothing
    expect_chat(first, COLLAB)
    idle(first)

    server.stop()  # a server restart loses nothing either
    server.start()
    first.goto(f"{server.url}/?chat={chat_id}")
    expect_chat(first, COLLAB)

    # a second browser session, asking at the same time as the first: neither sees the other's turns
    second = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    second.goto(server.url)
    expect(second.get_by_test_id("stChatInputTextArea")).to_be_editable(timeout=START_TIMEOUT * 1000)
    assert second.get_by_test_id("stChatMessage").count() == 0  # a new chat
    send(first, "Is it still in use?")
    send(second, PERU)
    for page, text in ((second, "The documents do not cover this."), (first, "Is it still in use?")):
        expect(page.get_by_text(text).first).to_be_visible(timeout=ANSWER_TIMEOUT * 1000)
    idle(second)
    idle(first)
    other_id = chat_in_url(second)
    assert other_id != chat_id
    deadline = time.monotonic() + ANSWER_TIMEOUT  # the first page may still be answering (one model, two askers)
    while len(store.get(chat_id).turns) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert [t.question for t in store.get(chat_id).turns] == [COLLAB, "Is it still in use?"]
    assert [t.question for t in store.get(other_id).turns] == [PERU]
    shown = " ".join(second.get_by_test_id("stChatMessage").all_inner_texts())
    assert PERU in shown and COLLAB not in shown and "Is it still in use?" not in shown
    assert PERU not in " ".join(first.get_by_test_id("stChatMessage").all_inner_texts())


def test_add_folder_ingests_in_the_background_while_the_chat_answers(
    server: UiServer, browser, tmp_path: Path, embedder: Embedder
) -> None:
    """ "Add folder" in the sidebar starts an ingest in the background: a progress bar shows it, the chat answers
    a question meanwhile, and when it ends the bar gives way to its summary and the new collection is chosen."""
    from playwright.sync_api import expect

    folder = tmp_path / "web"
    shutil.copytree(FSP / "content" / "pages" / "04-web-development", folder)
    files = len(list(folder.glob("*.markdown")))
    page = browser.new_context(viewport={"width": 1280, "height": 1400}).new_page()
    page.goto(server.url)
    sidebar = page.get_by_test_id("stSidebar")
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_editable(timeout=START_TIMEOUT * 1000)
    sidebar.get_by_test_id("stExpander").filter(has_text="Add documents").locator("summary").click()
    for label, value in (("Into collection", "web-pages"), ("Or a folder on the server", str(folder))):
        box = sidebar.get_by_role("textbox", name=label)
        box.fill(value)
        box.press("Enter")
        idle(page)
    sidebar.get_by_role("button", name="Add folder").click()
    progress = sidebar.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=START_TIMEOUT * 1000)  # the page is not blocked by the ingest

    reply, _sources = ask(page, COLLAB)  # the chat answers while the ingest runs
    assert "CFPB" in reply.inner_text() or "Consumer Financial Protection Bureau" in reply.inner_text()

    summary = sidebar.get_by_text(f"web-pages: {files} files seen, {files} added", exact=False)
    expect(summary).to_be_attached(timeout=ANSWER_TIMEOUT * 1000)  # in the "Add documents" expander
    expect(progress).to_have_count(0)
    expect(sidebar.get_by_role("combobox", name="Collection")).to_have_value("web-pages")  # the new one is chosen
    report = ingest_paths(Settings(data_dir=server.data_dir, collection="web-pages"), [folder], embedder=embedder)
    assert report.unchanged == files  # everything was stored by the UI's ingest
