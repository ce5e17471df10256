"""The refusal marker: detected as a structured signal, never shown to the user as if it were an answer.

The model here is a stand-in: tests/fake_ollama.py, a local server speaking Ollama's API, replies with fixed
text, so the engine's handling of exactly that text can be checked (the real model's wording varies).
"""

from __future__ import annotations

import pytest

from docchat.app.engine import Engine
from docchat.app.prompt import is_refusal, may_be_marker
from docchat.app.schema import Final, Token
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS
from tests.fake_ollama import run_fake_ollama

COLLAB = "Which government agency built Collab?"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:
    settings = Settings(data_dir=tmp_path_factory.mktemp("refusal"))
    ingest_paths(settings, [CORPUS], embedder=embedder)
    return settings


def stream_with_reply(store: Settings, embedder, reply: str, **settings: object) -> tuple[str, Final]:
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        update = {"llm_backend": "ollama", "ollama_url": url, "ollama_model": "llama3.2:3b", **settings}
        events = list(Engine(store.updated(**update), embedder=embedder).stream(COLLAB))
    return "".join(e.text for e in events if isinstance(e, Token)), events[-1]


def test_the_marker_is_never_streamed_as_answer_text(store, embedder) -> None:
    streamed, final = stream_with_reply(store, embedder, "NO_ANSWER")
    assert streamed == "" and final.answer.abstained  # the default profile trusts refusals
    streamed, final = stream_with_reply(store, embedder, "NO_ANSWER", llm_refusal="quote")
    assert streamed == "" and final.answer.mode == "extractive" and "NO_ANSWER" not in final.answer.answer


def test_a_real_answer_streams_whole_even_when_it_starts_like_the_marker(store, embedder) -> None:
    reply = "No single agency: the Consumer Financial Protection Bureau built Collab [1]."
    streamed, final = stream_with_reply(store, embedder, reply)
    assert streamed == reply and not final.answer.abstained


def test_marker_detection() -> None:
    assert is_refusal("NO_ANSWER") and is_refusal("**NO_ANSWER**") and is_refusal("NO_ANSWER.\n")
    assert is_refusal("Sorry. NO_ANSWER")  # nothing else of substance said
    assert not is_refusal("The CFPB built Collab [1]. The documents do not cover its licence.")
    assert may_be_marker("NO_") and may_be_marker(" NO_ANSWER, since") and not may_be_marker("No single")


def test_self_check_turns_a_no_into_a_refusal(store, embedder) -> None:
    """With the profile's self_check on, the model is asked whether the passages state its answer; the stand-in
    replies the same text to every request, so a reply opening with "No" answers that check with a no."""
    reply = "No single agency: the Consumer Financial Protection Bureau built Collab [1]."
    _, unchecked = stream_with_reply(store, embedder, reply)
    _, checked = stream_with_reply(store, embedder, reply, llm_profile_overrides={"self_check": True})
    assert not unchecked.answer.abstained
    assert checked.answer.abstained and "self_check" in checked.answer.timings


@pytest.mark.parametrize(("refusal", "asked"), [("abstain", True), ("quote", False)])
def test_only_a_model_whose_refusals_are_trusted_is_asked_for_the_marker(store, embedder, refusal, asked) -> None:
    """An untrusted refusal would only end in quotes, so such a model (the default Qwen 0.5B's profile) is not
    asked for the marker: it answers, and the answer is checked."""
    reply = "Collab was built by the Consumer Financial Protection Bureau [1]."
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        update = {"llm_backend": "ollama", "ollama_url": url, "ollama_model": "llama3.2:3b", "llm_refusal": refusal}
        answer = Engine(store.updated(**update), embedder=embedder).ask(COLLAB)
        system = url.chats()[0]["messages"][0]["content"]
    assert ("NO_ANSWER" in system) is asked, system
    assert answer.mode == "generated" and answer.citations


def test_an_answer_about_a_word_a_large_collection_never_uses_is_refused(store, embedder, monkeypatch) -> None:
    """Fresh, twentieth session: "What is the best way to learn to play the guitar?", asked after a WSGI question,
    passed the relevance gate on the page on learning to program, and the 0.5B answered "The best way to learn to
    play the guitar is to play a computer game ...". A word of the question that the answer repeats and a large
    collection never uses ("guitar" in Full Stack Python's 11,000 chunks) marks a topic the documents do not cover.
    The seed corpus (9 chunks) is made to count as large here; at its real size the rule is off, since a single
    document never uses many words its users ask with."""
    import docchat.app.engine as engine_module

    question = "Which government agency built Collab for its staff?"
    reply = "The CFPB built Collab for its staff [1]."
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        update = {"llm_backend": "ollama", "ollama_url": url, "ollama_model": "llama3.2:3b"}
        engine = Engine(store.updated(**update), embedder=embedder)
        answered = engine.ask(question)
        assert not answered.abstained and answered.citations, answered.notice  # 9 chunks: the rule is off
        monkeypatch.setattr(engine_module, "ABSENT_WORD_MIN_CHUNKS", 1)
        refused = engine.ask(question)
    assert refused.abstained and refused.notice.startswith("The documents never mention staff"), refused.notice


def test_the_words_of_a_question_an_answer_repeats_and_the_collection_never_uses() -> None:
    from docchat.app.citations import unmentioned_terms
    from docchat.components.words import content_words

    vocabulary = content_words("learning to program is like playing a computer game that guides you")

    def never(word: str) -> bool:  # stands in for the keyword index, which stems words the same way
        return not content_words(word) <= vocabulary

    question = "What is the best way to learn to play the guitar?"
    assert unmentioned_terms(question, "The best way to learn guitar is a computer game.", never) == [
        "best",
        "guitar",
        "way",
    ]
    assert unmentioned_terms(question, "Learning to program is like playing a game.", never) == []  # not repeated


def test_a_name_of_several_words_the_collection_never_holds_is_refused_before_the_model_runs(store, embedder) -> None:
    """Fresh, twenty-second session: "How does PEP 703 make the Global Interpreter Lock optional in CPython?" got
    quotes on pyenv and on the kinds of PEPs, over a site that says "PEP", "global", "interpreter" and "lock" but
    never "PEP 703" or "Global Interpreter Lock". Here every word of "Corporate Collaboration Intranet" is in the
    seed corpus ("a corporate intranet and collaboration platform"), the name is not: the question is refused
    without asking the model (the stand-in records no chat). The same words in lower case name nothing; "Python
    Government Agency" is two things the corpus names side by side ("Python", "government agencies")."""
    reply = "The CFPB built Collab [1]."
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        update = {"llm_backend": "ollama", "ollama_url": url, "ollama_model": "llama3.2:3b"}
        engine = Engine(store.updated(**update), embedder=embedder)
        refused = engine.ask("Which agency built the Corporate Collaboration Intranet?")
        asked = engine.ask("Which agency built the corporate collaboration intranet?")
        side_by_side = engine.ask("Which Python Government Agency built Collab?")
        chats = url.chats()
    assert refused.abstained
    assert refused.notice == "The passages found do not mention Corporate Collaboration Intranet.", refused.notice
    assert not asked.notice.startswith("The passages found do not mention"), asked.notice
    assert not side_by_side.notice.startswith("The passages found do not mention"), side_by_side.notice
    assert len(chats) == 2  # the model answered the two others
