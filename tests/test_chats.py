"""Saved chats and feedback (issue 15), and chats that come through the API (issue 16).

Real SQLite files under tmp dirs; the real store, embedder and SmolLM2 where an answer is needed; the CLI through
typer's CliRunner; the Streamlit page through AppTest; the API app through FastAPI's TestClient (real HTTP
semantics over ASGI, the real engine). The browser test is in tests/test_browser_chats.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from docchat.app.chats.saving import save_turn
from docchat.app.chats.store import MIGRATIONS, SCHEMA_VERSION, ChatStore
from docchat.app.ui import PAGE_SCRIPT
from docchat.cli.main import app as cli
from docchat.core.errors import ChatNotFound, ChatStoreUnavailable
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, clear_user_settings, isolated_settings, seed_model

COLLAB = "Which government agency built Collab?"
PERU = "What is the capital of Peru?"  # abstains before the model is asked: no LLM needed


def record(question: str, answer: str = "an answer", **extra: object) -> dict:
    return {"question": question, "answer": answer, "mode": "generated", "citations": [], **extra}


# -- the store --------------------------------------------------------------------------------------------------


def test_store_is_wal_versioned_and_keeps_chats(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats.sqlite3")
    assert store.list_chats() == [] and not store.path.exists()  # reading never creates the file
    first = store.create("default", [record("Q1 about   Collab?", "A1")], origin="cli")
    assert first.title == "Q1 about Collab?" and first.turns == 1
    assert store.append(first.id, record("Q2", "A2"), expect_turns=1) == 2
    other = store.create("zoo", [record("Zebras?")])
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert [c.id for c in store.list_chats()] == [other.id, first.id]  # newest first
    assert [c.id for c in store.list_chats("default")] == [first.id]
    chat = store.get(first.id)
    assert [(t.number, t.question, t.answer) for t in chat.turns] == [(1, "Q1 about   Collab?", "A1"), (2, "Q2", "A2")]
    assert store.find_by_history("default", [("Q1 about   Collab?", "A1"), ("Q2", " A2 ")]) == first.id
    assert store.find_by_history("default", [("Q1 about   Collab?", "A1")]) is None  # that chat went on
    store.set_feedback(first.id, 2, "down", "wrong agency")
    assert (store.get(first.id).turns[1].rating, store.get(first.id).turns[1].comment) == ("down", "wrong agency")
    assert [c.id for c in store.rated("down")] == [first.id] and store.rated("down", "zoo") == []
    store.rename(first.id, "  Collab  questions ")
    assert store.get(first.id).summary.title == "Collab questions"
    store.delete(first.id)
    with pytest.raises(ChatNotFound, match="docchat chats list"):
        store.get(first.id)
    with sqlite3.connect(store.path) as connection:  # its turns went with it
        assert connection.execute("SELECT COUNT(*) FROM turns WHERE chat_id = ?", (first.id,)).fetchone()[0] == 0


def test_an_older_schema_is_migrated_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    with sqlite3.connect(path) as connection:  # a version-1 file, as the first release wrote it
        for statement in MIGRATIONS[0]:
            connection.execute(statement)
        connection.execute("INSERT INTO chats VALUES ('abc123', 'Old chat', 'default', 1.0, 2.0)")
        connection.execute("INSERT INTO turns VALUES ('abc123', 1, 'Old question?', 'Old answer.', ?, 1.0)",
                           (json.dumps(record("Old question?", "Old answer.")),))  # fmt: skip
        connection.execute("PRAGMA user_version = 1")
    store = ChatStore(path)
    [old] = store.list_chats()
    assert (old.id, old.title, old.origin, old.turns) == ("abc123", "Old chat", "ui", 1)
    store.set_feedback("abc123", 1, "up")  # a column the migration added
    assert store.get("abc123").turns[0].rating == "up" and store.version() == SCHEMA_VERSION
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ChatStoreUnavailable, match="newer docchat"):
        store.list_chats()


def test_concurrent_writers_never_mix_turns(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "chats.sqlite3")
    chats: dict[int, str] = {}
    failures: list[BaseException] = []

    def converse(writer: int) -> None:  # one browser session: its own chat, one turn after another
        try:
            own = ChatStore(store.path)  # every thread opens its own connections
            saved = save_turn(own, record(f"w{writer}-q1"), collection="default")
            for turn in range(2, 9):
                saved = save_turn(own, record(f"w{writer}-q{turn}"), collection="default", chat_id=saved.chat_id,
                                  earlier=[{}] * (turn - 1))  # fmt: skip
                assert not saved.forked
            chats[writer] = saved.chat_id
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=converse, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(set(chats.values())) == 8
    for writer, chat_id in chats.items():
        turns = store.get(chat_id).turns
        assert [(t.number, t.question) for t in turns] == [(n, f"w{writer}-q{n}") for n in range(1, 9)]

    # two sessions continuing the same chat at once: one appends, the other becomes a chat of its own
    shared = store.create("default", [record("shared-q1")])
    barrier, results = threading.Barrier(2), []

    def follow_up(name: str) -> None:
        barrier.wait()
        results.append(save_turn(ChatStore(store.path), record(name), collection="default", chat_id=shared.id,
                                 earlier=[record("shared-q1")]))  # fmt: skip

    racers = [threading.Thread(target=follow_up, args=(name,)) for name in ("a-q2", "b-q2")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(saved.forked for saved in results) == [False, True]
    assert store.get(shared.id).turns[0].question == "shared-q1" and store.get(shared.id).summary.turns == 2
    forked = next(saved for saved in results if saved.forked)
    assert store.get(forked.chat_id).turns[0].question == "shared-q1"
    assert {store.get(shared.id).turns[1].question, store.get(forked.chat_id).turns[1].question} == {"a-q2", "b-q2"}


def test_damaged_and_locked_databases_give_one_clear_sentence(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(os.urandom(8192))
    with pytest.raises(ChatStoreUnavailable, match=r"is damaged .*mv .*damaged\.sqlite3"):
        ChatStore(damaged).list_chats()

    store = ChatStore(tmp_path / "chats.sqlite3", timeout=0.2)
    chat = store.create("default", [record("Q1")])
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(ChatStoreUnavailable, match="is locked by another program"):
            store.append(chat.id, record("Q2"))
        assert [c.id for c in store.list_chats()] == [chat.id]  # WAL: reading still works meanwhile
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.append(chat.id, record("Q2")) == 2


def test_read_only_database_gives_one_clear_sentence(tmp_path: Path) -> None:
    """A read-only bind mount (tests run as root: chmod would not stop root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount")
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    ChatStore(source / "chats.sqlite3").create("default", [record("Q1")])
    for args in (["--bind", str(source), str(view)], ["-o", "remount,bind,ro", str(view)]):
        done = subprocess.run(["mount", *args], capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(view)], capture_output=True)
            pytest.skip(f"mount not permitted here: {done.stderr.strip()}")
    try:
        store = ChatStore(view / "chats.sqlite3")
        with pytest.raises(ChatStoreUnavailable, match="is read-only, so chats are not saved"):
            store.create("default", [record("Q2")])
        with pytest.raises(ChatStoreUnavailable, match="read-only"):
            ChatStore(view / "new" / "chats.sqlite3").create("default", [record("Q3")])
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


# -- a data dir with the seed corpus, for the CLI, the page and the API --------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder) -> Path:
    data_dir = seed_model(tmp_path_factory.mktemp("chats") / "data", model_cache, embedder)
    report = ingest_paths(isolated_settings(data_dir), [CORPUS], embedder=embedder)
    assert report.chunks_written > 0 and not report.failed
    return data_dir


@pytest.fixture
def run(data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``docchat ARGS...`` in-process over ``data_dir`` (and DOCCHAT_* ``variables``); the CliRunner result."""
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCCHAT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COLUMNS", "300")

    def invoke(*args: str, **variables: str):
        for key, value in variables.items():
            monkeypatch.setenv(f"DOCCHAT_{key.upper()}", value)
        result = CliRunner().invoke(cli, list(args))
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def chat_ids(run) -> list[str]:
    return [chat["id"] for chat in json.loads(run("chats", "list", "--json").stdout)]


@pytest.mark.slow
def test_cli_chats_feedback_and_the_eval_loop(run, data_dir: Path, tmp_path: Path) -> None:
    before = set(chat_ids(run))
    asked = run("ask", COLLAB, "--json")
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.stdout)
    chat_id = answer["chat_id"]
    assert answer["turn"] == 1 and chat_id not in before and f"chat {chat_id}, turn 1" in asked.stderr
    assert answer["citations"], answer  # the Collab passage, cited

    again = run("ask", "--chat", chat_id, "Is it still in use?", "--json")  # continues the stored chat
    assert again.exit_code == 0, again.output
    follow = json.loads(again.stdout)
    assert (follow["chat_id"], follow["turn"]) == (chat_id, 2)
    assert "Collab" in follow["standalone_question"]  # the stored turns were its history

    listed = {chat["id"]: chat for chat in json.loads(run("chats", "list", "--json").stdout)}
    assert listed[chat_id]["title"] == COLLAB and listed[chat_id]["turns"] == 2
    assert listed[chat_id]["collection"] == "default" and listed[chat_id]["updated"].endswith("+00:00")
    assert next(iter(listed)) == chat_id  # newest first
    shown = json.loads(run("chats", "show", chat_id, "--json").stdout)
    first = shown["messages"][0]
    assert (first["question"], first["answer"], first["mode"]) == (COLLAB, answer["answer"], answer["mode"])
    assert first["citations"] == answer["citations"] and first["standalone_question"] == COLLAB
    assert first["llm"] == "llamacpp:smollm2-135m" and first["embedder"].startswith("all-MiniLM-L6-v2")
    assert first["profile"] and first["collection"] == "default"
    assert first["index_version"]["chunks"] > 0 and first["index_version"]["generation"] > 0
    assert first["retrieved"][0]["source"] == "full-stack-python.txt"

    markdown = run("chats", "export", chat_id, "--format", "md").stdout
    assert markdown.startswith(f"# {COLLAB}\n") and "## 2. Is it still in use?" in markdown
    citation = answer["citations"][0]
    assert f"1. full-stack-python.txt — {citation['heading']} — lines {citation['lines'][0]}-" in markdown
    assert f"> {' '.join(citation['quote'].split())}" in markdown
    exported = json.loads(run("chats", "export", chat_id, "--format", "json").stdout)
    assert exported["id"] == chat_id and len(exported["messages"]) == 2

    # feedback: `docchat feedback CHAT_ID TURN up|down` and `docchat feedback export` share one name
    assert run("feedback", chat_id, "1", "down", "--comment", "Name the agency in full").exit_code == 0
    assert run("feedback", chat_id, "2", "up").exit_code == 0
    rated = run("feedback", chat_id, "3", "up")
    assert rated.exit_code == 2 and "has no turn 3" in rated.stderr
    assert json.loads(run("chats", "show", chat_id, "--json").stdout)["messages"][0]["feedback"] == {
        "rating": "down", "comment": "Name the agency in full"
    }  # fmt: skip
    items_file = tmp_path / "feedback.jsonl"
    exported = run("feedback", "export", "--as-eval", str(items_file), "--collection", "default")
    assert exported.exit_code == 0 and "1 new item(s)" in exported.stderr, exported.output
    [item] = [json.loads(line) for line in items_file.read_text().splitlines()]
    places = {(c["source"], c["heading"]) for c in answer["citations"]}
    assert item["kind"] == ("multihop" if len(places) > 1 else "answerable")  # the guess: cited places
    assert item["id"] == f"fb-{chat_id}-1" and item["question"] == COLLAB
    assert item["needs_review"] is True and item["must_include_any"] == [] and "turns" not in item
    assert item["gold_sources"] == ["full-stack-python.txt"] and item["answer_given"] == answer["answer"]
    assert item["feedback_comment"] == "Name the agency in full"

    refused = run("eval", "--set", str(items_file), "--collection", "default", "--out", str(tmp_path / "e0"))
    assert refused.exit_code == 2 and f"fb-{chat_id}-1: still marked needs_review" in refused.output

    item.update(must_include_any=[["CFPB", "Consumer Financial Protection Bureau"]], reference_answer="The CFPB.")
    del item["needs_review"]
    items_file.write_text(json.dumps(item) + "\n")
    again = run("feedback", "export", "--as-eval", str(items_file))  # a person's edits are kept
    assert json.loads(items_file.read_text().splitlines()[0]) == item and "0 new item(s)" in again.stderr
    scored = run("eval", "--set", str(items_file), "--collection", "default", "--limit", "1",
                 "--out", str(tmp_path / "e1"))  # fmt: skip
    assert scored.exit_code == 0, scored.output
    [result] = [json.loads(line) for line in (tmp_path / "e1" / "results.jsonl").read_text().splitlines()]
    assert result["id"] == f"fb-{chat_id}-1"

    assert run("chats", "delete", chat_id).exit_code == 0
    assert chat_id not in chat_ids(run)


def test_cli_unknown_ids_and_a_damaged_database(run, data_dir: Path, tmp_path: Path) -> None:
    for args in (["chats", "show", "nope"], ["chats", "export", "nope", "--format", "md"], ["chats", "delete", "nope"],
                 ["feedback", "nope", "1", "up"], ["ask", "--chat", "nope", PERU]):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 2 and "No saved chat 'nope'" in result.stderr, (args, result.output)

    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database" * 400)
    asked = run("ask", PERU, chats_db=str(damaged))  # answering still works, without saving
    assert asked.exit_code == 0, asked.output
    assert "The documents do not cover this." in asked.stdout
    assert "warning:" in asked.stderr and "is damaged" in asked.stderr and len(asked.stderr.strip().splitlines()) == 1
    listed = run("chats", "list", chats_db=str(damaged))
    assert listed.exit_code == 2 and "is damaged" in listed.stderr


def test_ask_with_a_history_file_saves_the_history_too(run, tmp_path: Path) -> None:
    history = tmp_path / "turns.json"
    history.write_text(json.dumps([{"role": "user", "content": COLLAB}, {"role": "assistant", "content": "The CFPB."}]))
    asked = run("ask", PERU, "--history", str(history), "--json")
    assert asked.exit_code == 0, asked.output
    chat = json.loads(run("chats", "show", json.loads(asked.stdout)["chat_id"], "--json").stdout)
    assert [(m["question"], m["mode"]) for m in chat["messages"]] == [(COLLAB, "imported"), (PERU, "abstained")]
    assert run("ask", PERU, "--history", str(history), "--chat", chat["id"]).exit_code == 2


# -- the page (AppTest) -------------------------------------------------------------------------------------------


@pytest.fixture
def page(data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator:
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCCHAT_DATA_DIR", str(data_dir))

    def open_page(**query: str) -> AppTest:
        app = AppTest.from_file(str(PAGE_SCRIPT), default_timeout=240)
        app.query_params.update(query)
        app.run()
        assert not app.exception, app.exception
        return app

    yield open_page
    import streamlit as st

    st.cache_resource.clear()


def main_texts(app: AppTest) -> str:
    return "\n".join(str(m.value) for message in app.chat_message for m in [*message.markdown, *message.info])


@pytest.mark.slow
def test_page_saves_the_chat_and_a_new_session_reopens_it(page, data_dir: Path) -> None:
    store = ChatStore(Settings(data_dir=data_dir).chats_path)
    app = page()
    app.chat_input[0].set_value(PERU).run()
    assert not app.exception, app.exception
    chat_id = app.session_state["chat_ids"]["default"]
    assert app.query_params["chat"] == [chat_id] or app.query_params["chat"] == chat_id
    assert [t.question for t in store.get(chat_id).turns] == [PERU]
    assert any(b.label == PERU for b in app.sidebar.button)  # listed, titled by its first question

    reopened = page(chat=chat_id)  # a refresh, or a new session after a server restart
    assert [m.name for m in reopened.chat_message] == ["user", "assistant"]
    assert "do not cover" in main_texts(reopened)
    reopened.chat_input[0].set_value("What is the capital of Chile?").run()
    assert not reopened.exception, reopened.exception
    assert [t.question for t in store.get(chat_id).turns] == [PERU, "What is the capital of Chile?"]

    other = page()  # another session: a new chat, never the first one's
    assert not other.chat_message
    other.chat_input[0].set_value("What is the capital of Peru, again?").run()
    assert other.session_state["chat_ids"]["default"] != chat_id
    assert len(store.get(chat_id).turns) == 2

    reopened.sidebar.button[0].click().run()  # New chat
    assert not reopened.chat_message and "chat" not in reopened.query_params


@pytest.mark.slow
def test_page_answers_with_a_damaged_chat_database(page, data_dir: Path, monkeypatch, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database" * 400)
    monkeypatch.setenv("DOCCHAT_CHATS_DB", str(damaged))
    app = page()
    assert any("is damaged" in w.value for w in app.sidebar.warning)  # said once, at once
    app.chat_input[0].set_value(PERU).run()
    assert not app.exception, app.exception
    assert "do not cover" in main_texts(app) and "default" not in app.session_state["chat_ids"]
    assert not any("is damaged" in w.value for w in app.sidebar.warning)  # not repeated
    assert any("not saved" in c.value for c in app.sidebar.caption)


# -- the API --------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_api_chats_are_saved_and_continued(data_dir: Path, embedder, llm) -> None:
    from fastapi.testclient import TestClient

    from docchat.app.api.server import create_app
    from docchat.app.engine import Engine

    settings = isolated_settings(data_dir)
    store = ChatStore.of(settings)
    with TestClient(create_app(settings, Engine(settings, embedder=embedder, llm=llm))) as client:

        def ask(messages: list[dict], **extra: object) -> dict:
            response = client.post("/v1/chat/completions", json={"model": "default", "messages": messages, **extra})
            assert response.status_code == 200, response.text
            return response.json()

        first = ask([{"role": "user", "content": PERU}])
        chat_id = first["chat_id"]
        assert [t.question for t in store.get(chat_id).turns] == [PERU] and store.get(chat_id).summary.origin == "api"
        history = [
            {"role": "user", "content": PERU},
            {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
        ]
        second = ask([*history, {"role": "user", "content": "And the capital of Chile?"}])
        assert second["chat_id"] == chat_id  # its history is that chat's turns
        assert [t.question for t in store.get(chat_id).turns] == [PERU, "And the capital of Chile?"]

        # the same history again (another client replaying it): that chat went on, so this one is a chat of its own
        third = ask([*history, {"role": "user", "content": "And of Bolivia?"}])
        assert third["chat_id"] != chat_id
        assert [t.question for t in store.get(third["chat_id"]).turns] == [PERU, "And of Bolivia?"]
        assert len(store.get(chat_id).turns) == 2

        # an explicit chat_id, streamed: the last chunk names the chat
        body = {"model": "default", "stream": True, "chat_id": chat_id, "messages": [{"role": "user", "content": PERU}]}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]" and json.loads(events[-2])["chat_id"] == chat_id
        assert len(store.get(chat_id).turns) == 3

        unknown = client.post("/v1/chat/completions", json={**body, "stream": False, "chat_id": "nope"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "chat_not_found"


def test_many_sessions_opening_a_new_chat_file_at_once_all_save(tmp_path: Path) -> None:
    """SQLite answers "locked" at once, without the busy timeout, to connections switching a new file to WAL mode
    together (before the fix, CI failed the test above on this about one run in forty)."""

    def first_save(path: Path, writer: int, barrier: threading.Barrier, failures: list[Exception]) -> None:
        barrier.wait()
        try:
            save_turn(ChatStore(path), record(f"w{writer}-q1"), collection="default")
        except ChatStoreUnavailable as error:
            failures.append(error)

    for attempt in range(60):
        path, barrier, failures = tmp_path / f"chats-{attempt}.sqlite3", threading.Barrier(8), []
        threads = [threading.Thread(target=first_save, args=(path, n, barrier, failures)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures
        assert len(ChatStore(path).list_chats()) == 8
