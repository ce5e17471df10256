"""The Streamlit page, run by streamlit's AppTest over a real store, the real embedder and real SmolLM2.

Plus unit tests of the UI's text helpers, the upload sanitiser and the launcher's command line.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from docchat.app import workspace
from docchat.app.schema import Answer, AnswerSentence, Citation
from docchat.app.ui import PAGE_SCRIPT, answer_markdown, engine_history, escape_markdown, passage_markdown
from docchat.cli.ui import streamlit_command, ui_environment
from docchat.components import embedding
from docchat.components.embedding import Embedder
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, GatedEmbedder, clear_user_settings, free_port, seed_model

TIMEOUT = 240  # seconds for one script run: SmolLM2 on 2 shared cores can take a while
ZOO_DOC = """# Zebras

The Grevy's zebra is the largest living wild equid, standing up to 1.6 metres at the shoulder.
It lives in the dry grasslands of Kenya and Ethiopia and can go five days without drinking water.

## Stripes

Each zebra has a unique stripe pattern, like a human fingerprint.
"""


def unescape(markdown: str) -> str:
    """What an escaped Markdown string reads as."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(block) -> str:
    """All the text of the markdown-ish elements under an AppTest block (or the whole app), unescaped."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        parts += [unescape(str(element.value)) for element in getattr(block, kind)]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder: Embedder) -> Path:
    """A data dir with two collections: ``default`` (./corpus) and ``zoo`` (one page about zebras)."""
    data_dir = seed_model(tmp_path_factory.mktemp("ui-store"), model_cache, embedder)
    zoo = tmp_path_factory.mktemp("zoo-docs")
    (zoo / "zebras.md").write_text(ZOO_DOC, encoding="utf-8")
    for name, folder in (("default", CORPUS), ("zoo", zoo)):
        report = ingest_paths(Settings(data_dir=data_dir, collection=name), [folder], embedder=embedder)
        assert not report.skipped and report.added == 1
    return data_dir


@pytest.fixture(autouse=True, scope="module")
def _free_engines():
    """Drop the engines this module's pages cached (each holds an LLM) once its tests are done."""
    yield
    import streamlit as st

    st.cache_resource.clear()


@pytest.fixture
def page_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run the page with only the DOCCHAT_* variables a test sets (and no docchat.toml)."""
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)

    def use(data_dir: Path, **variables: str) -> AppTest:
        monkeypatch.setenv("DOCCHAT_DATA_DIR", str(data_dir))
        for key, value in variables.items():
            monkeypatch.setenv(f"DOCCHAT_{key.upper()}", value)
        app = AppTest.from_file(str(PAGE_SCRIPT), default_timeout=TIMEOUT)
        app.run()
        assert not app.exception, app.exception
        return app

    return use


def ask(app: AppTest, question: str) -> AppTest:
    app.chat_input[0].set_value(question).run()
    assert not app.exception, app.exception
    return app


def sources(app: AppTest) -> list:
    return [expander for expander in app.main.expander if expander.label == "Sources"]


# -- the page, end to end ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_answers_with_sources_then_new_chat(page_env, store: Path) -> None:
    app = ask(page_env(store), "Which government agency built Collab?")
    messages = app.chat_message
    assert [m.name for m in messages] == ["user", "assistant"]
    assert "Which government agency built Collab?" in texts(messages[0])
    found = sources(app)
    assert len(found) == 1, texts(messages[1])
    shown = texts(found[0])
    assert "full-stack-python.txt" in shown
    assert re.search(r"\[1\]", shown) and "relevance" in shown and "line" in shown
    assert any(":orange-background[" in m.value for m in found[0].markdown), "the supporting quote is highlighted"
    assert "[1]" in unescape(messages[1].markdown[0].value)  # inline citation marker in the answer

    turns = app.session_state["chats"]["default"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert engine_history(turns)[1]["content"] == turns[1]["answer"].answer  # history = final answer text

    app.sidebar.button[0].click().run()  # New chat
    assert not app.exception and not app.chat_message
    assert app.session_state["chats"]["default"] == []


@pytest.mark.slow
def test_abstains_when_the_documents_do_not_cover_it(page_env, store: Path) -> None:
    app = ask(page_env(store), "What is the capital of Peru?")
    reply = app.chat_message[1]
    assert "The documents do not cover this." in texts(reply)
    assert not sources(app)


@pytest.mark.slow
def test_small_talk_gets_its_reply_without_sources(page_env, store: Path) -> None:
    """ "thanks!" is answered as thanks on the page: the reply, no sources, no notice, nothing quoted."""
    from docchat.app.prompt import small_talk_reply
    from docchat.app.small_talk import SmallTalk

    app = ask(page_env(store), "thanks!")
    reply = app.chat_message[1]
    assert small_talk_reply(SmallTalk.THANKS) in texts(reply)
    assert not sources(app) and not app.main.info


@pytest.mark.slow
def test_a_question_about_the_collection_gets_an_overview_on_the_page(page_env, store: Path) -> None:
    """ "What is this document about?" on a new user's first visit: the document and its sections, not a refusal."""
    app = ask(page_env(store), "What is this document about?")
    reply = texts(app.chat_message[1])
    assert "one document, “Full Stack Python”" in reply and "Python Checklist" in reply, reply
    assert "The documents do not cover this." not in reply and not sources(app)


@pytest.mark.slow
def test_switching_collection_answers_from_it(page_env, store: Path) -> None:
    app = page_env(store)
    picker = app.sidebar.selectbox[0]
    assert picker.options == ["default", "zoo"] and picker.value == "default"
    assert app.sidebar.metric[0].label == "Documents" and app.sidebar.metric[0].value == "1"
    picker.set_value("zoo").run()
    assert not app.exception
    assert "zoo" in texts(app.main)
    ask(app, "Which is the largest living wild equid?")
    found = sources(app)
    assert found, texts(app.chat_message[1])
    assert "zebras.md" in texts(found[0]) and "full-stack-python.txt" not in texts(found[0])
    assert list(app.session_state["chats"]) == ["default", "zoo"]  # one history per collection


@pytest.mark.slow
def test_collection_from_environment_is_the_one_answered_from(page_env, store: Path) -> None:
    """DOCCHAT_COLLECTION=zoo: the page opens on zoo and answers from it. The Collab question, which the default
    collection answers with sources, finds nothing in zoo (abstains before the model is asked)."""
    app = page_env(store, collection="zoo")
    assert app.sidebar.selectbox[0].value == "zoo"
    ask(app, "Which government agency built Collab?")
    assert "The documents do not cover this." in texts(app.chat_message[1])
    assert not sources(app)
    turns = app.session_state["chats"]["zoo"]
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert {p.source for p in turns[1]["answer"].retrieved} == {"zebras.md"}  # zoo's only document
    assert app.session_state["chats"].get("default", []) == []


@pytest.mark.slow
def test_no_collection_yet_says_how_to_ingest(page_env, tmp_path: Path, model_cache: Path, embedder) -> None:
    app = page_env(seed_model(tmp_path / "empty", model_cache, embedder))
    assert "No documents yet" in texts(app.sidebar)
    ask(app, "Which government agency built Collab?")
    shown = texts(app.chat_message[1])
    assert "docchat ingest" in shown and "Add documents" in shown, shown
    assert not app.exception


@pytest.mark.slow
def test_unreachable_llm_is_one_clear_sentence(page_env, store: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = page_env(store, llm_backend="ollama", ollama_url=url)
    assert f"Cannot reach Ollama at {url}" in texts(app.sidebar)  # found when the models are warmed
    ask(app, "Which government agency built Collab?")
    errors = [unescape(e.value) for e in app.chat_message[1].error]
    assert errors == [f"Cannot reach Ollama at {url}; start it with `ollama serve` or set DOCCHAT_OLLAMA_URL."]
    assert not app.exception


@pytest.mark.slow
def test_empty_question(page_env, store: Path) -> None:
    app = ask(page_env(store), "   ")
    assert [w.value for w in app.main.warning] == ["Ask a question: the text is empty."]
    assert app.session_state["chats"]["default"] == []


@pytest.mark.slow
def test_upload_ingests_and_reports_skipped_files(page_env, tmp_path: Path, model_cache: Path, embedder) -> None:
    data_dir = seed_model(tmp_path / "data", model_cache, embedder)
    app = page_env(data_dir)
    app.sidebar.text_input[0].set_value("uploads-test")
    app.sidebar.file_uploader[0].set_value(
        [
            ("../../../escape.md", ZOO_DOC.encode(), "text/markdown"),
            ("broken.pdf", b"this is not a PDF", "application/pdf"),
        ]
    )
    submit = next(b for b in app.sidebar.button if b.label == "Add uploaded files")
    submit.click().run()
    assert not app.exception, app.exception
    job = app.session_state["ingest_job"]  # ingesting in the background: the page is usable meanwhile
    assert [q.placeholder for q in app.chat_input] == ["Ask a question about your documents"]
    deadline = time.monotonic() + 300
    while job.result is None and time.monotonic() < deadline:
        time.sleep(0.2)
    app.run()
    assert not app.exception, app.exception
    shown = texts(app.sidebar)
    assert "uploads-test: 2 files seen, 1 added" in shown, shown
    assert "Skipped broken.pdf: not a PDF" in shown
    uploads = data_dir / "uploads"
    saved = sorted(p.relative_to(data_dir).as_posix() for p in uploads.rglob("*") if p.is_file())
    assert saved == ["uploads/uploads-test/broken.pdf", "uploads/uploads-test/escape.md"]
    assert not (tmp_path / "escape.md").exists() and not (data_dir / "escape.md").exists()
    assert app.sidebar.selectbox[0].value == "uploads-test"  # the page switched to the new collection


@pytest.mark.slow
def test_add_folder_validates_path(page_env, store: Path, tmp_path: Path) -> None:
    app = page_env(store)
    app.sidebar.text_input[1].set_value(str(tmp_path / "no-such-folder"))
    next(b for b in app.sidebar.button if b.label == "Add folder").click().run()
    assert not app.exception
    assert "No such file or folder on the server" in texts(app.sidebar)


# -- helpers (no models) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/evil.md", "evil.md"),
        ("/etc/cron.d/evil.txt", "evil.txt"),
        ("..\\..\\windows\\evil.rst", "evil.rst"),
        ("C:evil.html", "evil.html"),
        ("..／..／fullwidth.md", "fullwidth.md"),
        (".hidden.md", "hidden.md"),
        ("a\x00b\nc.TXT", "abc.txt"),
        ("we ird;$(rm -rf)`x`.pdf", "we ird_(rm -rf)_x_.pdf"),
        ("....md", None),
        ("..", None),
        ("", None),
        ("evil.exe", None),
        ("README", None),
        ("evil.md/..", None),
    ],
)
def test_safe_filename(name: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(DocchatError):
            workspace.safe_filename(name)
    else:
        assert workspace.safe_filename(name) == expected


def test_save_upload_never_writes_outside_the_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", collection="docs")
    folder = workspace.uploads_dir(settings)
    assert folder == tmp_path / "data" / "uploads" / "docs"
    for name in ("../../../x.md", "/tmp/x.md", "..\\x.md", "sub/../../x.md"):
        saved = workspace.save_upload(folder, name, b"# hi\n")
        assert saved.parent == folder.resolve() and saved.read_bytes() == b"# hi\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["x.md"]
    (folder / "link.md").symlink_to(tmp_path / "outside.md")
    with pytest.raises(DocchatError, match="outside"):
        workspace.save_upload(folder, "link.md", b"data")
    assert not (tmp_path / "outside.md").exists()
    with pytest.raises(DocchatError, match="not a valid collection name"):
        workspace.with_collection(settings, "../x")


def test_escape_markdown_shows_markup_as_text() -> None:
    evil = '<script>window.__pwned=1</script> <img src=x onerror="a()"> ![i](http://x/i.png) [l](javascript:a)'
    evil += " :red[x] $x$ :smile: **b** `c` ~d~ # e"
    escaped = escape_markdown(evil)
    assert unescape(escaped) == evil
    assert re.search(r"(?<!\\)[<>\[\]()!:$`*_]", escaped) is None  # every markup character is escaped
    nbsp4 = "\u00a0" * 4
    assert escape_markdown("# title\n    code\nnext\n\npara") == f"\\# title  \n{nbsp4}code  \nnext\n\npara"


def test_passage_markdown_highlights_the_quote() -> None:
    passage = "Intro line.\n\n(1) Collab by the [CFPB]\nagency. After <b>."
    shown = passage_markdown(passage, "(1) Collab by the [CFPB] agency.")
    highlighted = ":orange-background[**\\(1\\) Collab by the \\[CFPB\\] agency\\.**]"
    assert shown == f"Intro line\\.\n\n{highlighted} After \\<b\\>\\."
    assert passage_markdown("no match here", "missing") == "no match here"


def make_answer(text: str, **fields) -> Answer:
    values = {"question": "q?", "answer": text, "abstained": False, "mode": "generated", "citations": [],
              "retrieved": [], "sentences": [], "standalone_question": "q?", "timings": {}}  # fmt: skip
    return Answer(**{**values, **fields})


def test_answer_markdown_marks_unsupported_sentences() -> None:
    citation = Citation(number=1, source="a.md", title="A", heading="", lines=(1, 2), quote="q", passage="q")
    sentences = [
        AnswerSentence("Supported *claim*.", [1], True),
        AnswerSentence("Made up [link](http://x).", [], False),
    ]
    answer = make_answer("x", citations=[citation], sentences=sentences)
    assert answer_markdown(answer) == (
        "Supported \\*claim\\*\\. \\[1\\] :gray[⚠ *Made up \\[link\\]\\(http\\:\\/\\/x\\)\\.*]"
    )


def test_engine_history_skips_failed_turns() -> None:
    answer = make_answer("a1 [1]")
    turns = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1 [1]", "answer": answer},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "LLM down", "error": "LLM down"},
    ]
    assert engine_history(turns) == [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1 [1]"}]


def test_launch_command_is_headless_without_telemetry() -> None:
    command = streamlit_command("127.0.0.1", 8765)
    assert command[1:5] == ["-m", "streamlit", "run", str(PAGE_SCRIPT)] and PAGE_SCRIPT.is_file()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert options["--global.developmentMode"] == "false" and options["--server.port"] == "8765"
    assert options["--server.address"] == "127.0.0.1"
    env = ui_environment("zoo", {"PATH": "/bin"})
    assert env["DOCCHAT_COLLECTION"] == "zoo" and env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
    assert "DOCCHAT_COLLECTION" not in ui_environment(None, {})


@pytest.mark.slow
def test_the_chat_answers_while_an_ingest_embeds(
    page_env, tmp_path: Path, model_cache: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = seed_model(tmp_path / "data", model_cache, embedder)
    folder = tmp_path / "zoo-docs"
    folder.mkdir()
    (folder / "zebras.md").write_text(ZOO_DOC, encoding="utf-8")
    made: list[GatedEmbedder] = []  # the page's ingest embedder, stopped at its first batch until the test opens it
    real = embedding.make_embedder

    def gated(settings: Settings, **options: bool) -> GatedEmbedder:
        made.append(GatedEmbedder(real(settings, **options)))
        return made[-1]

    monkeypatch.setattr(embedding, "make_embedder", gated)

    app = page_env(data_dir)
    app.sidebar.text_input[0].set_value("zoo")
    app.sidebar.text_input[1].set_value(str(folder))
    next(b for b in app.sidebar.button if b.label == "Add folder").click().run()
    try:
        assert made and made[0].waiting.wait(120), "the ingest never reached the embedder"
        app.run()
        app.sidebar.selectbox[0].set_value("zoo").run()
        assert "You can ask questions meanwhile" in texts(app.sidebar)
        ask(app, "How many days can a Grevy's zebra go without drinking water?")
        shown = texts(app.main)
        assert "This collection is still being ingested (0 of the " in shown, shown
        assert sources(app) and "five days" in texts(sources(app)[0])
    finally:
        for stopped in made:
            stopped.gate.set()
    job = app.session_state["ingest_job"]
    deadline = time.monotonic() + 120
    while job.result is None and time.monotonic() < deadline:
        time.sleep(0.2)
    app.run()
    assert "zoo: 1 files seen, 1 added" in texts(app.sidebar)
    assert "You can ask questions meanwhile" not in texts(app.sidebar)
