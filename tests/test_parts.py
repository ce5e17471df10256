"""A many-part question: its parts, the parts an answer leaves out, and the quote added for each."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from docchat.app.answer_type import names_in
from docchat.app.citations import SentenceVectors, check_answer
from docchat.app.engine import Engine
from docchat.app.parts import question_parts, quote_missing_parts, unanswered_parts
from docchat.cli.main import app as cli
from tests.conftest import clear_user_settings, fsp_sample
from tests.fake_ollama import run_fake_ollama
from tests.test_answer import _ask_with_reply, store  # noqa: F401  (the module's ingested store fixture)


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "How many parameters did GPT-2 have, and how large are the GPT-3 variants?",
            ["How many parameters did GPT-2 have", "how large are the GPT-3 variants?"],
        ),
        (
            "What is Jupyter Notebook used for? Can it run languages other than Python?",
            ["What is Jupyter Notebook used for?", "Can it run languages other than Python?"],
        ),
        ("Who created the Markdown markup language and in what year?", None),  # "and in": one question
        ("How do the design philosophies of Django and Flask differ?", None),  # "and" between names
        ("Can it run other languages? Which ones?", None),  # "Which ones?" is too short to stand alone
        (  # a lead-in asks nothing: it belongs to the question after it (FSP eval, fsp-004)
            "According to the enterprise Python page, when did Oracle buy Sun and what happened to Java afterwards?",
            ["According to the enterprise Python page, when did Oracle buy Sun", "what happened to Java afterwards?"],
        ),
        ("Tell me about Flask, and who created it?", ["Tell me about Flask", "who created it?"]),  # a request asks
        (  # a statement, then a question: one part (fsp-084)
            "Caddy is written in Go. Which company made it, and who maintains it?",
            ["Caddy is written in Go. Which company made it", "who maintains it?"],
        ),
    ],
)
def test_question_parts(question: str, parts: list[str] | None) -> None:
    assert question_parts(question) == (parts or [question])


def test_a_part_is_left_out_when_no_sentence_has_its_own_words_names_and_kind_of_fact() -> None:
    question = "How many parameters did GPT-2 have, and how large are the GPT-3 variants?"
    assert unanswered_parts(question, ["GPT-2 has 1.5 billion parameters."]) == ["how large are the GPT-3 variants?"]
    # its words but no number ("GPT-3" is a name, not a quantity)
    half = ["GPT-2 has 1.5 billion parameters.", "GPT-3 variants are large."]
    assert unanswered_parts(question, half) == ["how large are the GPT-3 variants?"]
    assert unanswered_parts(question, [*half[:1], "The GPT-3 variants range from 125 million to 175 billion."]) == []
    nginx = "Which web server is the most commonly deployed, and where does Nginx rank among the top sites?"
    apache = "Apache is the most commonly deployed web server."
    known = names_in(["Most sites run the Apache web server."])  # the passages write Apache as a name
    assert unanswered_parts(nginx, [apache], known) == ["where does Nginx rank among the top sites?"]  # Nginx unnamed
    assert unanswered_parts(nginx, [apache, "Nginx is the second most common web server."], known) == []
    # without the passages' names, "Apache" opening the sentence names nothing: the first part looks unanswered
    assert unanswered_parts(nginx, [apache])[0] == "Which web server is the most commonly deployed"
    assert unanswered_parts("What is Collab?", []) == []  # one part: nothing to add


def test_the_part_an_answer_leaves_out_gets_a_quote(store, embedder) -> None:  # noqa: F811
    """The stand-in model answers who built Collab and says nothing on how many use it: the sentence of the
    passages that states how many is quoted after the answer, with its citation, and the notice says why."""
    question = "Which government agency built Collab, and how many employees use it?"
    reply = "Collab was built by the Consumer Financial Protection Bureau [1]."
    answer = _ask_with_reply(store, embedder, question, reply)
    assert answer.mode == "generated" and answer.answer.startswith(reply.removesuffix(" [1]."))
    assert "From the documents:" in answer.answer and "thousands of CFPB employees" in answer.answer
    assert "how many employees use it?" in answer.notice
    assert all(s.supported for s in answer.sentences) and len(answer.citations) >= 1
    complete = (
        "Collab was built by the Consumer Financial Protection Bureau and is used by thousands of its employees [1]."
    )
    answer = _ask_with_reply(store, embedder, question, complete)
    assert "From the documents:" not in answer.answer and not answer.notice


def test_a_quote_for_a_part_mentions_what_the_part_names(store, embedder) -> None:  # noqa: F811
    """Fourteenth session (fsp-004, fsp-056): a part's quote came from a sentence about something else. The corpus
    says how many CFPB employees use Collab, nothing of Netflix's: "how many employees does Netflix have?" gets no
    quote, and the answer stays as the model wrote it."""
    question = "Which government agency built Collab, and how many employees does Netflix have?"
    reply = "Collab was built by the Consumer Financial Protection Bureau [1]."
    answer = _ask_with_reply(store, embedder, question, reply)
    assert "Consumer Financial Protection Bureau" in answer.answer and not answer.abstained, answer.to_dict()
    assert "From the documents:" not in answer.answer and not answer.notice, answer.to_dict()
    # "people" is a word the answer lacks, but the sentence that answers the part adds nothing the answer does not say
    question = "Which government agency built Collab, and how many people use it?"
    reply = "Collab by the U.S. government's Consumer Financial Protection Bureau (CFPB) agency is a corporate " \
        "intranet and collaboration platform for large organizations, and the project is currently running and " \
        "in-use by thousands of CFPB employees [1]."  # fmt: skip
    answer = _ask_with_reply(store, embedder, question, reply)
    assert "From the documents:" not in answer.answer and not answer.notice, answer.to_dict()


def test_a_word_common_to_the_collection_answers_no_part(store, embedder) -> None:  # noqa: F811
    """seed-019: "NASA uses Python extensively ..." shares only "Python" with "Which site lists government jobs that
    require Python": in a corpus that names Python in most chunks, that says nothing of the part, which gets a quote."""
    question = "Which site lists government jobs that require Python, and which agency built Collab?"
    reply = "NASA uses Python extensively and open sources much of their software [1]. Collab was built by the " \
        "Consumer Financial Protection Bureau [1]."  # fmt: skip
    answer = _ask_with_reply(store, embedder, question, reply)
    assert "USAJobs" in answer.answer and "Which site lists government jobs" in answer.notice, answer.to_dict()


def test_a_follow_up_is_read_in_its_rewrite_but_earlier_questions_are_no_parts(store, embedder) -> None:  # noqa: F811
    """Fourteenth session (fsp-055, fsp-056): a follow-up's parts are read in its rewrite when the rewrite asks as
    many (its names then say what a quote must mention); a rewrite that glues the earlier question on adds no part
    to quote for (the earlier question was answered in its own turn)."""
    engine = Engine(store, embedder=embedder)
    rewrite = "Which agency built Collab, and how many employees use Collab?"
    passages = engine.retrieve(rewrite)
    vectors = SentenceVectors(embedder.embed)
    checked = check_answer("Collab was built by the Consumer Financial Protection Bureau [1].", passages, vectors)
    assert checked.supported == 1, checked

    def quote(question: str, standalone: str) -> tuple[str, list[str]]:
        result, parts = quote_missing_parts(checked, question, passages, vectors, embedder.embed_query,
                                            standalone=standalone)  # fmt: skip
        return result.text(), parts

    text, parts = quote("Which agency built it, and how many employees use it?", rewrite)
    assert parts == ["how many employees use Collab?"] and "thousands of CFPB employees" in text, text
    glued = "Is Python used in government agencies? Which agency built it, and how many employees use it?"
    text, parts = quote("Which agency built it, and how many employees use it?", glued)
    assert parts == ["how many employees use it?"], parts  # the turn's own, not "Is Python used in ...?"


def test_the_cli_prints_the_quote_added_after_the_streamed_answer(store, monkeypatch, tmp_path) -> None:  # noqa: F811
    """``docchat ask`` streams the model's text as it comes; the quote added afterwards is printed after it."""
    question = "Which government agency built Collab, and how many employees use it?"
    clear_user_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    reply = "Collab was built by the Consumer Financial Protection Bureau [1]."
    with run_fake_ollama(models={"llama3.2:3b": reply}) as url:
        for name, value in {"DATA_DIR": str(store.store.data_dir), "LLM_BACKEND": "ollama", "OLLAMA_URL": str(url),
                            "OLLAMA_MODEL": "llama3.2:3b"}.items():  # fmt: skip
            monkeypatch.setenv(f"DOCCHAT_{name}", value)
        result = CliRunner().invoke(cli, ["ask", question])
    assert result.exit_code == 0, result.output
    streamed, _, after = result.output.partition("The answer left out part of the question")
    assert "Consumer Financial Protection Bureau" in streamed
    assert "From the documents:" in after and "thousands of CFPB employees" in after, result.output


def test_each_part_of_a_question_brings_its_best_passage(settings, embedder, tmp_path) -> None:
    """fsp-083: "Who created Flask, and which static site generator did that same person go on to start?" retrieved
    only pages on static site generators. Each part that stands on its own is retrieved too, and its best passage
    is among the top_k (marked with its part); a part that refers back ("that same person") retrieves nothing."""
    from docchat.ingest.pipeline import ingest_paths

    pages = [f"content/pages/04-web-development/{name}.markdown" for name in
             ("03-flask", "31-static-site-generator", "32-pelican", "33-lektor", "34-mkdocs")]  # fmt: skip
    ingest_paths(settings, [fsp_sample(tmp_path / "corpus", pages)], embedder=embedder)
    question = "Who created Flask, and which static site generator did that same person go on to start?"
    first = "Who created Flask"
    assert question_parts(question) == [first, "which static site generator did that same person go on to start?"]
    engine = Engine(settings.updated(top_k=3), embedder=embedder)
    flask = engine.retrieve(first)[0]
    assert flask.source.endswith("03-flask.markdown")
    off = Engine(settings.updated(top_k=3, retrieve_parts=False), embedder=embedder).retrieve(question)
    assert flask.id not in [p.id for p in off]  # the question as a whole finds static site generators only
    passages = engine.retrieve(question)
    assert len(passages) == 3 and flask.id in [p.id for p in passages], [p.source for p in passages]
    assert [p.part for p in passages if p.id == flask.id] == [first]
    assert [p.part for p in passages if p.id != flask.id] == ["", ""]


def test_with_each_part_keeps_the_question_s_passages_and_reads_each_part_s_window() -> None:
    from docchat.app.citations import on_topic
    from docchat.app.retrieve import with_each_part
    from docchat.app.schema import Passage

    def passage(name: str, similarity: float) -> Passage:
        return Passage(id=name, text=name, source=f"{name}.md", title=name, heading="", start_line=1, end_line=1,
                       similarity=similarity)  # fmt: skip

    whole = [passage("a", 0.9), passage("b", 0.8), passage("c", 0.5)]
    flask, lektor = passage("flask", 0.95), passage("lektor", 0.6)
    merged = with_each_part(whole, {"Who created Flask": flask, "Which generator?": whole[1]}, 3)
    assert [p.id for p in merged] == ["a", "b", "flask"]  # the lowest gives way; a part's passage already in stays
    assert [p.part for p in merged] == ["", "Which generator?", "Who created Flask"]  # each marked with its part
    assert not whole[1].part  # a copy is marked, not the question's own passage
    # the question's own best stays the question's, and sets its window: "c" is too far below "a" to be cited
    merged = with_each_part(whole, {"one": whole[0]}, 3)
    assert [p.part for p in merged] == ["", "", ""] and on_topic(merged, 0.2) == {1, 2}
    # one the question ranks low is cited as its part's best
    assert on_topic(with_each_part(whole, {"one": whole[2]}, 3), 0.2) == {1, 2, 3}
    merged = with_each_part(whole, {"one": flask, "two": lektor}, 3)
    assert [p.id for p in merged] == ["a", "lektor", "flask"]  # neither part's passage gives way to the other
    # the citable window is read within each part: "a" (0.9) is best of the question's own, "flask" of its part's
    assert on_topic(merged, 0.2) == {1, 2, 3}
    assert on_topic([*whole[:2], passage("c", 0.5)], 0.2) == {1, 2}
