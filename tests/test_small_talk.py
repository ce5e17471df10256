"""Small talk ("thanks!", "hello") gets a short reply, not quotes searched from the documents."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from docchat.app.prompt import small_talk_reply
from docchat.app.schema import Final, Retrieved, Token
from docchat.app.small_talk import SmallTalk, small_talk
from docchat.cli.main import app as cli
from tests.conftest import clear_user_settings
from tests.fake_ollama import run_fake_ollama
from tests.test_answer import _ollama_engine, store  # noqa: F401  (the module's ingested store fixture)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("hello", SmallTalk.HELLO),
        ("Hi there!", SmallTalk.HELLO),
        ("good morning", SmallTalk.HELLO),
        ("how are you?", SmallTalk.HELLO),
        ("thanks!", SmallTalk.THANKS),
        ("Thank you so much, that's helpful.", SmallTalk.THANKS),
        ("ok, great", SmallTalk.OKAY),
        ("got it", SmallTalk.OKAY),
        ("bye", SmallTalk.GOODBYE),
        ("good night", SmallTalk.GOODBYE),
    ],
)
def test_greetings_thanks_and_goodbyes_are_small_talk(message: str, kind: SmallTalk) -> None:
    assert small_talk(message) is kind
    assert small_talk_reply(kind)  # each kind has its reply file


@pytest.mark.parametrize(
    "message",
    [
        "hello, what is Gunicorn?",
        "Thanks! And what about Flask?",
        "How are you supposed to deploy Django?",
        "What does 'hello world' print?",
        "How so?",  # about the last answer
        "",
        "?!",
        "hello " * 9,
    ],
)
def test_a_message_with_any_word_of_its_own_is_a_question(message: str) -> None:
    assert small_talk(message) is None


def test_thanks_gets_a_reply_without_search_or_model(store, embedder) -> None:  # noqa: F811
    """No passage is read and the model is never called: the reply is the thanks file's text."""
    with run_fake_ollama(models={"llama3.2:3b": "Collab was built by the CFPB [1]."}) as url:
        events = list(_ollama_engine(store, embedder, url).stream("Thanks a lot!", []))
        assert url.chats() == []
    assert not any(isinstance(e, Token) for e in events)
    assert [type(e) for e in events] == [Retrieved, Final] and events[0].passages == []
    answer = events[-1].answer
    assert (answer.mode, answer.abstained, answer.citations) == ("small_talk", False, [])
    assert answer.answer == small_talk_reply(SmallTalk.THANKS)


def test_cli_prints_the_small_talk_reply(store, monkeypatch, tmp_path) -> None:  # noqa: F811
    """``docchat ask hello`` prints the reply once (nothing is streamed, so the CLI prints the final text)."""
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCCHAT_DATA_DIR", str(store.store.data_dir))
    result = CliRunner().invoke(cli, ["ask", "hello"])
    assert result.exit_code == 0, result.output
    assert result.output.count(small_talk_reply(SmallTalk.HELLO)) == 1
