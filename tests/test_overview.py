"""A question about the collection itself ("What is this document about?") gets what the collection holds,
not "The documents do not cover this." (it names no topic, so no passage passed the relevance gate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docchat.app.overview import asks_for_overview
from docchat.app.schema import Final, Retrieved, Token
from tests.fake_ollama import run_fake_ollama
from tests.test_answer import _frameworks_and_sites, _ollama_engine, store  # noqa: F401  (module fixture)

SEED_SECTIONS = ("What is full stack development?", "Python Checklist", "7 Years of YouTube Scalability")


@pytest.mark.parametrize(
    "question",
    ["What is this document about?", "Give me an overview of the documents", "summarize", "What can you tell me?"],
)
def test_a_question_naming_no_topic_asks_for_an_overview(question: str) -> None:
    assert asks_for_overview(question)


@pytest.mark.parametrize(
    "question", ["What is Collab?", "Summarize the section on large tech companies.", "Who built Collab?"]
)
def test_a_question_with_a_topic_is_answered_from_the_passages(question: str) -> None:
    assert not asks_for_overview(question)


def test_one_document_is_described_by_its_sections_without_search_or_model(store, embedder) -> None:  # noqa: F811
    with run_fake_ollama(models={"llama3.2:3b": "Collab was built by the CFPB [1]."}) as url:
        events = list(_ollama_engine(store, embedder, url).stream("What is this document about?", []))
        assert url.chats() == []
    assert not any(isinstance(e, Token) for e in events)
    assert [type(e) for e in events] == [Retrieved, Final] and events[0].passages == []
    answer = events[-1].answer
    assert (answer.mode, answer.abstained, answer.citations) == ("overview", False, [])
    assert "one document, “Full Stack Python” (full-stack-python.txt)" in answer.answer, answer.answer
    positions = [answer.answer.index(section) for section in SEED_SECTIONS]
    assert positions == sorted(positions), answer.answer  # in reading order


def test_several_documents_are_counted_and_named(tmp_path: Path, model_cache, embedder) -> None:
    settings = _frameworks_and_sites(tmp_path, model_cache, embedder)
    with run_fake_ollama(models={"llama3.2:3b": "Django [1]."}) as url:
        answer = _ollama_engine(settings, embedder, url).ask("Give me an overview of the documents.")
        assert url.chats() == []
    assert answer.mode == "overview" and "holds 2 documents" in answer.answer and "(top level) (2)" in answer.answer, (
        answer.answer
    )
    assert "“Python web frameworks”" in answer.answer and "“Social sites”" in answer.answer
