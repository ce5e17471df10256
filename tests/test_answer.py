"""The answer engine over the default corpus: real Chroma, real MiniLM, real SmolLM2 via llama.cpp.

Where a test needs a *specific* LLM reply (a well-cited answer, a hallucinated one), the Ollama
backend answers from tests/fake_ollama.py: a local HTTP server that stands in for Ollama, which
cannot be installed on these machines. Everything else in the path is real.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from docchat.app.engine import Engine
from docchat.app.schema import Final, Passage, Retrieved, Token
from docchat.cli.main import app as cli
from docchat.components.llm.server import LLMUnavailable
from docchat.components.words import content_words
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, RecordingLLM, clear_user_settings, free_port, isolated_settings, seed_model
from tests.fake_ollama import run_fake_ollama

COLLAB = "Which government agency built Collab?"
CFPB = "Consumer Financial Protection Bureau"
NETFLIX = "What does Netflix use Python for?"
# the stages of one answer, in order: each is timed on its own, all within the total
STAGES = ("condense", "retrieve", "rerank", "generate", "check")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, model_cache, embedder) -> Settings:
    """The default corpus ingested once for this module (the ONNX export seeded, for the CLI)."""
    data = seed_model(tmp_path_factory.mktemp("answer") / "data", model_cache, embedder)
    settings = isolated_settings(data)
    report = ingest_paths(settings, [CORPUS], embedder=embedder)
    assert report.chunks_written > 0 and not report.failed
    return settings


def test_collab_question_retrieves_and_cites_government_agencies(store, embedder, llm) -> None:
    engine = Engine(store, embedder=embedder, llm=llm)
    answer = engine.ask(COLLAB)
    top = answer.retrieved[0]
    assert top.source == "full-stack-python.txt"
    assert top.heading.endswith("Government agencies")
    assert "Collab" in top.text
    assert not answer.abstained and answer.mode in ("generated", "extractive"), answer.to_dict()
    assert CFPB in answer.answer or "CFPB" in answer.answer, answer.to_dict()  # the answer names the agency
    assert answer.llm == llm.name
    cited = [c for c in answer.citations if c.source == "full-stack-python.txt" and "Government agencies" in c.heading]
    assert [c.number for c in cited] == [1], answer.to_dict()  # the top passage, cited as [1]
    assert "[1]" in answer.answer
    # the quote is verbatim from the passage, and the line span holds the quote's words
    assert cited[0].quote.strip("“”") in cited[0].passage
    assert cited[0].lines == top.lines
    lines = (CORPUS / "full-stack-python.txt").read_text().splitlines()[cited[0].lines[0] - 1 : cited[0].lines[1]]
    assert "Collab" in "\n".join(lines)
    if answer.mode == "generated":
        assert all(s.supported for s in answer.sentences if s.citations), answer.to_dict()
    # every stage took time, the first token came after retrieval, and the stages fit in the total
    timings = answer.timings
    assert all(timings[stage] >= 0 for stage in STAGES) and timings["retrieve"] > 0 and timings["generate"] > 0
    assert timings["condense"] + timings["retrieve"] + timings["rerank"] <= timings["first_token"] <= timings["total"]
    assert sum(timings[stage] for stage in STAGES) <= timings["total"]


def test_off_topic_question_abstains_without_calling_the_llm(store, embedder, llm) -> None:
    counting = RecordingLLM(llm)
    answer = Engine(store, embedder=embedder, llm=counting).ask("What is the capital of Peru?")
    assert answer.abstained and answer.mode == "abstained"
    assert answer.citations == [] and answer.sentences == []
    assert answer.answer == "The documents do not cover this."
    assert (
        max(p.gate_relevance for p in answer.retrieved) < store.retrieval.min_relevance
    )  # the gate, not the model, refused
    assert counting.calls == 0
    best = max(p.gate_relevance for p in answer.retrieved)  # and the notice says why, with the setting that decides
    assert answer.notice == (
        f"No passage is close enough to the question: the closest reaches a relevance of {best:.2f}, "
        f"and an answer needs {store.retrieval.min_relevance:.2f} (DOCCHAT_MIN_RELEVANCE)."
    )


def test_stream_yields_retrieved_then_the_models_own_tokens_then_final(store, embedder, llm) -> None:
    model = RecordingLLM(llm)
    events = list(Engine(store, embedder=embedder, llm=model).stream(NETFLIX))
    first, *tokens, last = events
    assert type(first) is Retrieved and type(last) is Final
    assert first.passages[0].heading.endswith("Large tech companies") and "Netflix" in first.passages[0].text
    # the Token events are exactly the pieces the model streamed, in order, and nothing else
    assert [type(event) for event in tokens] == [Token] * len(tokens)
    assert [t.text for t in tokens] == model.streamed[0] and "".join(model.streamed[0]).strip()
    answer = last.answer
    assert [p.id for p in answer.retrieved] == [p.id for p in first.passages]  # the passages the LLM was given
    assert answer.question == answer.standalone_question == NETFLIX
    if answer.mode == "generated":  # the final answer is made of what was streamed
        streamed = content_words("".join(t.text for t in tokens))
        assert all(content_words(s.text) <= streamed for s in answer.sentences), answer.to_dict()
    else:
        assert answer.mode == "extractive" and answer.answer.startswith("From the documents:")


def test_follow_up_resolves_against_history(store, embedder, llm) -> None:
    engine = Engine(store, embedder=embedder, llm=llm)
    history = [
        {"role": "user", "content": "What is Collab?"},
        {"role": "assistant", "content": "Collab is a corporate intranet and collaboration platform."},
    ]
    alone = engine.retrieve("Who built it?")
    answer = engine.ask("Who built it?", history)
    assert "Collab" in answer.standalone_question
    assert "Collab" in answer.retrieved[0].text
    assert answer.retrieved[0].heading.endswith("Government agencies")
    # without the history the same words do not find it first: the history is what resolved "it"
    assert "Collab" not in alone[0].text
    # two refused off-topic exchanges since (fresh, tenth session) hold nothing to refer to and fill no turn
    from docchat.app.prompt import refusal_text

    for off_topic in ("What about the weather in Paris?", "What is the capital of Peru?"):
        history += [{"role": "user", "content": off_topic}, {"role": "assistant", "content": refusal_text()}]
    assert "Collab" in engine.ask("Who built it?", history).standalone_question
    # nothing but refused exchanges before (fresh, twenty-third session): "it" is what they asked about
    refused = [{"role": "user", "content": "What is Collab?"}, {"role": "assistant", "content": refusal_text()}]
    assert "Collab" in engine.ask("Who built it?", refused).standalone_question


def test_an_earlier_reply_of_quotes_reaches_the_model_as_plain_sentences(store, embedder, llm) -> None:
    """Shown "From the documents: “...” [1]" in the history, the 0.5B wrote its next answer in that form (seen in a
    chat on Full Stack Python): its own text, dressed as quotes. The model sees the quoted sentences alone."""
    recording = RecordingLLM(llm)
    quoted = "From the documents: “Collab is a corporate intranet and collaboration platform.” [1]"
    history = [{"role": "user", "content": "What is Collab?"}, {"role": "assistant", "content": quoted}]
    answer = Engine(store, embedder=embedder, llm=recording).ask("Which agency built Collab?", history)
    assert recording.prompts, answer.to_dict()
    seen = [turn for turn in recording.prompts[-1] if turn["role"] == "assistant"]
    assert [turn["content"] for turn in seen] == ["Collab is a corporate intranet and collaboration platform. [1]"]
    assert not answer.answer.startswith('From the documents: "')


def test_source_prefix_filter(store, embedder) -> None:
    engine = Engine(store, embedder=embedder)
    everything = engine.retrieve(COLLAB)
    assert {p.source for p in everything} == {"full-stack-python.txt"}  # the corpus's one file
    # a prefix that matches that file keeps every passage, in the same order; one that matches none keeps none
    assert [p.id for p in engine.retrieve(COLLAB, source_prefix="full-stack")] == [p.id for p in everything]
    assert engine.retrieve(COLLAB, source_prefix="no/such/folder") == []
    answer = engine.ask(COLLAB, source_prefix="no/such/folder")  # refused before the model, and said why
    assert answer.abstained and answer.notice == (
        "No passage of the collection (or of the folder it was limited to) matches the question."
    )


def _ollama_engine(store: Settings, embedder, url: str) -> Engine:
    settings = store.updated(llm_backend="ollama", ollama_url=url, ollama_model="llama3.2:3b")
    return Engine(settings, embedder=embedder)


def _answer_with_reply(store: Settings, embedder, reply: str):
    """Ask the Collab question with the (stand-in) Ollama model replying ``reply``."""
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        return _ollama_engine(store, embedder, url).ask(COLLAB)


def test_well_cited_answer_keeps_its_checked_citations(store, embedder) -> None:
    reply = (
        "Collab was built by the Consumer Financial Protection Bureau (CFPB) [1]. "
        "It is used by thousands of CFPB employees [1][9]."
    )
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        answer = _ollama_engine(store, embedder, url).ask(COLLAB)
        sent = url.chats()[0]["messages"]
    assert answer.mode == "generated"
    assert all(s.supported for s in answer.sentences)
    assert "[9]" not in answer.answer  # a marker that points at no passage is dropped
    assert [c.number for c in answer.citations] == [1]
    assert "Collab" in answer.citations[0].quote
    # the prompt numbers the passages and fences them as quoted data
    assert "[1]" in sent[-1]["content"] and "<<<" in sent[-1]["content"]


def test_wrong_marker_is_moved_to_the_supporting_passage(store, embedder) -> None:
    engine = Engine(store, embedder=embedder)
    passages = engine.retrieve(COLLAB)
    wrong = next(n for n, p in enumerate(passages, start=1) if "Collab" not in p.text)
    right = next(n for n, p in enumerate(passages, start=1) if "Collab" in p.text)
    reply = f"Collab was built by the Consumer Financial Protection Bureau (CFPB) agency [{wrong}]."
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.sentences[0].citations == [right]
    assert answer.mode == "generated"


def test_unsupported_answer_falls_back_to_quotes(store, embedder) -> None:
    """(Names the passages hold, in claims they do not make: a name no passage holds is refused, below.)"""
    reply = (
        "Collab was built by NASA and the Navy in 1962 [1]. "
        "It runs on a fleet of mainframes under the sea [2]. Penguins maintain it [1]."
    )
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.mode == "extractive", answer.to_dict()
    assert answer.answer.startswith("From the documents:")
    assert "mainframes" not in answer.answer and "1962" not in answer.answer
    assert CFPB in answer.answer  # the quotes answer the question
    assert [c.number for c in answer.citations] == [1] and answer.citations[0].source == "full-stack-python.txt"
    assert all(c.quote.strip("“”") in c.passage for c in answer.citations)
    assert answer.notice == "The model's answer was not supported by the documents; these are direct quotes instead."


def test_a_negative_answer_its_passage_does_not_say_is_unsupported(store, embedder) -> None:
    """Fresh, thirteenth session: "Is there a free edition?" got "No, there is no free edition for students and open
    source projects." cited to a passage on PyCharm's free editions for them. Embeddings read a sentence and its
    negation as close: a negative sentence needs a negative passage sentence."""
    question = "Does NASA open source its software?"
    answer = _ask_with_reply(store, embedder, question, "NASA open sources much of its software. [1]")
    assert answer.mode == "generated" and all(s.supported for s in answer.sentences), answer.to_dict()
    answer = _ask_with_reply(store, embedder, question, "No, NASA does not open source much of its software. [1]")
    assert answer.mode != "generated" and "does not open source" not in answer.answer, answer.to_dict()


def test_quotes_need_a_sentence_close_to_the_question_else_it_is_refused(store, embedder) -> None:
    """An unsupported answer's quotes stand only while the closest sentence of the on-topic passages reaches
    ``min_quote_similarity``; above every sentence's similarity, docchat refuses instead."""
    question, reply = "What kind of software is Collab?", "Collab is a spreadsheet from the Agriculture Department [1]."
    strict = store.updated(min_quote_similarity=0.99)
    answer = _ask_with_reply(strict, embedder, question, reply)
    assert answer.abstained and answer.mode == "abstained" and not answer.citations, answer.to_dict()
    assert answer.notice == "No sentence of the closest passages is about the question."
    assert _ask_with_reply(store.updated(min_quote_similarity=0.3), embedder, question, reply).mode == "extractive"


def test_quotes_only_when_some_sentence_is_about_the_question(embedder) -> None:
    """ "Who founded Linode?" over a passage on using Linode: every sentence is on the topic, none is close
    to the question, so nothing is quoted (the engine then refuses)."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    passages = [_passage(1, "SSH into your new Linode server as root. Then update the packages with apt.", 0.9)]
    question = "Who founded Linode?"
    vectors = SentenceVectors(embedder.embed)
    vector = embedder.embed_query(question)
    assert extractive_answer(vector, passages, vectors, question=question).citations  # no bar: the best is quoted
    far = extractive_answer(vector, passages, vectors, question=question, min_similarity=0.5)
    assert not far.citations and not far.sentences


def test_a_sentence_with_every_term_but_the_one_asked_for_is_quoted(embedder) -> None:
    """seed-076 (nineteenth session): "Which companies use Flask?" was refused; the sentence that answers it holds
    "uses" and "Flask" and names the company, but says much else, so its cosine is under the 0.5 quotes need. Holding
    every term of the question, or of its first clause, but the noun it asks for ("companies", which an answer names),
    it is quoted. A question with a term no sentence holds ("sponsor") is still not answered from it."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    answer = ("Twilio also uses Flask to run the REST API endpoints and open sourced the Flask-RESTful framework so "
              "other developers could cut down the boilerplate in their web APIs.")  # fmt: skip
    passages = [_passage(1, f"Large technology companies tend to be polyglot. {answer}", 0.9)]
    vectors = SentenceVectors(embedder.embed)
    cases = (
        ("Which companies use Flask?", True),
        ("Which companies sponsor Flask?", False),
        # seed-081 (fourteenth session, refused until the twenty-second): a first clause it holds, then another part
        ("Which companies use Flask, and what else do they build with it?", True),
        ("Which companies sponsor Flask, and what else do they build with it?", False),
    )
    for question, quoted in cases:
        vector = embedder.embed_query(question)
        assert float(vector @ embedder.embed_query(answer)) < 0.5, question
        found = extractive_answer(vector, passages, vectors, question=question, min_similarity=0.5)
        assert (f"“{answer}”" in [s.text for s in found.sentences]) is quoted, found.text()
        assert bool(found.sentences) is quoted, found.text()  # not answered at all from the other sentence


def test_the_list_under_a_heading_that_names_the_question_is_quoted(embedder) -> None:
    """Fresh, twentieth session: "What is the Python checklist?" was refused, since the items under the "Python
    Checklist" heading ("(1) Scripting (Python Fundamental)") are far from the question. Under a heading that holds
    every term of the question, they are quoted; a question with a term the heading lacks ("item 6") is not
    answered from them."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    items = "(1) Scripting (Python Fundamental)\n\n(2) Data (Relational databases, ORM, NoSQL, Data Analysis)"
    passage = replace(_passage(1, items, 0.9), heading="Guide > Python Checklist")
    vectors = SentenceVectors(embedder.embed)
    for question, quoted in (
        ("What is the Python checklist?", True),
        ("What is item 6 of the Python checklist?", False),
    ):
        vector = embedder.embed_query(question)
        assert max(float(vector @ embedder.embed_query(line)) for line in items.split("\n\n")) < 0.5, question
        found = extractive_answer(vector, [passage], vectors, question=question, min_similarity=0.5)
        assert bool(found.citations) is quoted, found.text()
        if quoted:  # both items, though the second adds no term of the question and is below the bar
            assert len(found.sentences) == 3, found.text()


def test_asked_what_a_name_is_the_sentences_that_name_it_are_quoted(embedder) -> None:
    """Fresh, twentieth session: "What is Wagtail?" was refused on the seed document, whose one sentence on it
    ("... Django and the Wagtail content management system ...") is under the 0.5 bar. Asked what a name is, the
    sentences holding that name are quoted, and only they; a name no sentence holds is still not answered."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    text = (
        "Twilio uses Python with Django and the Wagtail content management system to power the Twilio documentation"
        " as well as TwilioQuest. Netflix uses Python throughout their organization to run chaos engineering tests."
    )
    passage = _passage(1, text, 0.9)
    vectors = SentenceVectors(embedder.embed)
    for question, quoted in (("What is Wagtail?", "Wagtail"), ("What is Mezzanine?", None)):
        vector = embedder.embed_query(question)
        assert max(float(vector @ embedder.embed_query(s)) for s in text.split(". ")) < 0.5, question
        found = extractive_answer(vector, [passage], vectors, question=question, min_similarity=0.5)
        if quoted is None:
            assert not found.citations, found.text()
        else:
            assert quoted in found.text() and "Netflix" not in found.text(), found.text()


def test_a_follow_up_s_quotes_read_the_turn_as_asked_too(embedder) -> None:
    """fsp-094 (sixteenth session): "Which web framework is it handy for?" after "What is the encode databases
    project?" was rewritten with the earlier question kept, and that rewrite is far from the sentence that answers
    the turn (0.39): refused. Read as asked too (0.55), the turn gets its quote."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    text = ("databases provides asyncio support with an SQLAlchemy Core interface for common relational databases "
            "such as MySQL, PostgreSQL and SQLite. This is handy for integrating with asynchronous I/O web frameworks "
            "like Sanic. The project is open sourced under the BSD 3-Clause License.")  # fmt: skip
    turn = "Which web framework is it handy for?"
    rewrite = f"What is the encode databases project? {turn}"
    vectors = SentenceVectors(embedder.embed)
    rewritten = embedder.embed_query(rewrite)
    far = extractive_answer(rewritten, [_passage(1, text, 0.9)], vectors, question=rewrite, min_similarity=0.5)
    assert not far.citations
    both = np.stack([rewritten, embedder.embed_query(turn)])
    quoted = extractive_answer(both, [_passage(1, text, 0.9)], vectors, question=rewrite, min_similarity=0.5)
    assert "This is handy for integrating with asynchronous I/O web frameworks like Sanic." in quoted.sentences[1].text


def test_a_line_of_code_or_a_heading_is_never_quoted(embedder) -> None:
    """Fresh, eleventh session: "Who created SQLAlchemy?" was answered with the quote "~~from sqlalchemy.engine
    import create_engine" (a code example's line, with a code name in it), and "Which company acquired Ansible?"
    with the link titles "Getting Started with Ansible" and "Introducing Ansible into Legacy Projects" (their
    capitalised words read as names)."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    code = "~~from sqlalchemy.engine import create_engine as sqlalchemy_create_engine"
    prose = "SQLAlchemy provides a generalized interface for database-agnostic code."
    question = "Who created SQLAlchemy create_engine?"
    vectors = SentenceVectors(embedder.embed)
    vector = embedder.embed_query(question)
    assert float(vector @ embedder.embed_query(code)) > float(vector @ embedder.embed_query(prose))  # code is closer
    passages = [_passage(1, f"{code}\nengine = sqlalchemy_create_engine(url)\n{prose}", 0.9)]
    quoted = extractive_answer(vector, passages, vectors, question=question)
    assert [s.text for s in quoted.sentences[1:]] == [f"“{prose}”"]

    question = "Which company acquired Ansible?"
    vector = embedder.embed_query(question)
    titles = "Getting Started with Ansible\nIntroducing Ansible into Legacy Projects"
    prose = "Ansible is a configuration management tool written in Python."
    passages = [_passage(1, f"{titles}\n{prose}", 0.9)]
    quoted = extractive_answer(vector, passages, vectors, question=question)
    assert [s.text for s in quoted.sentences[1:]] == [f"“{prose}”"]
    # a credit says who wrote the words before it: "Who wrote the quote about Java-only shops?" (fresh, eleventh
    # session) is answered by "Source: Matt Makai"
    question = "Who wrote the quote about Java-only shops?"
    said = "Many companies are a Java-only shop but still use Python.\nSource: Matt Makai"
    quoted = extractive_answer(embedder.embed_query(question), [_passage(1, said, 0.9)], vectors, question=question)
    assert "“Many companies are a Java-only shop but still use Python. Source: Matt Makai”" in [
        s.text for s in quoted.sentences
    ], quoted.text()  # with the words it credits


def test_a_sentence_that_says_the_project_for_a_name_is_read_with_that_name(embedder) -> None:
    """Fresh, thirteenth session: "How many employees use Collab?" was refused; its answer, "The project is
    currently running and in-use by thousands of CFPB employees.", says "The project" for the Collab of the sentence
    before it, and as written it is far from the question (cosine 0.42, under the 0.5 quotes need). Read with the
    name (0.73), it is quoted, with the sentence before it so that the quote says what it is about."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer, read_with_subject

    named = "(1) Collab by the Consumer Financial Protection Bureau (CFPB) is a corporate intranet platform."
    leaning = "The project is currently running and in-use by thousands of CFPB employees."
    assert read_with_subject(leaning, named) == "Collab is currently running and in-use by thousands of CFPB employees."
    assert read_with_subject("The framework is small.", "The Pyramid project is old.") == "Pyramid is small."
    assert read_with_subject("They hired Guido.", "Dropbox uses Python.") == ""  # quoted with the one before anyway
    assert read_with_subject("The large numbers help.", "GPT-3 is large.") == ""  # "the <adjective> <noun>"
    assert read_with_subject("The Django ORM is fast.", "Dropbox uses Python.") == ""  # a name, not "the <noun>"
    assert read_with_subject("The project is old.", "many teams use it.") == ""  # no name before it
    question = "How many employees use Collab?"
    vector, vectors = embedder.embed_query(question), SentenceVectors(embedder.embed)
    assert float(vector @ embedder.embed_query(leaning)) < 0.5
    passages = [_passage(1, f"{named} {leaning}", 0.9)]
    quoted = extractive_answer(vector, passages, vectors, question=question, min_similarity=0.5)
    assert [s.text for s in quoted.sentences[1:]] == [f"“{named} {leaning}”"], quoted.text()


def test_partly_unsupported_sentence_is_marked(store, embedder) -> None:
    reply = (
        "Collab was built by the Consumer Financial Protection Bureau (CFPB) agency [1]. "
        "It is a corporate intranet and collaboration platform for large organizations [1]. "
        "Its mascot is a purple giraffe [1]."
    )
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.mode == "generated"
    flags = {s.text.split()[1]: s.supported for s in answer.sentences}
    assert flags == {"was": True, "is": True, "mascot": False}
    # an unsupported sentence naming what no passage holds is left out, with a notice (twenty-fourth session)
    answer = _answer_with_reply(store, embedder, reply.replace("giraffe [1]", "giraffe named Gerald [1]"))
    assert answer.mode == "generated" and "Gerald" not in answer.answer, answer.to_dict()
    assert "Left out a sentence naming gerald" in answer.notice, answer.notice


@pytest.mark.parametrize(("llm_refusal", "abstains"), [("auto", True), ("abstain", True), ("quote", False)])
def test_a_capable_models_refusal_abstains_unless_set_to_quote(store, embedder, llm_refusal, abstains) -> None:
    """The stand-in Ollama model (default profile) gives the refusal marker, although the passages passed
    the relevance gate: ``auto`` trusts it (the profile does) and abstains; ``quote`` answers with quotes."""
    settings = store.updated(llm_refusal=llm_refusal)
    answer = _answer_with_reply(settings, embedder, "NO_ANSWER")
    assert answer.abstained is abstains
    if abstains:
        assert answer.mode == "abstained" and not answer.citations and "no answer" in answer.notice
    else:
        assert answer.mode == "extractive" and answer.answer.startswith("From the documents:")
        assert [c.number for c in answer.citations] == [1]
        assert all(c.quote.strip("“”") in c.passage for c in answer.citations)
        assert "Collab" in answer.answer and CFPB in answer.answer


def _ask_with_reply(store: Settings, embedder, question: str, reply: str):
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        return _ollama_engine(store, embedder, url).ask(question)


def _ask_citing(store: Settings, embedder, question: str, reply: str, holding: str):
    """Ask ``question`` with the stand-in model replying ``reply`` cited to the retrieved passage whose text holds
    ``holding`` (its number is known only once the question has been retrieved for)."""
    retrieved = _ask_with_reply(store, embedder, question, reply).retrieved
    number = next(n for n, passage in enumerate(retrieved, start=1) if holding in passage.text)
    return _ask_with_reply(store, embedder, question, f"{reply} [{number}]")


def test_a_name_the_model_invents_for_a_question_asking_for_one_is_a_refusal(store, embedder) -> None:
    """Fresh, eleventh session: "Who founded Linode?" over passages on using Linode was answered "Linode was
    founded by Larry Wall." (a name no passage holds), then quotes on SSH into a Linode server. Asked for a name,
    a model that had to invent one shows the passages do not state it: refused, not quoted."""
    reply = "Jessica McKellar co-founded Pilot together with Larry Wall after Dropbox. [1]"
    answer = _ask_with_reply(store, embedder, "Which company did Jessica McKellar co-found?", reply)
    assert answer.abstained and answer.mode == "abstained", answer.to_dict()
    assert answer.notice.startswith("The model named larry, pilot, wall, which no passage mentions"), answer.notice
    answer = _ask_with_reply(store, embedder, "What did Jessica McKellar do after Dropbox?", reply)  # no name asked
    assert not answer.notice.startswith("The model named"), answer.to_dict()
    # a profile whose model makes names up even when the passages state them (SmolLM2's): quotes, as before
    overridden = store.updated(llm_profile_overrides={"invented_name_refuses": False})
    answer = _ask_with_reply(overridden, embedder, "Which company did Jessica McKellar co-found?", reply)
    assert not answer.notice.startswith("The model named"), answer.to_dict()
    reply = "Dropbox hired Jessica McKellar. [1]"  # a name the passages hold: checked as before
    answer = _ask_with_reply(store, embedder, "Which company hired Jessica McKellar?", reply)
    assert not answer.abstained and "Dropbox" in answer.answer, answer.to_dict()


def test_an_answer_without_the_kind_of_fact_asked_for_becomes_quotes_that_state_it(store, embedder) -> None:
    """ "Which agency ...?" asks for a name: a true, supported sentence that names none is not an answer."""
    answer = _ask_with_reply(store, embedder, COLLAB, "Collab is a collaboration platform [1].")
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert "CFPB" in answer.answer or CFPB in answer.answer  # the quote that names who built it
    assert answer.notice.startswith(  # asked who built it: a name credited with building it
        "The model's answer does not state a name credited with it (such as “created by …”), which the question asks"
    )


def test_an_answer_to_whether_something_holds_must_say_something_of_it(store, embedder) -> None:
    """Fresh, twenty-third session: "Is Odoo open source?" was answered with what Odoo is (supported, and silent on
    open source). Asked whether something holds, an answer that holds none of the question's terms but its names
    is no answer: the quotes then need such a term too, and none about Odoo has one (refused)."""
    from docchat.app.answer_type import asks_yes_no

    assert asks_yes_no("Is Odoo open source?") and asks_yes_no("Can I deploy Sanic on Windows?")
    assert not asks_yes_no("Is there a tutorial on Slack bots?") and not asks_yes_no("What is Odoo?")
    assert not asks_yes_no("Should I use MySQL or PostgreSQL?") and not asks_yes_no("Is Flask or Django older?")
    odoo = "Odoo is an all-in-one management software that offers a range of business applications. [1]"
    answer = _ask_with_reply(store, embedder, "Is Odoo open source?", odoo)
    assert answer.mode != "generated", answer.to_dict()
    answer = _ask_with_reply(
        store, embedder, "Is NASA's software open source?", "NASA open sources much of its software [1]."
    )
    assert answer.mode == "generated", answer.to_dict()


def test_a_name_the_passages_do_not_call_what_was_asked_for_becomes_quotes_that_do(store, embedder) -> None:
    """Fresh, twenty-first session: "Which intelligence agencies use Python?" was answered "NASA uses Python
    extensively." (supported, a name), though the document says "intelligence agencies like the CIA, FBI and NSA".
    Where the passages say the kind asked for, a name they never call so is no answer: quotes that say it are."""
    question = "Which intelligence agencies use Python?"
    answer = _ask_with_reply(store, embedder, question, "NASA uses Python extensively. [1]")
    assert answer.mode == "extractive" and not answer.abstained, answer.notice
    assert "the CIA, FBI and NSA" in answer.answer and "NASA uses" not in answer.answer, answer.to_dict()
    answer = _ask_with_reply(store, embedder, question, "The CIA, FBI and NSA use Python. [1]")
    assert answer.mode == "generated", answer.to_dict()


def test_which_names_the_passages_call_what_was_asked_for() -> None:
    """The check behind the test above: a name counts where a sentence (or its title, heading or the list it
    introduces) says the kind; a kind no passage says, or a question that asks for none, leaves any name."""
    from docchat.app.answer_type import asked_kind
    from docchat.app.citations import outside_the_asked_kind

    def outside(question: str, answer: str, passages: list[Passage]) -> list[str]:
        kind = asked_kind(question)
        return outside_the_asked_kind(question, kind, answer, passages) if kind else []

    agencies = _passage(1, "Users range from regulators like the SEC to intelligence agencies like the CIA. "
                        "NASA uses Python extensively.", 0.9)  # fmt: skip
    question = "Which intelligence agencies use Python?"
    assert outside(question, "NASA uses Python extensively.", [agencies]) == ["nasa"]
    assert outside(question, "The CIA uses Python.", [agencies]) == []
    assert outside("Which space agencies use Python?", "NASA uses Python.", [agencies]) == []
    assert outside("Which agencies use Python?", "NASA uses Python.", [agencies]) == []
    listed = _passage(2, "Popular web frameworks include:\nDjango\nFlask\n\nTornado is fast.", 0.9)
    assert outside("Which web frameworks are popular?", "Flask is popular.", [listed]) == []
    assert outside("Which web frameworks are fast?", "Tornado is fast.", [listed]) == ["tornado"]


def test_a_kind_of_software_asked_for_alone_must_be_what_the_passages_call_the_answer(store, embedder) -> None:
    """Fresh, twenty-fourth session: "What database does Reddit use?" was answered "Reddit uses Python ...", and
    "Which ORM does Netflix use?" quoted "Netflix uses Python ...". A kind of software asked for by its noun alone
    ("database", "ORM") is held to what the passages call one, as a two-word kind is. (Replies: a fake Ollama.)"""
    reply = "Reddit uses Python and it is one of the largest sites at scale to use the programming language. [1]"
    answer = _ask_with_reply(store, embedder, "What database does Reddit use?", reply)
    assert answer.abstained, answer.to_dict()
    answer = _ask_with_reply(store, embedder, "What language does Reddit use?", reply)  # "the programming language"
    assert answer.mode == "generated", answer.to_dict()


def test_the_name_a_large_collection_is_about_is_no_server_for_being_near_the_word(
    store, embedder, monkeypatch
) -> None:
    """fsp-127 in the engine: "Dropbox uses Python ..." for "What server does Dropbox use?" stands over the seed
    document, where "Python" is in the sentence that says "server" ("... use Python to script the server's
    configuration"). Counted as a large collection, whose every chunk names Python, that is no longer enough: no
    sentence calls Python a server. (Replies: a fake Ollama.)"""
    import docchat.app.engine as engine_module

    question = "What server does Dropbox use?"
    retrieved = _ask_with_reply(store, embedder, question, "Dropbox uses Python. [1]").retrieved
    number = next(n for n, p in enumerate(retrieved, start=1) if "Dropbox is well-known" in p.text)
    reply = f"Dropbox is well-known for using Python across their application development. [{number}]"
    answered = _ask_with_reply(store, embedder, question, reply)
    assert answered.mode == "generated" and "Dropbox" in answered.answer, answered.to_dict()  # 9 chunks: left alone
    monkeypatch.setattr(engine_module, "ABSENT_WORD_MIN_CHUNKS", 1)
    checked = _ask_with_reply(store, embedder, question, reply)
    assert checked.mode != "generated", checked.to_dict()
    assert checked.abstained or all("Dropbox is well-known" not in c.quote for c in checked.citations)


def test_a_name_a_large_collection_is_about_counts_only_where_called_the_kind() -> None:
    """fsp-127: "What database does Netflix use?" was answered "Netflix uses Python ..." over the Databases page,
    where "Python" is near "database" as it is near every word of a Python site. Such a name counts only where a
    sentence calls it the kind; other names as before."""
    from docchat.app.answer_type import asked_kind
    from docchat.app.citations import called_the_kind, outside_the_asked_kind

    question = "What database does Netflix use?"
    kind = asked_kind(question)
    assert kind is not None
    page = _passage(
        1, "Python developers use databases to store data. PostgreSQL is a database. Netflix uses Python.", 0.9
    )
    page.title = "Databases"
    assert outside_the_asked_kind(question, kind, "Netflix uses Python.", [page]) == []  # near "databases"
    pervasive = {"python"}.__contains__
    assert outside_the_asked_kind(question, kind, "Netflix uses Python.", [page], pervasive) == ["python"]
    assert outside_the_asked_kind(question, kind, "Netflix uses PostgreSQL.", [page], pervasive) == []
    language = asked_kind("What programming language does Netflix use?")
    assert language is not None
    assert called_the_kind("python", language, "Python is a general-purpose programming language.")
    bare = asked_kind("What language does Netflix use?")
    assert bare is not None and called_the_kind("python", bare, "with Python either as a primary language or the glue")
    assert not called_the_kind("python", asked_kind("Which library does Netflix use?"), "the Python standard library")
    framework = asked_kind("Which web framework is Wagtail built on?")
    assert framework is not None and called_the_kind("django", framework, "built with the Django web framework")
    assert not called_the_kind("python", language, "Python developers use many programming languages.")
    assert called_the_kind("postgresql", kind, "relational databases such as SQLite, PostgreSQL and MySQL")
    assert not called_the_kind("python", kind, "relational databases such as SQLite, PostgreSQL and MySQL")


def test_kinds_of_software_asked_for_alone() -> None:
    """The bare noun counts in a question of one clause; "Which companies ...?" names companies without the noun."""
    from docchat.app.answer_type import asked_kind
    from docchat.app.citations import outside_the_asked_kind

    kind = asked_kind("What database does Reddit use?")
    assert kind is not None and kind.search("two Databases") and not kind.search("databased")
    assert asked_kind("Which ORMs does Pyramid support?").search("an ORM")
    assert asked_kind("What database does Reddit use, and why?") is None
    assert asked_kind("Which companies use Flask?") is None and asked_kind("What does Reddit use?") is None
    passage = _passage(1, "PostgreSQL is the database Instagram runs on. Reddit uses Python.", 0.9)
    assert outside_the_asked_kind("What database does Reddit use?", kind, "Reddit uses Python.", [passage]) == [
        "python"
    ]
    assert outside_the_asked_kind("What database does Instagram use?", kind, "PostgreSQL.", [passage]) == []


def test_an_answer_that_says_nothing_of_a_kind_no_passage_says_is_a_refusal(store, embedder) -> None:
    """fsp-127: "What database does Netflix use?" over passages that never say "database" was answered "Netflix
    uses Python throughout their organization ...": no passage says the kind, so it had nothing to be held to, and
    the answer says nothing of it. Refused now (the quotes must say the kind, and none does), and so are quotes that
    say nothing of what was asked ("Which editor does Guido van Rossum use?": fresh, twenty-sixth session). (Replies:
    a fake Ollama.)"""
    reply = "Netflix uses Python throughout their organization to run chaos engineering tests. [1]"
    answer = _ask_with_reply(store, embedder, "What editor does Netflix use?", reply)
    assert answer.abstained, answer.to_dict()
    # an answer no passage supports falls back to quotes, held to the same: "Netflix uses Python ..." is no editor
    answer = _ask_with_reply(store, embedder, "Which editor does Netflix use?", "Netflix has teams with tools. [1]")
    assert answer.abstained and answer.notice.startswith("Neither the closest sentences"), answer.to_dict()
    reply = "A significant portion of Reddit is built in Python. [3]"  # says "built": left to the other checks
    answer = _ask_with_reply(store, embedder, "What compiler is Reddit built in?", reply)
    assert answer.mode == "generated" and "Python" in answer.answer, answer.to_dict()


def test_what_an_answer_must_say_when_no_passage_says_the_kind() -> None:
    """The check behind the test above: a kind said by a passage or by the answer, or another term of the question
    the answer says ("written"), leaves the answer alone; the verbs that only tie the subject to the kind do not."""
    from docchat.app.answer_type import asked_kind
    from docchat.app.citations import kind_unaddressed

    netflix = _passage(1, "Netflix uses Python throughout their organization to run chaos engineering tests.", 0.9)
    kind = asked_kind("What database does Netflix use?")
    assert kind is not None
    assert kind_unaddressed("What database does Netflix use?", kind, "Netflix uses Python. [1]", [netflix])
    assert kind_unaddressed("What database does Netflix run on?", kind, "Netflix runs Python.", [netflix])
    assert not kind_unaddressed("What database does Netflix use?", kind, "Netflix has a database.", [netflix])
    postgres = _passage(2, "Netflix stores data in a PostgreSQL database.", 0.9)
    assert not kind_unaddressed("What database does Netflix use?", kind, "Netflix uses Python.", [netflix, postgres])
    language = asked_kind("What language is Flask written in?")
    flask = _passage(3, "Flask is a micro web framework for Python.", 0.9)
    assert language is not None
    assert not kind_unaddressed("What language is Flask written in?", language, "Flask is written in Python.", [flask])
    assert kind_unaddressed("What language is Flask written in?", language, "Flask is a Python framework.", [flask])


def test_a_purpose_asked_about_must_be_said(store, embedder) -> None:
    """Fresh, twenty-fourth session: "What does Reddit use for its frontend?" was answered "Reddit is built in
    Python ...": true, cited, and silent on a frontend. An answer to "What does X use for Y?" must say Y, and so
    must its quotes (none does here: refused). (Replies: a fake Ollama.)"""
    reply = "Reddit is built in Python and it is one of the largest sites at scale to use the programming language. [1]"
    answer = _ask_with_reply(store, embedder, "What does Reddit use for its frontend?", reply)
    assert answer.abstained, answer.to_dict()
    reply = "Twilio uses Flask to run the REST API endpoints. [1]"
    answer = _ask_with_reply(store, embedder, "What does Twilio use for its REST API endpoints?", reply)
    assert answer.mode == "generated" and "Flask" in answer.answer, answer.to_dict()


def test_a_bare_name_for_an_answer_makes_its_sentence_a_quote_that_names_it(store, embedder) -> None:
    """Fresh, tenth session: the 0.5B answered "Which company uses Python for chaos engineering tests?" with
    "Netflix" alone (not a claim to check), and the passages write Netflix only at a sentence's start, where a
    capitalised word is no name by itself: docchat refused. The name the model gave counts."""
    answer = _ask_with_reply(store, embedder, "Which company uses Python for chaos engineering tests?", "Netflix")
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert "Netflix uses Python" in answer.answer


@pytest.mark.parametrize("reply", ["Matt Makai", "Matt Makai [1]"])
def test_a_bare_name_a_credit_line_gives_answers_a_question_for_a_name(store, embedder, reply) -> None:
    """Fourteenth session (seed-041, seed-066): the 0.5B answered "Who is the source of the quote about Java-only
    shops?" with "Matt Makai [1]", true by the passage's "Source: Matt Makai", but too short to check as a claim:
    docchat refused. A bare name in a credit line of an on-topic passage now answers a question asking for a name,
    cited to that line; the same name for a question asking for no name is no answer."""
    answer = _ask_with_reply(store, embedder, "Who is the source of the quote about Java-only shops?", reply)
    assert answer.mode == "generated" and answer.answer.startswith("Matt Makai ["), answer.to_dict()
    assert [c.quote for c in answer.citations] == ["Source: Matt Makai"], answer.to_dict()
    answer = _ask_with_reply(store, embedder, "What does the quote about Java-only shops say?", reply)
    assert answer.mode != "generated", answer.to_dict()


def test_a_credit_line_is_quoted_with_the_sentence_it_credits(store, embedder) -> None:
    """seed-013: "What source is given for the Odoo business application example?" answered with the Odoo sentence
    alone names no source; the passage's "Source: python.org" (two words, no name by its letters) was no quote
    candidate. A credit line states who wrote the words before it, and is read and quoted with them."""
    reply = "Odoo is an all-in-one management software [1]."
    answer = _ask_with_reply(store, embedder, "What source is given for the Odoo business application example?", reply)
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert "Odoo is an all-in-one management software" in answer.answer and "Source: python.org" in answer.answer
    # a credit names who wrote the words, not what they are about: no answer to "Which database does Odoo use?"
    answer = _ask_with_reply(store, embedder, "Which database does Odoo use to store its data?", reply)
    assert "python.org" not in answer.answer, answer.to_dict()


def test_a_dash_credit_is_quoted_with_the_paragraph_it_closes(store, embedder) -> None:
    """seed-003: "Whose definition of full stack development does the document quote?" was refused: the definition's
    paragraph ends "... and processing data. - AWS", and "- AWS" was no credit; read with the sentence before it
    alone it was far from the question (0.24). A dash and a name closing a paragraph credit the whole paragraph."""
    from docchat.app.sentences import credited, is_credit, split_sentences

    assert is_credit("- AWS") and is_credit("— Guido van Rossum") and not is_credit("- the backend")
    assert not is_credit("- Django is a framework.")
    text = "Intro line.\nFirst of two. Second of two. - AWS\nSource: python.org"
    sentences = split_sentences(text)
    assert credited(text, sentences, sentences.index("- AWS")) == "First of two. Second of two."
    assert credited(text, sentences, len(sentences) - 1) == "First of two. Second of two. - AWS"  # a line of its own
    question = "Whose definition of full stack development does the document quote?"
    answer = _ask_with_reply(store, embedder, question, "The document quotes a definition [1].")
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert "Full stack development is the process" in answer.answer and "- AWS" in answer.answer, answer.answer
    # seed-115: "Who defined ...?" asks for the credit as well (it was refused: "- AWS" was read as no answer)
    question = "Who defined full stack development in the document?"
    answer = _ask_with_reply(store, embedder, question, "The document defines it [1].")
    assert not answer.abstained and "- AWS" in answer.answer, answer.to_dict()


@pytest.mark.parametrize("reply", ["Collab was built by the CFPB [1].", "NO_ANSWER"])
def test_a_question_for_a_date_the_passages_never_state_is_refused(store, embedder, reply) -> None:
    """Whatever the model replies (an answer without a date, or its refusal quoted by the default profile's
    trust), no sentence of the passages states a date for Collab: docchat refuses instead of quoting."""
    settings = store.updated(llm_refusal="quote")
    question = "In which year did the Consumer Financial Protection Bureau build the Collab platform?"
    answer = _ask_with_reply(settings, embedder, question, reply)
    assert max(p.relevance for p in answer.retrieved) >= settings.retrieval.min_relevance  # past the gate
    assert answer.abstained and answer.mode == "abstained" and not answer.citations, answer.to_dict()
    assert answer.notice.startswith("The closest passages do not state a date or time for "), answer.notice


def test_a_version_no_passage_mentions_is_refused_without_the_llm(store, embedder, llm) -> None:
    counting = RecordingLLM(llm)
    answer = Engine(store, embedder=embedder, llm=counting).ask(
        "Does the Consumer Financial Protection Bureau run its Collab collaboration platform on Python 3.12?"
    )
    assert max(p.relevance for p in answer.retrieved) >= store.retrieval.min_relevance  # the topic is there ...
    assert answer.abstained and counting.calls == 0  # ... the version is not
    assert answer.notice == "The passages found do not mention 3.12."


def test_a_name_no_passage_mentions_is_refused_without_the_llm(store, embedder, llm) -> None:
    """The held-out "Which database does Odoo run on?" over a corpus without Odoo: the topic (databases) is
    there, the thing asked about is not."""
    counting = RecordingLLM(llm)
    question = "Which government agency built Collab together with Zendesk?"
    answer = Engine(store, embedder=embedder, llm=counting).ask(question)
    assert max(p.relevance for p in answer.retrieved) >= store.retrieval.min_relevance  # the topic is there ...
    assert answer.abstained and counting.calls == 0  # ... Zendesk is not
    assert answer.notice == "The passages found do not mention zendesk."


def _frameworks_and_sites(tmp_path: Path, model_cache, embedder) -> Settings:
    """A collection that holds Reddit, but whose passage on web frameworks never says it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "frameworks.md").write_text(
        "# Python web frameworks\n\nDjango and Flask are the Python web frameworks most sites are built on. "
        "Django ships an ORM and an admin; Flask stays small and leaves those choices to the developer.\n"
    )
    (corpus / "sites.md").write_text("# Social sites\n\nReddit lists the most popular posts of the day.\n")
    settings = isolated_settings(seed_model(tmp_path / "data", model_cache, embedder), llm_refusal="quote")
    ingest_paths(settings, [corpus], embedder=embedder)
    return settings


def test_a_paragraph_repeated_on_many_pages_is_retrieved_once(tmp_path: Path, model_cache, embedder) -> None:
    """Full Stack Python repeats a project's description on up to 9 example pages; five copies of it would fill
    the answer's context with one passage and leave out the page that says more."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    repeated = (
        "django-jet is a fancy Django Admin panel replacement. The django-jet project is open source under the "
        "GNU Affero General Public License v3.0."
    )
    for name in ("forms", "admin", "urls", "views", "models"):
        (corpus / f"django-{name}-examples.md").write_text(f"# django.{name} examples\n\n{repeated}\n")
    (corpus / "django-jet.md").write_text(
        "# Django admin themes\n\ndjango-jet adds a dashboard with widgets and a dark theme to the Django Admin.\n"
    )
    (corpus / "grappelli.md").write_text("# Grappelli\n\nGrappelli is another skin for the Django Admin.\n")
    settings = isolated_settings(seed_model(tmp_path / "data", model_cache, embedder))
    ingest_paths(settings, [corpus], embedder=embedder)
    question = "What is django-jet and which license is it under?"
    passages = Engine(settings, embedder=embedder).retrieve(question, top_k=3)
    texts = [" ".join(p.text.split()) for p in passages]
    assert sum(repeated in text for text in texts) == 1, texts
    assert any("dashboard with widgets" in text for text in texts), texts
    assert len(passages) == 3 and len(set(texts)) == 3


def test_an_answer_about_something_else_than_the_question_names_is_refused(
    tmp_path: Path, model_cache, embedder
) -> None:
    """ "Which companies sponsor the Pelican project?" (fresh, eighth session) was answered "PyCon US is the
    community-run Python developer conference. [1]", cited to a post that never names Pelican: a supported
    sentence with a name in it, about something else. Neither it nor its passage mentions Pelican, and no
    sentence on Pelican names a sponsor, so docchat refuses."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pelican.md").write_text(
        "# Pelican\n\nPelican is a static site generator project. The Pelican project turns text files into a "
        "website.\n"
    )
    (corpus / "conferences.md").write_text(
        "# Conferences\n\nPyCon US is the community-run developer conference; companies sponsor it every year.\n"
    )
    settings = isolated_settings(seed_model(tmp_path / "data", model_cache, embedder), llm_refusal="quote")
    ingest_paths(settings, [corpus], embedder=embedder)
    question = "Which companies sponsor the Pelican project?"
    with run_fake_ollama(models={"llama3.2:3b": "NO_ANSWER"}) as url:
        numbers = {
            p.source.rsplit("/", 1)[-1]: n
            for n, p in enumerate(_ollama_engine(settings, embedder, url).retrieve(question), 1)
        }
    reply = f"PyCon US is the community-run developer conference that companies sponsor [{numbers['conferences.md']}]."
    answer = _ask_with_reply(settings, embedder, question, reply)
    assert max(p.relevance for p in answer.retrieved) >= settings.retrieval.min_relevance, answer.to_dict()
    assert answer.abstained and not answer.citations, answer.to_dict()
    assert answer.notice == "The closest passages do not state a name for pelican, which the question asks for."


def test_quotes_that_never_name_what_was_asked_about_are_refused(tmp_path: Path, model_cache, embedder) -> None:
    """The model finds no answer (quoted, by the profile's setting), and the closest sentences are about
    something else."""
    settings = _frameworks_and_sites(tmp_path, model_cache, embedder)
    answer = _ask_with_reply(settings, embedder, "Which web framework is Reddit built on?", "NO_ANSWER")
    assert max(p.relevance for p in answer.retrieved) >= settings.retrieval.min_relevance, answer.to_dict()
    assert answer.abstained and answer.mode == "abstained" and not answer.citations, answer.to_dict()
    # the sentences that name something never mention Reddit (the passage that does names nothing else)
    assert answer.notice == "The closest passages do not state a name for reddit, which the question asks for."


def test_a_name_taken_from_the_question_must_be_in_the_cited_passage(tmp_path: Path, model_cache, embedder) -> None:
    """ "Reddit runs on Flask" (the real 0.5B, over Full Stack Python): every other word is the framework
    passage's, but that passage never says Reddit."""
    settings = _frameworks_and_sites(tmp_path, model_cache, embedder)
    question = "Which web framework is Reddit built on?"
    passages = Engine(settings, embedder=embedder).retrieve(question)
    cited = next(n for n, p in enumerate(passages, start=1) if p.source.endswith("frameworks.md"))
    claim = "Reddit is one of the sites built on Flask, a Python web framework"
    answer = _ask_with_reply(settings, embedder, question, f"{claim} [{cited}].")
    assert answer.mode != "generated" and claim not in answer.answer, answer.to_dict()
    assert not any(s.supported and "Reddit" in s.text for s in answer.sentences)


def test_a_real_answer_that_mentions_the_marker_phrase_is_not_a_refusal(store, embedder) -> None:
    """Only the structured marker refuses: "does not cover" inside a real answer is just words."""
    reply = "Collab was built by the Consumer Financial Protection Bureau [1]. The documents do not cover its licence."
    answer = _answer_with_reply(store, embedder, reply)  # short, with "do not cover": the old substring rule refused
    assert not answer.abstained and answer.mode == "generated"
    assert answer.sentences[0].supported and answer.citations


def test_refusal_trust_and_rewrites_come_from_the_model_profile_not_the_name(tmp_path: Path) -> None:
    from docchat.components.llm.backends import resolve_profile

    tiny = resolve_profile(Settings(data_dir=tmp_path, llm_model="smollm2-135m"))
    assert not tiny.trust_refusals and not tiny.trust_rewrites and tiny.passage_budget == 240
    # The same file under any name: a user's own path gets the default profile unless they name one.
    assert resolve_profile(Settings(data_dir=tmp_path, llm_model_path=tmp_path / "smollm2-135m.gguf")).trust_refusals
    assert resolve_profile(Settings(data_dir=tmp_path, llm_backend="ollama", ollama_model="smollm2:135m")).name == (
        "default"
    )
    overrides = {"repeat_penalty": 1.3}
    chosen = resolve_profile(Settings(data_dir=tmp_path, llm_backend="ollama", llm_profile="smollm2-135m",
                                      llm_refusal="abstain", llm_profile_overrides=overrides))  # fmt: skip
    assert chosen.name == "smollm2-135m" and chosen.trust_refusals and chosen.repeat_penalty == 1.3
    with pytest.raises(Exception, match="not_a_field"):
        resolve_profile(Settings(data_dir=tmp_path, llm_profile_overrides={"not_a_field": 1}))


def test_unreachable_backend_gives_one_clear_sentence(store, embedder) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(LLMUnavailable, match="Cannot reach Ollama"):
        list(_ollama_engine(store, embedder, url).stream(COLLAB))


def test_cli_ask_json_and_clear_errors(
    store: Settings, embedder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = CliRunner()
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCCHAT_DATA_DIR", str(store.store.data_dir))
    peru = "What is the capital of Peru?"
    result = runner.invoke(cli, ["ask", peru, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["question"], data["answer"], data["abstained"], data["mode"]) == (
        peru, "The documents do not cover this.", True, "abstained"
    )  # fmt: skip
    assert data["citations"] == [] and data["sentences"] == []
    # the passages the engine retrieves for the question, with their place in the file
    expected = Engine(store, embedder=embedder).retrieve(peru)
    assert [(r["source"], r["heading"], r["lines"]) for r in data["retrieved"]] == [
        (p.source, p.heading, list(p.lines)) for p in expected
    ]
    assert all(r["relevance"] < store.retrieval.min_relevance for r in data["retrieved"])  # why it abstained
    assert 0 < data["timings"]["retrieve"] <= data["timings"]["total"]

    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "user", "content": "What is Collab?"}, {"role": "robot"}]))
    result = runner.invoke(cli, ["ask", "Who built it?", "--history", str(history)])
    assert result.exit_code == 2 and "History turn 2" in result.output
    assert "Traceback" not in result.output

    monkeypatch.setenv("DOCCHAT_LLM_BACKEND", "ollama")
    monkeypatch.setenv("DOCCHAT_OLLAMA_URL", f"http://127.0.0.1:{free_port()}")
    result = runner.invoke(cli, ["ask", COLLAB])
    assert result.exit_code == 2
    assert "Cannot reach Ollama" in result.output and "Traceback" not in result.output

    result = runner.invoke(cli, ["ask", COLLAB, "--collection", "nothing-here"])
    assert result.exit_code == 2 and "docchat ingest" in result.output


def test_sentences_about_the_passages_are_not_taken_as_answers(store, embedder) -> None:
    reply = (
        "The passage mentioning the government agencies using Python for their web applications is [1]. "
        "According to the passages, Collab was built by the Consumer Financial Protection Bureau [1]."
    )
    answer = _answer_with_reply(store, embedder, reply)
    assert [s.text for s in answer.sentences] == ["Collab was built by the Consumer Financial Protection Bureau."]
    assert answer.sentences[0].supported and answer.mode == "generated"
    assert "passage" not in answer.answer.lower()


def test_passage_budget_cuts_what_the_llm_reads_but_not_what_is_cited(store, embedder) -> None:
    """With a budget, the prompt holds each passage's sentences most similar to the question; the
    citation is still checked against (and quotes) the full passage."""
    settings = store.updated(llm_passage_budget=60)
    reply = "Collab was built by the Consumer Financial Protection Bureau (CFPB) [1]."
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        answer = _ollama_engine(settings, embedder, url).ask(COLLAB)
        cut = url.chats()[0]["messages"][-1]["content"]
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        _ollama_engine(store, embedder, url).ask(COLLAB)
        full = url.chats()[0]["messages"][-1]["content"]
    assert len(cut) < len(full) / 2
    assert "Collab" in cut and "Consumer Financial Protection Bureau" in cut  # the answering sentence stays
    blocks = cut.split("<<<")[1:]
    assert len(blocks) == len(answer.retrieved)  # every passage number keeps some text
    assert all(block.split(">>>")[0].strip() for block in blocks)
    assert answer.mode == "generated" and [c.number for c in answer.citations] == [1]
    assert answer.citations[0].passage == answer.retrieved[0].text  # checked against the full passage


def test_fit_passages_keeps_reading_order_within_the_budget(store, embedder) -> None:
    from docchat.app.citations import SentenceVectors
    from docchat.app.context import fit_passages

    engine = Engine(store, embedder=embedder)
    passages = engine.retrieve(COLLAB)
    vector = embedder.embed_query(COLLAB)

    def count(text: str) -> int:
        return len(embedder.count_tokens(text))

    assert fit_passages(passages, vector, SentenceVectors(embedder.embed), None, count) == passages
    fitted = fit_passages(passages, vector, SentenceVectors(embedder.embed), 120, count)
    assert [p.id for p in fitted] == [p.id for p in passages]
    for full, cut in zip(passages, fitted, strict=True):
        pieces = cut.text.split(" … ")
        positions = [full.text.index(piece) for piece in pieces]  # every piece is a sentence of the passage
        assert positions == sorted(positions)
    used = sum(count(piece) for cut in fitted for piece in cut.text.split(" … "))
    assert used < sum(count(p.text) for p in passages)
    # within the budget, unless each passage's one mandatory best sentence already exceeds it
    assert used <= 120 or all(" … " not in cut.text for cut in fitted)


def _passage(number: int, text: str, similarity: float) -> Passage:
    return Passage(id=f"p{number}", text=text, source=f"doc{number}.md", title=f"Doc {number}", heading="",
                   start_line=1, end_line=1, similarity=similarity)  # fmt: skip


def test_a_default_or_a_language_is_supported_only_where_the_passage_says_it() -> None:
    """Fresh questions, twenty-first session: asked what Pyramid includes "by default", the model wrote "The Django
    ORM is included by default in Pyramid." over a passage whose default is Django's and whose Pyramid is another
    sentence's; asked what Nginx is written in, "Nginx is written in Python." over "backend systems written in any
    programming language, not just Python". Such a claim needs a sentence that says it, about its names."""
    from docchat.app.citations import passage_sentences, unstated_specifics

    def unstated(claim: str, text: str, title: str = "Doc") -> set[str]:
        passage = replace(_passage(1, text, 0.9), title=title)
        return unstated_specifics(claim, passage, passage_sentences(passage))

    sqlalchemy = (
        "Pyramid uses the alchemy scaffold to add SQLAlchemy to a Pyramid web app. While Django does not yet support"
        " easy swapping of the default Django backend ORM with SQLAlchemy (like it does for templates), there are"
        " hacks."
    )
    assert unstated("The Django ORM is included by default in Pyramid.", sqlalchemy) == {"default"}
    assert unstated("The Django ORM is the default ORM in Django.", sqlalchemy) == set()
    assert unstated("Gunicorn binds to port 8080 by default.", "Run gunicorn app:app -b :8080 now.") == {"default"}
    assert unstated("Gunicorn binds to port 8000 by default.", "It binds to 8000 by default.", "Gunicorn") == set()
    nginx = "The result could come from backend systems written in any programming language, not just Python."
    assert unstated("Nginx is written in Python.", nginx, "Nginx") == {"Python"}
    tools = "Puppet and Chef are written in Ruby, while SaltStack and Ansible are written in Python."
    assert unstated("Ansible is written in Python.", tools) == set()
    assert unstated("Puppet is written in Python.", tools) == set()  # one sentence says both: the model's reading
    assert unstated("Chef is written in Go.", tools) == {"Go"}
    assert unstated("The engine is written in C++.", "The engine is written in C.") == {"C++"}
    assert unstated("Flask is a micro framework.", sqlalchemy) == set()  # nothing of the kind claimed


def test_a_sentence_that_breaks_off_is_no_claim(embedder) -> None:
    """Fresh question, twenty-first session: "Which Python web frameworks support WebSockets?" was answered
    "Python-specific WebSockets resources are provided by. [2]" and passed: every word is the passage's."""
    from docchat.app.citations import SentenceVectors, check_answer, unfinished

    passage = _passage(1, "Python-specific WebSockets resources are provided by the Autobahn project.", 0.9)
    question = "Which Python web frameworks support WebSockets?"
    broken = check_answer("Python-specific WebSockets resources are provided by. [1]", [passage],
                          SentenceVectors(embedder.embed), question=question)  # fmt: skip
    assert broken.claims == 1 and broken.supported == 0, broken.text()
    whole = check_answer("Python-specific WebSockets resources are provided by the Autobahn project. [1]", [passage],
                         SentenceVectors(embedder.embed), question=question)  # fmt: skip
    assert whole.supported == 1, whole.text()

    assert unfinished("Python-specific WebSockets resources are provided by. [2]")
    assert unfinished("The company she co-founded after Dropbox is known as. [1]")
    assert not unfinished("Flask-RESTful is maintained by Twilio. [1]")
    assert not unfinished("Sanic is the framework the page builds on.")
    # fresh, twenty-third session: "Who hired Guido van Rossum?" got this, every word the passage's
    assert unfinished("Guido van Rossum hired Jessica McKellar in. [1]")
    assert unfinished("Flask is used for. [1]") and unfinished("The default prefix key is.")
    assert not unfinished("Node.js, Go and Java are mixed in. [1]")  # a verb's "in", not a name's


def test_the_asked_ones_object_doing_what_the_question_asks_who_did_is_no_claim(embedder) -> None:
    """seed-102 (twenty-seventh session): "Who hired Guido van Rossum?" answered "Guido van Rossum hired Jessica
    McKellar ..." over "Dropbox ... hiring ... Guido van Rossum and Jessica McKellar" (every word is there); fresh,
    "Who hired Jessica McKellar?" got "Jessica McKellar hired Guido van Rossum ...". Who did it is not said."""
    from docchat.app.citations import SentenceVectors, check_answer, inverted

    text = ("Dropbox cornered the market on hiring well-known Python core contributors such as Guido van Rossum "
            "and Jessica McKellar.")  # fmt: skip
    passage = _passage(1, text, 0.9)
    question = "Who hired Guido van Rossum?"
    turned = check_answer("Guido van Rossum hired Jessica McKellar. [1]", [passage], SentenceVectors(embedder.embed),
                          question=question)  # fmt: skip
    assert turned.claims == 1 and turned.supported == 0, turned.text()
    said = check_answer("Dropbox hired Guido van Rossum. [1]", [passage], SentenceVectors(embedder.embed),
                        question=question)  # fmt: skip
    assert said.supported == 1, said.text()

    assert inverted("Who originally created Flask?", "Flask created a new kind of microframework. [1]")
    assert not inverted("Who created Flask?", "Flask was created by Armin Ronacher. [1]")
    assert not inverted("Who built Collab?", "Collab built by the CFPB is an intranet.")  # passive, "by" follows
    assert not inverted("Who is the creator of Flask?", "Flask is a microframework.")  # not a "who VERB" question
    assert not inverted("Who uses Python?", "NASA uses Python.")


def test_someone_doing_the_asked_verb_to_something_else_is_no_claim(store, embedder) -> None:
    """Fresh, twenty-eighth session: "Who wrote the quote about companies not realizing they use Python?" was
    answered "Netflix wrote a 2019 update for PyCon US ..." (a true sentence of the seed document, about another
    thing written). The verb's object shares no word with the question's "the quote". (Replies: a fake Ollama.)"""
    from docchat.app.citations import other_object

    question = "Who wrote the quote about companies not realizing they use Python?"
    reply = "Netflix wrote a 2019 update for PyCon US to give more detail on what teams and projects work in Python."
    answer = _ask_citing(store, embedder, question, reply, "2019 update")
    assert answer.mode != "generated" and "Netflix wrote" not in answer.answer, answer.to_dict()
    asked = "Who wrote the 2019 update for PyCon US?"  # the same sentence, now about what was asked
    answer = _ask_citing(store, embedder, asked, reply, "2019 update")
    assert answer.mode == "generated" and "Netflix wrote" in answer.answer, answer.to_dict()

    assert other_object("Who created Flask?", "Armin Ronacher created Jinja2. [1]")
    assert not other_object("Who created Flask?", "Flask was created by Armin Ronacher.")  # passive: the thing first
    assert not other_object("Who founded Dropbox?", "Drew Houston founded it in 2007.")  # a pronoun object
    assert not other_object("Who originally created it?", "Armin Ronacher created Flask.")  # a pronoun asked
    assert not other_object("Who wrote the book Two Scoops of Django?", "Daniel Greenfeld wrote the book.")


def test_a_reason_the_passages_never_give_is_refused(store, embedder) -> None:
    """Fresh, twenty-eighth session: "Why did Facebook migrate to Python 3?" was answered "Facebook migrated to
    Python 3 at scale due to its vocal support for the migration" over "They've been very vocal about successfully
    making the migration ...": the seed document never says why. A cause no supporting sentence gives is no claim,
    and a "Why ...?" question is answered only by text that gives a reason (a cause, purpose or condition), so
    the reply is refused. The cause a passage gives still answers. (Replies: a fake Ollama.)"""
    question = "Why did Facebook migrate to Python 3?"
    reply = "Facebook migrated to Python 3 at scale due to its vocal support for the migration."
    answer = _ask_citing(store, embedder, question, reply, "very vocal")
    assert answer.abstained, answer.to_dict()
    assert answer.notice == "The closest passages do not state a reason for facebook, which the question asks for."
    question = "Why does Google give Python priority support?"
    reply = "Python receives priority support at Google due to its core language status."
    answer = _ask_citing(store, embedder, question, reply, "priority support")
    assert answer.mode == "generated" and "core language status" in answer.answer, answer.to_dict()


def test_a_kind_with_a_name_between_its_words_is_said(store, embedder) -> None:
    """Fresh, twenty-eighth session: "Which front-end framework did Twilio use for TwilioQuest?" was answered with
    Django and Wagtail; the seed document says "the front-end Vue.js framework", which did not count as saying the
    kind, so the answer's names went unchecked. A name between the kind's words counts: the answer's names are
    not what the passages call a front-end framework, and the quote is the sentence that names Vue.js."""
    reply = ("Twilio uses Python with Django and the Wagtail content management system to power the amazing Twilio "
             "documentation as well as TwilioQuest.")  # fmt: skip
    question = "Which front-end framework did Twilio use for TwilioQuest?"
    answer = _ask_citing(store, embedder, question, reply, "Vue.js")
    assert answer.mode == "extractive" and "Vue.js" in answer.answer, answer.to_dict()
    assert answer.notice.startswith("The passages do not call django"), answer.notice


def test_a_licence_of_another_project_or_of_a_tutorials_code_is_no_answer(tmp_path, model_cache, embedder) -> None:
    """fsp-123: "Which license is Flask released under?" was answered with the licence of an example project built
    with Flask ("The project's code is provided as open source under the BSD 2-Clause ..." under the heading
    "tedivm's flask starter app"); fresh, twenty-eighth session: Bottle's with a tutorial's "All code ...", Django's
    with an extension's. A licence counts only where the sentence's subject is what was asked about, or refers
    back to it under a heading or title that is it. (Replies: a fake Ollama.)"""
    from docchat.app.licences import licence_owners, states_licence_of
    from docchat.app.schema import Citation
    from tests.conftest import fsp_sample

    settings = isolated_settings(seed_model(tmp_path / "data", model_cache, embedder), collection="licences")
    page = "content/pages/examples/flask/flask-example-projects-code.markdown"
    ingest_paths(settings, [fsp_sample(tmp_path, [page])], embedder=embedder)
    reply = 'The project\'s code is provided as open source under the BSD 2-Clause "Simplified" license.'
    question = "Which license is Flask released under?"
    retrieved = _ask_with_reply(settings, embedder, question, reply).retrieved
    number = next(n for n, p in enumerate(retrieved, start=1) if "tedivm" in p.heading and "BSD 2" in p.text)
    answer = _ask_with_reply(settings, embedder, question, f"{reply} [{number}]")
    assert answer.abstained, answer.to_dict()
    assert answer.notice.startswith("The closest passages state no licence of flask"), answer.notice
    answer = _ask_with_reply(settings, embedder, "Which license is tedivm's flask starter app under?",
                             f"{reply} [{number}]")  # fmt: skip
    assert answer.mode == "generated" and "BSD 2-Clause" in answer.answer, answer.to_dict()

    assert licence_owners("What license is the flask-base project under?") == {"flask-base"}
    assert licence_owners("How is Bottle licensed?") == {"bottle"}
    assert licence_owners("Which projects use the MIT license?") == set()  # names a licence, asks for projects

    def states(owners: set[str], quote: str, heading: str = "") -> bool:
        return states_licence_of(owners, Citation(1, "page.md", "", heading, (1, 1), quote, quote))

    assert not states(
        {"bottle"}, "All code for the Dockerfile and the Bottle project are available under the MIT license."
    )
    assert not states({"django"}, 'django-loginas is open source under the BSD 3-Clause "New" or "Revised" License.')
    assert states(
        {"django-loginas"}, 'django-loginas is open source under the BSD 3-Clause "New" or "Revised" License.'
    )
    assert states({"gino"}, "GINO is open sourced under the BSD License.")
    assert states({"pelican"}, "Pelican's source code is available on GitHub under the AGPL 3 license.")
    assert states(
        {"flask-base"}, "The project is open source under the MIT license.", "Examples > flask-base (project website)"
    )
    assert not states({"gino"}, "GINO is an ORM built on asyncpg.")  # no licence in it


def test_a_name_only_listed_among_others_is_not_described(store, embedder) -> None:
    """Fresh, twenty-eighth session: "What is MCP?" was quoted with "(7) AI (LLM, RAG, MCP, Agents)", the seed
    document's one mention of it, which says nothing of what it is. Asked who or what a name is, an answer whose
    every cited sentence names it only as an item of a list is refused. (Replies: a fake Ollama.)"""
    from docchat.app.citations import only_listed

    question, reply = "What is MCP?", "MCP is one of the AI topics on the Python checklist."
    answer = _ask_citing(store, embedder, question, reply, "MCP")
    assert answer.abstained, answer.to_dict()
    assert answer.notice == "The closest passages only list MCP among other items; none says what it is."
    reply = "Odoo is an all-in-one management software that offers a range of business applications."
    answer = _ask_with_reply(store, embedder, "What is Odoo?", f"{reply} [1]")
    assert answer.mode == "generated" and "all-in-one" in answer.answer, answer.to_dict()

    assert only_listed("CIA", ["... to intelligence agencies like the CIA, FBI and NSA."])
    assert not only_listed("Flask", ["Flask, a microframework by Armin Ronacher, is popular."])  # an aside, no list
    assert not only_listed("Flask", ["Flask, Django and Bottle are listed.", "Flask is a microframework."])
    assert not only_listed("Pyramid", ["Flask, Django and Bottle are listed."])  # not named at all


def test_a_page_the_question_names_is_the_one_cited() -> None:
    """fsp-017 (sixteenth session): "On the Django page, which separate library ...?" got a second quote from the
    page on Flask extensions. A page the question names by its title's words is the one cited; a name no title
    holds, or no page named, leaves the citable passages as they were."""
    from docchat.app.citations import on_named_page

    passages = [_passage(1, "Django ships auth.", 0.9), _passage(2, "Flask needs Flask-Login.", 0.8),
                _passage(3, "Django's admin.", 0.5)]  # fmt: skip
    passages[0].title = passages[2].title = "Django"
    passages[1].title = "Flask Extensions, Plug-ins and Related Libraries"
    assert on_named_page("On the Django page, which library does Flask need?", passages, {1, 2}) == {1}
    assert on_named_page("What does the Django page say?", passages, {2}) == {1, 3}  # outside the window too
    assert on_named_page("What does the flask extensions page list?", passages, {1, 3}) == {2}
    assert on_named_page("What does the Pyramid page say?", passages, {1, 2}) == {1, 2}  # no such page
    assert on_named_page("Which library does Flask need?", passages, {1, 2}) == {1, 2}


def test_the_page_about_what_the_question_names_is_citable() -> None:
    """Fresh, seventeenth session: "Which company built Windows?" ranked the enterprise page (companies that built
    desktop apps "for Windows") far above the Windows page ("... an operating system created by Microsoft"), out
    of the citable window, and was refused. A page whose title is all words of the question's first clause, one
    of them a name, is citable wherever it ranks."""
    from docchat.app.citations import pages_about

    passages = [_passage(1, "Companies built desktop apps for Windows.", 0.9),
                _passage(2, "Windows is an operating system created by Microsoft.", 0.5),
                _passage(3, "Celery is a task queue.", 0.4), _passage(4, "A task queue runs jobs.", 0.4)]  # fmt: skip
    for passage, title in zip(passages, ["Enterprise Python", "Windows", "Celery", "Task Queues"], strict=True):
        passage.title = title
    assert pages_about("Which company built Windows?", passages) == {2}
    assert pages_about("What part of Celery handles scheduled tasks, and which queue does it use?", passages) == {3}
    assert pages_about("Which company built the windows of the office?", passages) == set()  # no name: no page
    assert pages_about("Which company built Windows and which built Task Queues?", passages) == {2}  # first clause


def test_the_gate_reads_a_passages_closest_sentence(embedder) -> None:
    """seed-075 (fresh, twelfth session): "Which conference did Netflix write an update for?" was refused by the
    relevance gate: its passage covers eight companies, so the chunk as a whole is far from the question, though
    one sentence answers it. The gate takes the closer of the passage and its best sentence."""
    from docchat.app.citations import SentenceVectors, best_relevance, nothing_relevant, score_sentences

    companies = " ".join(
        [f"{name} uses Python for its {use}." for name, use in [("Uber", "marketplace"), ("Twilio", "docs"),
         ("Google", "infrastructure"), ("Dropbox", "desktop client"), ("Reddit", "front page")]]
        + ["Netflix also wrote a 2019 update for PyCon US on what teams and projects work in Python."]
    )  # fmt: skip
    passage = _passage(1, companies, 0.0)
    question = "Which conference did Netflix write an update for?"
    vector = embedder.embed_query(question)
    passage.similarity = float(vector @ embedder.embed([companies])[0])
    before = best_relevance([passage])
    score_sentences([passage], vector, SentenceVectors(embedder.embed))
    assert passage.sentence_similarity is not None and passage.sentence_similarity > passage.similarity
    assert best_relevance([passage]) == passage.sentence_similarity + passage.coverage > before
    assert passage.relevance == passage.similarity + passage.coverage  # reranking and the citable window unchanged
    threshold = (before + best_relevance([passage])) / 2
    assert nothing_relevant([_passage(1, companies, passage.similarity)], threshold)  # the chunk alone
    assert not nothing_relevant([passage], threshold)


def test_an_unsupported_sentence_with_a_figure_no_passage_holds_is_left_out() -> None:
    """seed-054 (fresh, twelfth session): "How much does Odoo cost per user?" got "Odoo costs $10,000 per user."
    as a muted sentence beside a supported one; an invented figure is left out like an invented API."""
    from docchat.app.citations import CheckedAnswer, without_invented_identifiers
    from docchat.app.schema import AnswerSentence

    passages = [_passage(1, "(1) Odoo is an all-in-one management software. It has 2,000 apps.", 0.9)]
    sentences = [AnswerSentence("Odoo is an all-in-one management software.", [1], True),
                 AnswerSentence("Odoo costs $10,000 per user.", [], False),
                 AnswerSentence("Odoo has 2000 apps in 1 store.", [], False)]  # fmt: skip
    kept, invented = without_invented_identifiers(CheckedAnswer(sentences, [], 3, 1), passages, "How much per user?")
    assert invented == ["1", "10,000"]
    assert [s.text for s in kept.sentences] == ["Odoo is an all-in-one management software."]
    held = [AnswerSentence("It has 2000 apps.", [], False)]  # 2,000 written without its comma: held
    assert without_invented_identifiers(CheckedAnswer(held, [], 1, 0), passages)[1] == []


def test_only_passages_near_the_best_can_be_cited_or_quoted(embedder) -> None:
    """A sentence supported only by an off-topic passage (relevance far below the best) is not cited to it,
    and the quoted fallback quotes on-topic passages only."""
    from docchat.app.citations import SentenceVectors, check_answer, on_topic
    from docchat.app.extractive import extractive_answer

    passages = [
        _passage(1, "Collab was built by the Consumer Financial Protection Bureau. It is open source.", 0.9),
        _passage(2, "Pelican is a static site generator written in Python. It reads Markdown files.", 0.3),
    ]
    citable = on_topic(passages, 0.2)
    assert citable == {1}
    answer = "Pelican is a static site generator written in Python [2]."
    vectors = SentenceVectors(embedder.embed)
    assert check_answer(answer, passages, vectors).citations[0].number == 2  # without the window: cited
    checked = check_answer(answer, passages, vectors, citable=citable)
    assert not checked.citations and checked.supported == 0
    quoted = extractive_answer(embedder.embed_query("Who built Collab?"), passages, vectors, citable=citable)
    assert [c.number for c in quoted.citations] == [1]


def test_a_name_put_in_place_of_the_one_the_supporting_sentence_says_is_not_supported(embedder) -> None:
    """The real 0.5B, asked "Which database does Collab use?", wrote "The database Collab uses Python extensively
    ..." from the NASA sentence of a chunk that names Collab two sentences earlier. The same name said in the
    sentence before ("They hired ..." after "Dropbox ...") still counts."""
    from docchat.app.citations import SentenceVectors, check_answer

    agencies = (
        "Collab by the CFPB is a corporate intranet and collaboration platform. "
        "Agencies range from the SEC to the CIA, FBI and NSA. "
        "NASA uses Python extensively and open sources much of their software."
    )
    dropbox = (
        "Dropbox is well-known for using Python across their infrastructure. "
        "They hired Guido van Rossum and Jessica McKellar for a period of time."
    )
    passages = [_passage(1, agencies, 0.9), _passage(2, dropbox, 0.8)]
    vectors = SentenceVectors(embedder.embed)
    swapped = check_answer("Collab uses Python extensively and open sources much of its software [1].", passages,
                           vectors, question="Which database does Collab use?")  # fmt: skip
    assert swapped.supported == 0 and not swapped.citations, swapped.text()
    kept = check_answer("NASA uses Python extensively and open sources much of its software [1].", passages,
                        vectors, question="Does NASA use Python?")  # fmt: skip
    assert kept.supported == 1, kept.text()
    before = check_answer("Dropbox hired Guido van Rossum for a period of time [2].", passages, vectors,
                          question="Which company did Dropbox hire Guido van Rossum at?")  # fmt: skip
    assert before.supported == 1, before.text()
    # A name the question does not hold, put in the supporting sentence's subject's place (fresh, tenth session:
    # "The CIA uses Python extensively ..." for "Which intelligence agencies use Python?"): the CIA is named in
    # the sentence before, which "NASA uses ..." does not refer back to.
    subject = check_answer("The CIA uses Python extensively and open sources much of its software [1].", passages,
                           vectors, question="Which intelligence agencies use Python?")  # fmt: skip
    assert subject.supported == 0 and not subject.citations, subject.text()
    # "The project ..." refers back: Collab, named in the sentence before, is what it is about
    collab = "Collab by the CFPB is a corporate intranet. The project is in use by thousands of CFPB employees."
    described = check_answer("Collab is in use by thousands of CFPB employees [1].", [_passage(1, collab, 0.9)],
                             vectors, question="How many people use Collab?")  # fmt: skip
    assert described.supported == 1, described.text()
    # a clause of the supporting sentence with a subject of its own (fresh, thirteenth session: "Where does Guido
    # van Rossum work now?" answered from Jessica McKellar's clause)
    hired = (
        "They hired Python core contributors for a period of time, such as Guido van Rossum and Jessica McKellar "
        "(although Jessica is now at a new company that she co-founded)."
    )
    passages = [_passage(1, f"Dropbox is well-known for using Python. {hired}", 0.9)]
    question = "Where does Guido van Rossum work now?"
    moved = check_answer("Guido van Rossum is now at a new company that she co-founded [1].", passages, vectors,
                         question=question)  # fmt: skip
    assert moved.supported == 0 and not moved.citations, moved.text()
    own = check_answer("Jessica is now at a new company that she co-founded [1].", passages, vectors,
                       question=question)  # fmt: skip
    assert own.supported == 1, own.text()
    hired = check_answer("Dropbox hired Guido van Rossum and Jessica McKellar [1].", passages, vectors,
                         question="Whom did Dropbox hire?")  # fmt: skip
    assert hired.supported == 1, hired.text()


def test_a_close_sentence_on_the_named_subject_must_hold_the_claims_other_names_too(embedder) -> None:
    """Fresh, twentieth session: asked "Which company open sourced Flask-RESTful?", the real 0.5B wrote "Netflix
    open sourced the Flask-RESTful framework ...". Its words are Twilio's sentence's; the Netflix sentence is as
    close (it opens with Netflix) but says nothing of Flask-RESTful, so it does not make Netflix the subject."""
    from docchat.app.answer_type import names_given, names_in
    from docchat.app.citations import CheckedAnswer, SentenceVectors, check_answer

    companies = (
        "(2) Twilio uses Python with Django and the Wagtail content management system to power the Twilio docs. "
        "Twilio also uses Flask to run the REST API endpoints and open sourced the Flask-RESTful framework so other "
        "developers could cut down the boilerplate in their web APIs. "
        "(3) Netflix uses Python throughout their organization to run chaos engineering tests and generally glue "
        "together the code from their high-functioning polyglot teams."
    )
    passages, vectors = [_passage(1, companies, 0.9)], SentenceVectors(embedder.embed)

    def check(answer: str, question: str) -> CheckedAnswer:  # with the names the engine reads (Netflix included)
        known = names_in([companies]) | names_given(answer, [companies])
        return check_answer(answer, passages, vectors, question=question, known=known)

    question = "Which company open sourced Flask-RESTful?"
    tail = "open sourced the Flask-RESTful framework so other developers could cut down the boilerplate [1]."
    wrong = check(f"Netflix {tail}", question)
    assert wrong.supported == 0 and not wrong.citations, wrong.text()
    right = check(f"Twilio {tail}", question)
    assert right.supported == 1, right.text()
    # a close sentence on the subject that holds the claim's other names still counts
    own = check("Netflix uses Python to run chaos engineering tests [1].", "What does Netflix use Python for?")
    assert own.supported == 1, own.text()


def test_a_name_the_model_gives_in_another_subjects_place_is_unsupported(store, embedder) -> None:
    """Eleventh session, seed-073: "Netflix built TwilioQuest, and it uses Flask to run the REST API endpoints." was
    supported by the Twilio sentence. The passages write "Netflix" only at a sentence's start, so it counted as no
    name there; as a name the model gives (and the passages only capitalise), it is the sentence's subject."""
    question = "Which company built TwilioQuest, and which front-end framework does it use?"
    reply = "Netflix built TwilioQuest, and it uses Flask to run the REST API endpoints. [1]"
    answer = _ask_with_reply(store, embedder, question, reply)
    assert all(not s.supported for s in answer.sentences if "Netflix built" in s.text), answer.to_dict()
    assert answer.mode != "generated", answer.to_dict()


def test_the_passage_states_that_is_not_part_of_the_claim(embedder) -> None:
    """ "The passage states that "Collab by ... organizations. … The project ..." [1]" (fresh, tenth session) was
    dropped as a sentence about the passages, and the next one kept its closing quotation mark."""
    from docchat.app.citations import SentenceVectors, check_answer

    collab = "Collab by the CFPB is a corporate intranet for large organizations. The project is in use by thousands."
    checked = check_answer('The passage states that "Collab by the CFPB is a corporate intranet for large '
                           'organizations. The project is in use by thousands." [1]', [_passage(1, collab, 0.9)],
                           SentenceVectors(embedder.embed), question="What is Collab?")  # fmt: skip
    assert checked.supported == 2, checked.text()
    assert checked.text().startswith("Collab by the CFPB") and '"' not in checked.text(), checked.text()


def test_quotes_cover_each_part_of_a_two_part_question(embedder) -> None:
    """The second quote adds what the first leaves out: for a comparison, one sentence on each side,
    although both Pyramid sentences are closer to the question than the Bottle one."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    passages = [
        _passage(1, "Pyramid is a Python web framework with a small core. Pyramid is a flexible web framework.", 0.9),
        _passage(2, "Bottle is a micro web framework distributed as one file.", 0.85),
    ]
    question = "How do the Pyramid and Bottle web frameworks differ?"
    vectors = SentenceVectors(embedder.embed)
    by_similarity = extractive_answer(embedder.embed_query(question), passages, vectors)
    assert [c.number for c in by_similarity.citations] == [1]  # without the question's terms: both on Pyramid
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question)
    assert [c.number for c in quoted.citations] == [1, 2], quoted.text()


def test_a_second_quote_far_from_the_question_must_add_some_of_its_terms(embedder) -> None:
    """Fresh, twenty-second session: "What is the Flask-RESTful framework for?" was answered by the sentence on
    Flask-RESTful and then "(3) Netflix uses Python ... to run chaos engineering tests ...", which holds none of the
    question's terms and is far from it: after the first, such a sentence is not quoted. One that adds a term the
    first left out still is (the second part of a two-part question, below the bar)."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    twilio = (
        "Twilio also uses Flask to run the REST API endpoints and open sourced the Flask-RESTful framework so other "
        "developers could cut down the boilerplate in their web APIs."
    )
    netflix = "Netflix uses Python throughout their organization to run chaos engineering tests."
    question = "What is the Flask-RESTful framework for?"
    vectors = SentenceVectors(embedder.embed)
    passages = [_passage(1, f"{twilio} {netflix}", 0.9)]
    query = embedder.embed_query(question)
    assert len(extractive_answer(query, passages, vectors, question=question).sentences) == 3  # no bar: both
    quoted = extractive_answer(query, passages, vectors, question=question, min_similarity=0.5)
    assert [s.text for s in quoted.sentences[1:]] == [f"“{twilio}”"], quoted.text()
    chaos = "Netflix runs chaos tests."
    question = "What is the Flask-RESTful framework for, and what does Netflix run?"
    query = embedder.embed_query(question)
    quoted = extractive_answer(query, [_passage(1, f"{twilio} {chaos}", 0.9)], vectors, question=question,
                               min_similarity=0.5)  # fmt: skip
    assert [s.text for s in quoted.sentences[1:]] == [f"“{twilio}”", f"“{chaos}”"], quoted.text()
    assert float(query @ vectors[chaos]) < 0.5  # below the bar, but it adds "Netflix" and "run"


def test_a_number_written_onto_a_word_and_a_hyphenated_part_count_as_the_question_s_terms(embedder) -> None:
    """fsp-003 (twenty-second session): "Which PEP defines Python generators ...?" opened with "Python Enhancement
    Proposals (PEPs) are design documents ...", which holds the asked-for "PEP", before the sentence that answers:
    its "PEP255" was not read as "PEP". Read so, the answer holds the asked-for noun and more of the question."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer
    from docchat.components.words import split_terms

    assert {"pep", "255"} <= split_terms("Generators are defined in PEP255.")
    assert {"flask", "power"} <= split_terms("Scout is a Flask-powered search server.")
    peps = "Python Enhancement Proposals (PEPs) are design documents that serve to drive Python's continued evolution."
    generators = "Generators are defined in PEP255 and included in the language as of Python 2.2 in 2001."
    passages = [_passage(1, peps, 0.9), _passage(2, generators, 0.85)]
    question = "Which PEP defines Python generators, and in which Python version were they added?"
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question)
    assert quoted.sentences[1].text == f"“{generators}”", quoted.text()


def test_quotes_that_hold_only_the_question_s_names_are_no_answer(embedder) -> None:
    """Fresh, twenty-third session (seed-087): "Which chaos engineering tool did Netflix build in Python?" was
    answered with "Netflix also wrote a 2019 update for PyCon US ...": on Netflix, silent on any tool. Quotes that
    hold none of the question's terms but its names are no answer; unless the question asks what a name is, or the
    sentence names the question's subject only in the sentence before it, with which it is then quoted ("Which
    languages does Uber use besides Python?", refused before for stating no name for Uber)."""
    from docchat.app.answer_type import Expected, states
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    update = "Netflix also wrote a 2019 update for PyCon US to give more detail on what teams work in Python."
    chaos = "Netflix uses Python throughout their organization to run chaos engineering tests."
    vectors = SentenceVectors(embedder.embed)

    def quotes(question: str, text: str, **options) -> list[str]:
        passages = [_passage(1, text, 0.9)]
        quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question, **options)
        return [s.text for s in quoted.sentences[1:]]

    tool = "Which chaos engineering tool did Netflix build in Python?"
    assert quotes(tool, update) == [f"“{update}”"]  # as before
    assert quotes(tool, update, beyond_names=True) == []
    assert quotes(tool, chaos, beyond_names=True) == [f"“{chaos}”"]  # "chaos engineering"
    assert quotes("What is Netflix?", update, beyond_names=True) == [f"“{update}”"]  # what Netflix is: any sentence
    stack = (  # the seed document's words
        "(1) Uber's tech stack contains a significant amount of Python, which they documented in a series of "
        "engineering posts."
    )
    levels = (
        "Part one describes the lower backend levels, which are written in Python, with Node.js, Go and Java mixed in."
    )
    question = "Which languages does Uber use besides Python?"

    def names_one(text: str) -> bool:
        return states(text, Expected.NAME, question, {"node.js", "go", "java"})

    assert quotes(question, f"{stack} {levels}", beyond_names=True, wanted=names_one, about={"uber"},
                  min_similarity=0.5) == [f"“{stack} {levels}”"]  # fmt: skip
    # a list's next item does not go on from the one before: "(4) A quick search ..." is not about NASA
    nasa = "(3) NASA uses Python extensively and open sources much of their software."
    search = (
        "(4) A quick search for government jobs that require or recommend Python via USAJobs turns up numerous "
        "listings at organizations such as the Smithsonian Institution, Department of Education, Department of the "
        "Navy and National Institute of Standards and Technology (NIST)."
    )
    question = "Which NASA projects are written in Python?"

    def names_new(text: str) -> bool:
        return states(text, Expected.NAME, question, {"smithsonian", "navy", "nist", "usajobs"})

    assert quotes(question, f"{nasa} {search}", beyond_names=True, wanted=names_new, about={"nasa"},
                  min_similarity=0.5) == []  # fmt: skip
    # a credit read with the sentence before is quoted with the paragraph it credits, once (s23b quoted it twice)
    odoo = "(1) Odoo is an all-in-one management software that offers a range of business applications."
    question = "What source is given for the Odoo business application example?"
    quoted = quotes(question, f"{odoo} Source: python.org", about={"odoo"})
    assert quoted and quoted[0].count("Odoo is") == 1 and "Source: python.org" in quoted[0], quoted


def test_the_quote_that_best_answers_comes_first(embedder) -> None:
    """Quotes are shown best first, not in reading order: "What is the Collab platform?" opens with the sentence on
    Collab, not with the general sentence before it in the passage. (Asked "What is Collab?", only sentences that
    name Collab are quoted: see test_asked_what_a_name_is_the_sentences_that_name_it_are_quoted.)"""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import QUOTED_PREFIX, extractive_answer

    general = "Python is widely used across large enterprise organizations and government agencies."
    collab = "Collab is a corporate intranet and collaboration platform built by the CFPB."
    passages = [_passage(1, f"{general} {collab}", 0.9)]
    question = "What is the Collab platform?"
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question)
    assert [s.text for s in quoted.sentences] == [QUOTED_PREFIX, f"“{collab}”", f"“{general}”"]


@pytest.mark.parametrize(
    ("before", "leaning", "question"),
    [
        (  # "Which company hired Guido van Rossum?" was answered with "They also did a good job of ... hiring ..."
            "Dropbox is well-known for using Python across their infrastructure.",
            "They also hired well-known Python core contributors such as Guido van Rossum.",
            "Which company hired Guido van Rossum?",
        ),
        (  # fsp-011: "That approach is called monorepo ..." was quoted without what the approach is
            "On one extreme, every line of code in an organization is stored in a single repository.",
            "That approach is called monorepo and it is used by companies like Google.",
            "What is a monorepo?",
        ),
    ],
)
def test_a_quote_that_refers_back_comes_with_the_sentence_before_it(embedder, before, leaning, question) -> None:
    """A quote that opens by referring back ("They ...", "That approach ...") never says who or what on its own."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    passages = [_passage(1, f"{before} {leaning}", 0.9)]
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question, max_sentences=1)
    assert quoted.sentences[1].text == f"“{before} {leaning}”", quoted.text()
    assert quoted.citations[0].quote == f"{before} {leaning}"


def test_a_lead_in_is_quoted_with_its_list(embedder) -> None:
    """fsp-037: "To achieve a standout technical demo you must:" was quoted without the list it introduces; the
    list's items are not quoted again on their own, and a paragraph after the list is not part of it."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    items = ["show how to easily solve a difficult technical problem", "speak plainly but accurately",
             "rehearse constantly, both the happy path and recovering from errors"]  # fmt: skip
    after = "Starting out with a short demo is a great way to learn how to give a technical demo."
    text = "\n\n".join(["To achieve a standout technical demo you must:", *items, after])
    passages = [_passage(1, text, 0.9)]
    question = "What does the site recommend for a standout technical demo?"
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question)
    lead_in = f"“To achieve a standout technical demo you must: {'; '.join(items)}”"
    assert quoted.sentences[1].text == lead_in, quoted.text()
    assert [s.text for s in quoted.sentences[2:]] == [f"“{after}”"], quoted.text()  # no item quoted again


def test_quotes_hold_what_the_question_asks_which_of(embedder) -> None:
    """fsp-047: "Under which licenses are the Pelican and MkDocs static site generators released?" was answered with
    "Pelican is an implementation of the static site generators concept.", which shares more of the question's
    words than the sentence on Pelican's licence; a sentence holding what "which" asks for is preferred."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer, focus_terms

    assert focus_terms("Under which licenses are the Pelican and MkDocs static site generators released?") == {"licens"}
    assert focus_terms("Which static site generator did Armin Ronacher start?") == {"generat"}
    assert focus_terms("Which companies use Flask?") == {"compani"}
    assert focus_terms("What does the site recommend?") == set()
    concept = "Pelican is an implementation of the static site generators concept."
    licence = "Pelican's source code is available on GitHub under the AGPL 3 license."
    mkdocs = "MkDocs' source code is available on GitHub under the BSD 2-clause license."
    passages = [_passage(1, f"{concept}\n\n{licence}", 0.9), _passage(2, mkdocs, 0.85)]
    question = "Under which licenses are the Pelican and MkDocs static site generators released?"
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question)
    assert sorted(s.text for s in quoted.sentences[1:]) == [f"“{mkdocs}”", f"“{licence}”"], quoted.text()


def test_a_quote_from_the_page_the_question_names_comes_first(embedder) -> None:
    """fsp-051 (seventeenth session): "What part of Celery handles scheduling tasks at intervals?" was quoted first
    from the Task Queues page, which names Celery in passing; the Celery page's sentence answers it. A page whose
    title holds a name of the question scores more, when titles tell the pages apart."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer, titled_passages

    queues = (
        "The Celery distributed task queue is the most commonly used Python library for handling asynchronous tasks "
        "and scheduling."
    )
    beat = (
        "A key concept in Celery is the difference between the Celery daemon (celeryd), which executes tasks, "
        "Celerybeat, which is a scheduler."
    )
    passages = [_passage(1, queues, 0.9), _passage(2, beat, 0.8)]
    passages[0].title, passages[1].title = "Task Queues", "Celery"
    question = "What part of Celery handles scheduling tasks at intervals?"
    assert titled_passages(question, passages, [1, 2]) == {2}
    assert titled_passages("What does Celery do?", [passages[1], passages[1]], [1, 2]) == set()  # every title does
    assert titled_passages("What is a task queue?", passages, [1, 2]) == set()  # no name asked
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question, max_sentences=1)
    assert quoted.text() == f"From the documents: “{beat}” [2]", quoted.text()


def test_a_sentence_two_pages_share_is_quoted_once(embedder) -> None:
    """Fresh, fifteenth session: "What license is Flask released under?" quoted "The Flask-Security-Too project is
    provided as open source under the MIT license." twice, from two example pages that both say it."""
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    shared = "The Flask-Security-Too project is provided as open source under the MIT license."
    passages = [_passage(1, f"Flask-Security-Too adds logins. {shared}", 0.9), _passage(2, shared, 0.85)]
    question = "What license is Flask released under?"
    vectors = SentenceVectors(embedder.embed)
    quoted = extractive_answer(embedder.embed_query(question), passages, vectors, question=question)
    assert [s.text for s in quoted.sentences[1:]].count(f"“{shared}”") == 1, quoted.text()


def test_list_after_reads_only_a_lead_ins_list() -> None:
    from docchat.app.sentences import list_after, split_sentences

    text = "Members come in classes:\n\nBasic Members\n\nFellows\n\nJoin as a basic member."
    sentences = split_sentences(text)
    assert list_after(text, sentences, 0) == ["Basic Members", "Fellows"]
    assert list_after(text, sentences, 1) == []  # no colon
    prose = "Pick one of these:\nFlask is small. Django is large."  # a paragraph, not a list
    assert list_after(prose, split_sentences(prose), 0) == []


def test_an_answer_that_never_names_what_the_question_asks_about_becomes_quotes(store, embedder) -> None:
    """ "Which company created Vue.js?" (fresh, tenth session) was answered "TwilioQuest was created by Twilio.",
    cited to a passage that names Vue.js: supported, with a name in it, about something else. An answer to a
    question for a name, date or number must mention one of the question's own names ("Flask" here)."""
    question = "Which company open sourced Flask-RESTful?"
    answer = _ask_with_reply(store, embedder, question, "Netflix wrote a 2019 update for PyCon US. [1]")
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert answer.notice.startswith("The model's answer does not mention flask"), answer.notice
    assert "Twilio" in answer.sentences[1].text and "Flask-RESTful" in answer.sentences[1].text  # the best quote
    answer = _ask_with_reply(store, embedder, question, "Twilio open sourced the Flask-RESTful framework. [1]")
    assert answer.mode == "generated" and not answer.notice, answer.to_dict()


def test_names_the_collection_is_about_need_not_be_repeated() -> None:
    from docchat.app.citations import CheckedAnswer, unstated_subject
    from docchat.app.schema import AnswerSentence, Citation

    def unstated(question: str, answer: str, common: tuple[str, ...] = (), quote: str = "", title: str = "") -> list:
        cited = [Citation(1, "page.md", title, "", (1, 1), quote or answer, quote or answer)]
        checked = CheckedAnswer([AnswerSentence(answer, [1], True)], cited, 1, 1)
        return unstated_subject(question, checked, lambda name: name in common)

    assert unstated("Which company created Vue.js?", "TwilioQuest was created by Twilio.") == ["vue.js"]
    assert unstated("Which company created Vue.js?", "Vue.js was created by Evan You.") == []
    # a name common to the collection may go unsaid where the quoted sentence, its title or heading says it
    eol = "Python 2.7 reached its end of life on January 1, 2020."
    assert unstated("When did Python 2.7 reach its end of life?", "On January 1, 2020.", ("python",), eol) == []
    assert unstated("When did Python 2.7 reach its end of life?", "On January 1, 2020.") == ["python"]
    assert unstated("Who created Django?", "Adrian Holovaty and Simon Willison.", ("django",), title="Django") == []
    # ... but not where no quote is about it (fresh, twelfth session: the 0.5B's answer from a page on API frameworks)
    cornice = "Cornice is a REST framework for Pyramid."
    assert unstated("Which company created Django?", cornice, ("django",), title="API Creation") == ["django"]
    assert unstated("Who maintains Sanic for MagicStack?", "Sanic is run by its community.") == []  # one is enough
    assert unstated("When was it released, and by Mozilla?", "It was released in 2019.") == []  # first clause only
    # a name as a word (fresh, eleventh session): "test" is not in "testing"
    question = "Who wrote the book Test-Driven Development with Python?"
    assert unstated(question, "The author of the Hypothesis testing tool.", ("python",)) == ["development", "driven",
                                                                                               "test"]  # fmt: skip
    assert unstated("Which PEP defines generators?", "Generators are defined in PEP255.") == []
    assert unstated("Which PEP defines generators?", "PEPs are design documents.") == []


def test_an_answer_must_say_the_version_the_question_names(store, embedder) -> None:
    """Fresh, twenty-fourth session: "Which companies use Python 3?" was answered "Netflix uses Python throughout
    their organization ..." (supported, but of Python, not Python 3). A name with a version the question asks about
    must be said with its number; the quotes then are sentences that say it. (The model's reply comes from a fake
    Ollama server: what is tested is the check of a given reply.)"""
    question = "Which companies use Python 3?"
    netflix = "Netflix uses Python throughout their organization to run chaos engineering tests. [1]"
    answer = _ask_with_reply(store, embedder, question, netflix)
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert answer.notice.startswith("The model's answer does not mention python 3"), answer.notice
    quoted = [sentence.text for sentence in answer.sentences if sentence.citations]
    assert quoted and all("Python 3" in text for text in quoted), quoted
    meta = "Facebook (Meta) and Instagram use Python 3 at scale. [1]"
    answer = _ask_with_reply(store, embedder, question, meta)
    assert "python 3" not in answer.notice, answer.to_dict()
    from docchat.app.citations import CheckedAnswer, unsaid_versions
    from docchat.app.schema import AnswerSentence

    def unsaid(question: str, answer: str) -> list[str]:
        return unsaid_versions(question, CheckedAnswer([AnswerSentence(answer, [1], True)], [], 1, 1))

    assert unsaid("What changed in Django 2.0?", "Django 2.0 dropped Python 2.") == []
    assert unsaid("What changed in Django 2.0?", "Django dropped Python 2.") == ["django 2.0"]
    assert unsaid("Who uses Flask?", "Twilio uses Flask.") == []  # no version asked


def test_an_answer_leaves_out_sentences_about_another_subject(store, embedder) -> None:
    """Fresh, twenty-fourth session: "Which CFPB project is described and who uses it?" was answered with Collab,
    then "Netflix uses Python throughout their organization ..." and "NASA uses Python extensively ...": supported,
    about other subjects. A sentence that opens with a name the question does not hold, mentions none of its names
    and says nothing of its other terms is left out when another sentence is about the question's names. (The
    model's reply comes from a fake Ollama server: what is tested is the check of a given reply.)"""
    reply = (
        "Collab by the U.S. government's Consumer Financial Protection Bureau (CFPB) agency is a corporate intranet "
        "and collaboration platform for large organizations. [1] Netflix uses Python throughout their organization "
        "to run chaos engineering tests. [1] NASA uses Python extensively and open sources much of their software. [1]"
    )
    answer = _ask_with_reply(store, embedder, "Which CFPB project is described and who uses it?", reply)
    assert answer.mode == "generated", answer.to_dict()
    assert "Collab" in answer.answer and "Netflix" not in answer.answer and "NASA" not in answer.answer, answer.answer
    from docchat.app.citations import CheckedAnswer, without_other_subjects
    from docchat.app.schema import AnswerSentence

    def kept(question: str, *sentences: str) -> list[str]:
        checked = CheckedAnswer([AnswerSentence(text, [1], True) for text in sentences], [], len(sentences), 3)
        known = frozenset({"netflix", "nasa", "twilio", "flask", "collab"})
        kept = without_other_subjects(checked, question, known, lambda name: name == "python")
        return [s.text for s in kept.sentences]

    collab = "Collab is an intranet at the CFPB."
    assert kept("Which CFPB project is described?", collab, "It is used by thousands.") == [
        collab,
        "It is used by thousands.",
    ]
    assert kept("Who uses Flask?", "Twilio uses Flask.", "Netflix runs chaos tests.") == ["Twilio uses Flask."]
    # "Python", which every passage names, tells no subject apart
    twilio = "Twilio runs Flask."
    assert kept("What does Twilio use Python for?", twilio, "Netflix uses Python.") == [twilio]
    # a sentence that speaks to the question's other terms stays ("chaos"), and none is left out when no sentence
    # names what the question does
    assert kept("Who uses Flask for chaos tests?", "Twilio uses Flask.", "Netflix runs chaos tests.") == [
        "Twilio uses Flask.", "Netflix runs chaos tests."]  # fmt: skip
    assert kept("Who uses Django?", "Twilio uses Flask.", "Netflix runs chaos tests.") == [
        "Twilio uses Flask.", "Netflix runs chaos tests."]  # fmt: skip


def test_an_acronym_is_answered_with_the_words_that_spell_it_out(store, embedder) -> None:
    """Fresh, twenty-fourth session: "What does NIST stand for?" was refused by the relevance gate (0.61), though the
    document lists the "National Institute of Standards and Technology (NIST)". The answer is the passage's words,
    cited to the sentence, without the model (the fake server's reply is never asked for)."""
    answer = _ask_with_reply(store, embedder, "What does NIST stand for?", "NIST stands for Nothing. [1]")
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert answer.answer.startswith("NIST stands for National Institute of Standards and Technology."), answer.answer
    assert len(answer.citations) == 1 and "(NIST)" in answer.citations[0].quote
    answer = _ask_with_reply(store, embedder, "What does NSA stand for?", "NSA stands for Nothing. [1]")
    assert "National Security Agency" not in answer.answer  # named, never spelled out: the usual checks decide


def test_an_invented_sentence_left_out_leaves_no_answer_to_the_question(store, embedder) -> None:
    """Fresh, twenty-fourth session: "What is Odoo's license?" was answered with what Odoo is and an unsupported
    "Odoo is licensed under the GNU General Public License (GPL)." (shown, uncited). A sentence naming what no
    passage holds is left out; when what is left says nothing of the question's terms, the reply is the quotes
    that do, here none. (The model's reply comes from a fake Ollama server: the check of a given reply is tested.)"""
    reply = (
        "Odoo is an all-in-one management software that offers a range of business applications that form a complete "
        "suite of enterprise management applications. [1] Odoo is licensed under the GNU General Public License (GPL)."
    )
    answer = _ask_with_reply(store, embedder, "What is Odoo's license?", reply)
    assert answer.abstained and "GPL" not in answer.answer, answer.to_dict()
    answer = _ask_with_reply(store, embedder, "What is Odoo?", reply)  # what is left answers this one
    assert not answer.abstained and answer.mode == "generated" and "GPL" not in answer.answer, answer.to_dict()
    assert "Left out a sentence naming" in answer.notice, answer.notice


def test_quotes_for_a_default_asked_about_must_say_default(store, embedder) -> None:
    """Fresh, twenty-fourth session: "What is the default branch name in Git?" was quoted with "... 'I want to rename
    a branch' (git branch -m newname)": a sentence that never says what is a default cannot tell it. (The model's
    reply comes from a fake Ollama server: what is tested is the check of a given reply.)"""
    reply = "Google supports Python by default. [1]"
    answer = _ask_with_reply(store, embedder, "Which language does Google support by default?", reply)
    assert answer.abstained, answer.to_dict()  # the Google sentence says "core languages", no default
    answer = _ask_with_reply(store, embedder, "Which languages does Google support officially?", reply)
    assert not answer.abstained and "Java" in answer.answer, answer.to_dict()  # the same sentence, no default asked


def test_quotes_that_name_nothing_of_the_kind_asked_for_are_a_refusal(store, embedder) -> None:
    """Fresh, twenty-fourth session: "Which Python web framework does Instagram use?" was quoted with "(7) Facebook
    (Meta) and Instagram use Python 3 at scale.": names, none of them a web framework, where the passages call
    other things (Flask-RESTful, Vue.js) frameworks. (The model's reply comes from a fake Ollama server.)"""
    answer = _ask_with_reply(store, embedder, "Which Python web framework does Instagram use?", "I do not know. [1]")
    assert answer.abstained, answer.to_dict()
    assert answer.notice.startswith("The closest sentences name"), answer.notice


def test_a_quote_for_the_fact_asked_for_must_be_about_what_the_question_names(embedder) -> None:
    """ "Which version of Mako added Python 3 support?" (fresh, eighth session) was answered with "16.04 is the
    first Ubuntu release to include Python 3" from another passage: a number, but not Mako's. A quote that
    states the kind of fact asked for must mention the first clause's names (in itself, the sentence before,
    or its passage's title or heading); a name every passage holds ("Python") does not count."""
    from docchat.app.answer_type import Expected, states
    from docchat.app.citations import SentenceVectors, subject_names
    from docchat.app.extractive import extractive_answer

    question = "Which version of Mako added Python 3 support?"
    passages = [
        _passage(1, "Mako is a Python template engine. It was the default for the Pylons framework.", 0.9),
        _passage(2, "16.04 is the first Ubuntu release to include Python 3 as the default Python installation.", 0.8),
    ]
    about = subject_names(question, passages)
    assert about == {"mako"}
    assert subject_names("When was Mako released, and which framework used Mako?", passages) == {"mako"}
    vectors = SentenceVectors(embedder.embed)

    def quote(about: set[str] | None) -> str:
        return extractive_answer(
            embedder.embed_query(question), passages, vectors, question=question,
            wanted=lambda text: states(text, Expected.QUANTITY, question), about=about,
        ).text()  # fmt: skip

    assert "Ubuntu" in quote(None)  # without the names: the number of another passage
    assert quote(about) == ""  # no sentence on Mako states a version: no quotes, so docchat refuses
    passages[0] = _passage(1, "Mako is a Python template engine. Version 0.3 of it added Python 3 support.", 0.9)
    assert "0.3" in quote(subject_names(question, passages))  # "it": Mako is named in the sentence before


def test_a_sentence_about_another_name_is_no_quote_for_the_name_of_its_title(embedder) -> None:
    """Fresh, twenty-fifth session: "What year was Flask first released?" was quoted with "Ubuntu's latest Long Term
    Support (LTS) operating system was released last year, in April 2016." from a post titled on Flask and Ubuntu.
    A sentence that opens with a name of its own has the question's names from its title only: not about them."""
    from docchat.app.answer_type import Expected, states
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    question = "What year was Flask first released?"
    passage = Passage(id="p1", text="Ubuntu's latest Long Term Support release was released in April 2016.",
                      source="flask-ubuntu.md", title="How to set up Flask on Ubuntu", heading="", start_line=1,
                      end_line=1, similarity=0.9)  # fmt: skip

    def quote(text: str) -> str:
        passages = [replace(passage, text=text)]
        return extractive_answer(
            embedder.embed_query(question), passages, SentenceVectors(embedder.embed), question=question,
            wanted=lambda sentence: states(sentence, Expected.TIME, question), about={"flask"},
        ).text()  # fmt: skip

    assert quote(passage.text) == ""
    assert "2010" in quote("The first release came out in April 2010.")  # no name of its own: about the title's


def test_a_credit_answers_who_made_something_whatever_its_words(embedder) -> None:
    """Fresh, twenty-fifth session: "Who is the author of Full Stack Python?" was refused over "Full Stack Python is
    coded and written by Matt Makai.": a quote must say a term of the question beyond its names ("author"), and a
    credit says it in other words. Asked who made something, a sentence that credits someone does."""
    from docchat.app.answer_type import Expected, states
    from docchat.app.citations import SentenceVectors
    from docchat.app.extractive import extractive_answer

    passages = [_passage(1, "Full Stack Python is coded and written by Matt Makai. He lives in Washington.", 0.9)]

    def quote(question: str, passages: list[Passage] = passages) -> str:
        return extractive_answer(
            embedder.embed_query(question), passages, SentenceVectors(embedder.embed), question=question,
            wanted=lambda sentence: states(sentence, Expected.NAME, question), beyond_names=True,
        ).text()  # fmt: skip

    assert "written by Matt Makai" in quote("Who is the author of Full Stack Python?")
    assert quote("Who uses Full Stack Python?") == ""  # not a credit asked for: "uses" is not said
    # a maker's noun credits no one by name (fsp-118 was quoted with it)
    author = [_passage(1, "The Pony ORM author explains on a Stack Overflow answer how Pony ORM works.", 0.9)]
    assert quote("Which company created the Pony ORM?", author) == ""


def test_a_number_stated_only_of_something_else_is_no_answer() -> None:
    """Fresh, twenty-fifth session: "How many employees does Uber have?" was answered "Uber's tech stack contains
    ... Python ... [1] The project is currently running and in-use by thousands of CFPB employees. [2]": the count
    is Collab's. A sentence stating the number asked for must name the question's subject (or cite a passage whose
    title or heading does)."""
    from docchat.app.answer_type import Expected
    from docchat.app.citations import CheckedAnswer, stated_of_another
    from docchat.app.schema import AnswerSentence

    question = "How many employees does Uber have?"
    passages = [_passage(1, "Uber's tech stack contains a significant amount of Python.", 0.9),
                _passage(2, "Collab is in use by thousands of CFPB employees.", 0.8)]  # fmt: skip
    first = AnswerSentence("Uber's tech stack contains a significant amount of Python.", [1], True)

    def elsewhere(count: str, cited: int = 2) -> bool:
        sentences = [first, AnswerSentence(count, [cited], True)]
        checked = CheckedAnswer(sentences, [], claims=2, supported=2)
        return stated_of_another(checked, Expected.QUANTITY, question, frozenset({"CFPB"}), {"uber"}, passages)

    assert elsewhere("The project is in use by thousands of CFPB employees.")
    assert not elsewhere("Uber has thousands of employees.")
    passages[1] = replace(passages[1], title="Uber")  # the cited passage is titled on Uber
    assert not elsewhere("The company has thousands of employees.")


def test_the_prompts_passage_layout_copied_into_an_answer_is_removed(store, embedder) -> None:
    """Seen with the 0.5B: "Virtual environments (virtualenvs) [1] <<< Virtual environments, implemented by ..."."""
    from docchat.app.prompt import without_layout

    passage = Passage(id="p1", text="Virtual environments isolate dependencies.", source="venv.md",
                      title="Virtual environments (virtualenvs)", heading="Why?", start_line=1, end_line=1)  # fmt: skip
    copied = "Virtual environments (virtualenvs) — Why? [1] <<< Virtual environments isolate dependencies. [1] >>>"
    assert without_layout(copied, [passage]) == "Virtual environments isolate dependencies. [1]"
    numbered = "[1] Virtual environments (virtualenvs) — Why?\nThey isolate dependencies [1]."
    assert without_layout(numbered, [passage]) == "They isolate dependencies [1]."
    # fresh, tenth session: the title line with the answer where the heading was
    written = "[1] Virtual environments (virtualenvs) — They isolate dependencies. [2] Virtual environments " \
        "(virtualenvs) — Why?"  # fmt: skip
    assert without_layout(written, [passage]) == "They isolate dependencies."
    # fresh, eleventh session: a page without headings is titled by its subject, which a sentence may open with
    page = Passage(id="p2", text="Jupyter Notebooks are stored in JSON.", source="jupyter.md",
                   title="Jupyter Notebook", heading="", start_line=1, end_line=1)  # fmt: skip
    said = "Jupyter Notebook uses JSON. [1] Jupyter Notebook Best Practices contains tips for beginners. [1]"
    assert without_layout(said, [page]) == said
    assert without_layout("[1] Jupyter Notebook\nIt uses JSON. [1]", [page]) == "It uses JSON. [1]"
    miscopied = "It uses JSON. [1] >>] It is stored as text."  # a fence miscopied (fsp-009)
    assert without_layout(miscopied, [page]) == "It uses JSON. [1] It is stored as text."
    reply = "<<< Collab was built by the Consumer Financial Protection Bureau [1]. >>>"
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.mode == "generated" and "<<<" not in answer.answer and ">>>" not in answer.answer, answer.answer


def test_the_cli_says_when_the_streamed_text_is_not_the_answer(store, embedder) -> None:
    """The terminal keeps what was streamed: after a refusal or quotes it says that text is not the answer, and
    where the checks reworded a kept answer ("The passage states that ..."), it shows the checked one."""
    from docchat.app.render import CHECKED, WITHDRAWN, render_sources

    wrong = "Collab uses Oracle Database [1]."
    refused = _ask_with_reply(store, embedder, "Which database does Collab use?", wrong)
    assert refused.abstained, refused.to_dict()
    shown = render_sources(refused, streamed=wrong)
    assert WITHDRAWN in shown and shown.index(WITHDRAWN) < shown.index(refused.answer), shown
    assert WITHDRAWN not in render_sources(refused, streamed="")
    said = "Collab was built by the Consumer Financial Protection Bureau [1]."
    kept = _answer_with_reply(store, embedder, said)
    shown = render_sources(kept, streamed=said)
    assert kept.mode == "generated" and WITHDRAWN not in shown and CHECKED not in shown, shown
    reworded = f"The passage states that {said[0].lower()}{said[1:]}"
    checked = _answer_with_reply(store, embedder, reworded)
    shown = render_sources(checked, streamed=reworded)
    assert checked.mode == "generated" and WITHDRAWN not in shown, checked.to_dict()
    after = shown.split(f"{CHECKED} ", 1)[-1]
    assert CHECKED in shown and after.startswith("Collab was built by the Consumer Financial Protection"), shown


def test_a_sentence_said_twice_is_kept_once(store, embedder) -> None:
    """ "AI (LLM, RAG, MCP, Agents) [1] AI (LLM, RAG, MCP, Agents) [1]": two copies are not a loop (three are), but
    the answer says it once."""
    claim = "Collab was built by the Consumer Financial Protection Bureau"
    answer = _answer_with_reply(store, embedder, f"{claim} [1]. {claim.lower()} [1].")
    assert answer.mode == "generated" and [s.text for s in answer.sentences] == [f"{claim}."], answer.to_dict()


def test_the_ellipses_joining_trimmed_passage_sentences_are_not_copied_into_the_answer(store, embedder) -> None:
    """The model reads trimmed passages whose sentences are joined by "…" and sometimes copies them."""
    reply = "Collab was built by the CFPB agency [1]. … It is used by thousands of CFPB employees [1]."
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.mode == "generated" and "…" not in answer.answer, answer.to_dict()
    assert [s.text[:9] for s in answer.sentences] == ["Collab wa", "It is use"], answer.to_dict()
    # a run of passage sentences copied with the "…" between them is left out (fsp-102: a change log's items)
    reply = "Collab was built by the CFPB agency [1]. The project is running … It is used by CFPB employees [1]."
    answer = _answer_with_reply(store, embedder, reply)
    assert [s.text for s in answer.sentences] == ["Collab was built by the CFPB agency."], answer.to_dict()


def test_a_repetition_loop_is_never_an_answer(store, embedder) -> None:
    """A reply that loops is replaced by quotes, even though each copy cites a supporting passage."""
    reply = "The answer is: Collab was built by the Consumer Financial Protection Bureau [1]. " * 4
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.mode == "extractive" and "not supported" in answer.notice
    assert answer.answer.count("The answer is") == 0


@pytest.mark.parametrize("cited", [" [1]", ""])
def test_an_invented_identifier_is_not_supported_however_similar_the_sentence(store, embedder, cited) -> None:
    """Not supported, and then left out, not shown muted (seen on Full Stack Python, uncited: "The library used to
    talk to Slack is the `slack_sdk` library." over passages that name slackclient); the notice says so."""
    reply = (
        "Collab was built by the Consumer Financial Protection Bureau [1]. "
        f"Its agencies configure it through `collab_settings.backends.AGENCY_LIST`{cited}."
    )
    answer = _answer_with_reply(store, embedder, reply)
    assert answer.mode == "generated" and [s.text.split()[0] for s in answer.sentences] == ["Collab"], answer.to_dict()
    assert answer.sentences[0].supported and answer.citations and "collab_settings" not in answer.answer
    assert (
        answer.notice == "Left out a sentence naming collab_settings.backends.AGENCY_LIST, which no passage mentions."
    )


def test_key_facts_are_numbers_identifiers_and_names() -> None:
    from docchat.app.citations import key_facts, missing_facts

    assert key_facts("Odoo runs on PostgreSQL 16 via odoo.sql_db and connect().") == {
        "odoo", "postgresql", "16", "odoo.sql_db", "connect()"
    }  # fmt: skip
    assert key_facts("The frontend contains the user interface.") == set()
    assert missing_facts("Jessica McKellar co-founded Zulip.", "Jessica McKellar worked at Dropbox.") == {"zulip"}
    # a number must be in the passage as a number, not inside another one or as a list's "(3)"
    passage = "(3) TwilioQuest, launched in 2013, uses the Vue.js framework and plays mp3 files."
    assert missing_facts("TwilioQuest was built with Vue.js version 3.", passage) == {"3"}
    assert missing_facts("(3) TwilioQuest was launched in 2013.", passage) == set()
    assert missing_facts("It needs Python 3.", "It needs Python 3 or newer.") == set()
    # a name must be there as a word: "Go" is not in "GoCD" (fresh, tenth session: "GoCD is written in Go.")
    assert missing_facts("GoCD is written in Go.", "GoCD is a continuous integration server.") == {"go"}
    assert missing_facts("Django's ORM maps tables.", "The ORM of Django's framework maps tables.") == set()


def test_who_a_sentence_credits_must_be_credited_by_its_passage() -> None:
    """Fresh, seventeenth session: "Who created the Caddy web server?" was answered "Caddy was created in 2015 by
    Go." from "Caddy is ... created in 2015 and written in Go.": every word is the passage's, but the passage
    credits no one. "Who founded Sentry?" got "... founded by the Python community." from a tutorial that says
    "Make sure you have Python 3 installed"; seed-049 "Jessica McKellar co-founded Dropbox ...". A credit must be
    the passage's: "by" before the name, or the name before the verb, in one sentence; what was made, made in one
    sentence (not across "although", "while", "but"), its maker named there or in the sentence before."""
    from docchat.app.citations import uncredited_agents

    caddy = "Caddy is a relatively new HTTP server created in 2015 and written in Go. The Go code written to build it."
    assert uncredited_agents("Caddy was created in 2015 by Go.", caddy) == {"Go"}
    assert uncredited_agents("Sentry was founded by the Python community.", "Have Python 3 installed.") == {"Python"}
    dropbox = "Dropbox is known for Python. It hired Jessica McKellar (now at a company that she co-founded)."
    assert uncredited_agents("Jessica McKellar co-founded Dropbox after Guido van Rossum.", dropbox) == {"Dropbox"}
    # the maker is named where the passage says it was made, or in the sentence before (fresh, seventeenth session:
    # "Which company built TwilioQuest?" answered "Netflix built TwilioQuest." from a chunk that names Netflix next)
    twilio = "Twilio uses Django to power TwilioQuest. They wrote how TwilioQuest was built. Netflix uses Python."
    assert uncredited_agents("Netflix built TwilioQuest.", twilio) == {"TwilioQuest"}
    assert uncredited_agents("Twilio built TwilioQuest.", twilio) == set()
    markdown = "Markdown was originally\n[developed by John Gruber](https://daringfireball.net/projects/markdown/)."
    assert uncredited_agents("John Gruber created the Markdown language.", markdown) == set()
    # the passage's own credit, however written, and sentences that credit no one, pass
    flask = "Flask was originally designed and developed by [Armin Ronacher](https://x.org) as a joke."
    assert uncredited_agents("Flask was created by Armin Ronacher.", flask) == set()
    assert uncredited_agents("Armin Ronacher created Flask.", flask) == set()
    assert uncredited_agents("Flask was created by Armin Ronacher.", "Armin Ronacher. Flask was created.") == {"Armin"}
    collab = "Collab is the intranet that the Consumer Financial Protection Bureau, a US agency, built for employees."
    assert uncredited_agents("Collab was built by the Consumer Financial Protection Bureau.", collab) == set()
    assert uncredited_agents("Collab by the U.S. government's CFPB is an intranet.", "Collab is an intranet.") == set()
    assert uncredited_agents("Flake8 is used by Python developers.", "Python developers use Flake8.") == set()
    # fresh, twentieth session: "Guido van Rossum created Python." passed on the Dropbox sentence, whose only making
    # verb is in the aside about Jessica McKellar's new company; an aside that names what was made still counts
    dropbox = (
        "Dropbox is well-known for using Python. They hired Python core contributors, such as Guido van Rossum and"
        " Jessica McKellar (although Jessica is now at a new company that she co-founded)."
    )
    assert uncredited_agents("Guido van Rossum created Python.", dropbox) == {"Python"}
    flask = "Flask ([source code](https://github.com/pallets/flask)) was created by Armin Ronacher."
    assert uncredited_agents("Armin Ronacher created Flask.", flask) == set()


def test_an_answer_crediting_a_name_its_passage_does_not_is_refused(store, embedder) -> None:
    """The engine's side of the credit check: an answer crediting the wrong name with what the question asks who
    made is unsupported (quoted instead: the passage's credit), and quotes that credit no one do not answer "Who
    ...?" either: refused."""
    answer = _ask_with_reply(store, embedder, "Which organization built Collab?", "Collab was built by Dropbox. [1]")
    assert answer.mode == "extractive" and "Dropbox" not in answer.answer, answer.to_dict()  # the passage's credit
    assert "Collab by the U.S. government's Consumer Financial Protection Bureau" in answer.answer
    answer = _ask_with_reply(store, embedder, "Who founded Dropbox?", "Dropbox was founded by Guido van Rossum. [1]")
    assert answer.abstained and "credited with it" in answer.notice, answer.to_dict()  # no passage credits anyone
    reply = "Collab was built by the Consumer Financial Protection Bureau [1]."
    answer = _ask_with_reply(store, embedder, COLLAB, reply)
    assert answer.mode == "generated" and not answer.abstained, answer.to_dict()


def test_a_question_that_stands_on_its_own_is_never_glued_to_the_previous_one() -> None:
    from docchat.app.condense import standalone_question

    history = [{"role": "user", "content": "Which government agency built Collab?"},
               {"role": "assistant", "content": "The CFPB built it [1]."}]  # fmt: skip
    assert standalone_question("What is the capital of Peru?", history, None) == "What is the capital of Peru?"
    assert standalone_question("Netflix?", history, None) == "Netflix?"
    glued = standalone_question("Who maintains it?", history, None)
    assert glued.startswith("Which government agency built Collab?") and glued.endswith("Who maintains it?")
    assert standalone_question("And the licence?", history, None).startswith("Which government agency")


def test_an_answer_that_restates_the_question_is_not_an_answer(store, embedder) -> None:
    """The 0.5B's echo of the question cites a passage on the topic but adds no word of its own: quotes
    replace it. ("What ... for?" asks for no particular kind of fact, so only this check can catch it.)"""
    answer = _ask_with_reply(store, embedder, NETFLIX, "Netflix uses Python for Python [1].")
    assert answer.mode == "extractive" and not answer.abstained, answer.to_dict()
    assert "Netflix uses Python for Python" not in answer.answer
    assert "chaos" in answer.answer or "PyCon" in answer.answer  # the quotes say what it uses Python for
