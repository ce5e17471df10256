"""Follow-up rewriting: which questions are rewritten, and which rewrites are accepted.

The rewriting model is a stand-in returning a fixed text (the real model's wording varies): what is tested is
docchat's rule for using or rejecting a rewrite.
"""

from __future__ import annotations

from docchat.app.condense import follow_up_history, standalone_question

HISTORY = [
    {"role": "user", "content": "Which website is one of the largest sites at scale to use Python?"},
    {"role": "assistant", "content": "Reddit [1]."},
]


class FixedRewrite:
    """Stands in for the model: always rewrites to ``text``."""

    def __init__(self, text: str) -> None:
        self.text, self.calls = text, 0

    def complete(self, messages, max_tokens=None) -> str:
        self.calls += 1
        return self.text


def test_a_good_rewrite_is_used_without_its_copied_citation_marker() -> None:
    llm = FixedRewrite("How much of Reddit is built in Python? [1]")
    assert standalone_question("How much of it is built in Python?", HISTORY, llm) == (
        "How much of Reddit is built in Python?"
    )


def test_a_rewrite_that_still_refers_back_falls_back_to_the_previous_question() -> None:
    llm = FixedRewrite("How much of it is built in Python?")
    rewritten = standalone_question("How much of it is built in Python?", HISTORY, llm)
    assert rewritten == f"{HISTORY[0]['content']} How much of it is built in Python?"


def test_a_standalone_question_is_not_sent_to_the_model_at_all() -> None:
    llm = FixedRewrite("Which website uses Python in Peru?")
    assert standalone_question("What is the capital of Peru?", HISTORY, llm) == "What is the capital of Peru?"
    assert llm.calls == 0


def test_that_there_and_one_that_refer_to_nothing_before_do_not_make_a_follow_up() -> None:
    """Seen in a new chat: "What is the name of the MySQLdb fork that added Python 3 support?" after a question on
    mod_python was glued to it (its relative "that" read as a reference) and refused for not mentioning mod_python."""
    for question in (
        "What is the name of the MySQLdb fork that added Python 3 support?",
        "Which company makes the tool that Reddit uses?",
        "Is there a tutorial on building a Slack bot with Python?",
        "Which website is one of the largest sites to use Python?",
        "Why does a Java-only shop using WebSphere need Python?",  # glued to "What does an SSG do?" in a new chat
        "Why is the sky blue?",
        "What is caching?",
        "Which Python version?",
        "Which is the most popular web framework today?",
        "Which hosting services for Git repositories are mentioned?",  # in the documents: glued, fresh, eleventh
        "What orchestration tools are mentioned?",
        # fresh, eleventh session: a later clause's "it" or "one" is what the first clause names; these were glued
        # to the question before
        "What is Pyramid and who maintains it?",
        "Which company created Jinja2, and what template engine is it similar to?",
        "Which databases does Django support, and which one does the site recommend?",
    ):
        llm = FixedRewrite("Which website uses Python in Peru?")
        assert standalone_question(question, HISTORY, llm) == question
        assert llm.calls == 0
    follow_ups = (
        "Does Flask support that?",
        "Who uses that feature?",
        "Are there any tutorials for it?",
        "Which tools does that team use?",
        "Is there a page on that?",
        "Where does the second one work?",
        "Which one of the two is faster?",
        "Why?",
        "Why is that?",
        "Why not Flask?",
        "And the backend?",
        "Which version?",  # fresh, eleventh session: after "Is Python used by Instagram?", refused as a question
        "What license?",
        "How many users?",
        "How much?",
        "Which editions are there?",  # fsp-099: after "What kind of database is Neo4j?"
        "Which is older?",  # fresh, eleventh session: after a question on Nginx and Apache
        "Which are free?",
        "Does Flask support it?",  # the name and the pronoun in one clause: "it" is what was said before
        "Which of the mentioned tools is fastest?",
        "When was it released, and by Mozilla?",
    )
    for question in follow_ups:
        assert standalone_question(question, HISTORY, None) != question  # still read as follow-ups


def test_a_rewrite_that_adds_nothing_from_the_conversation_falls_back() -> None:
    """The model echoed a question whose reference ("the second one", "that section") it did not resolve."""
    history = [
        {"role": "user", "content": "Which Python core contributors did Dropbox hire?"},
        {"role": "assistant", "content": "Dropbox hired Guido van Rossum and Jessica McKellar [1]."},
    ]
    for echo in ("Where does the second one work now?", "Where does the second one work today?"):
        rewritten = standalone_question("Where does the second one work now?", history, FixedRewrite(echo))
        assert rewritten == f"{history[0]['content']} Where does the second one work now?"
    resolved = FixedRewrite("Where does Jessica McKellar work now?")
    assert standalone_question("Where does the second one work now?", history, resolved) == resolved.text


def test_a_rewrite_that_answers_instead_of_asking_falls_back() -> None:
    """Seen with the 0.5B: "And the backend?" after a question on the frontend came back as a made-up answer."""
    history = [
        {"role": "user", "content": "What is the frontend?"},
        {"role": "assistant", "content": "The frontend is the user-facing component [1]."},
    ]
    answer = FixedRewrite("The backend is the server-side component that manages data for the frontend.")
    assert standalone_question("And the backend?", history, answer) == "What is the frontend? And the backend?"
    question = FixedRewrite("What is the backend, compared with the frontend?")
    assert standalone_question("And the backend?", history, question) == question.text


def test_a_rewrite_that_repeats_an_earlier_question_falls_back() -> None:
    """Fresh, tenth session: "Who did they hire?" after "Which company hired well-known Python core contributors?"
    came back as that question, word for word: what the new one asks ("who") was lost."""
    history = [
        {"role": "user", "content": "Which company hired well-known Python core contributors?"},
        {"role": "assistant", "content": "Dropbox [1]."},
    ]
    llm = FixedRewrite("Which company hired well-known Python core contributors?")
    rewritten = standalone_question("Who did they hire?", history, llm)
    assert rewritten == f"{history[0]['content']} Who did they hire?"
    good = "Which Python core contributors did Dropbox hire?"
    assert standalone_question("Who did they hire?", history, FixedRewrite(good)) == good


def test_a_whole_question_after_and_stands_on_its_own() -> None:
    """Fresh, tenth session: "And what's the capital of France?" after "What is Gunicorn?" was glued to it."""
    llm = FixedRewrite("What is the capital of Gunicorn?")
    for question in ("And what's the capital of France?", "So what is a good pizza recipe?"):
        assert standalone_question(question, HISTORY, llm) == question
    assert llm.calls == 0
    for question in ("And the backend?", "And how does it work?", "But which one is faster?", "And what about Flask?"):
        assert standalone_question(question, HISTORY, None) != question  # still follow-ups


def test_a_follow_up_after_a_refused_question_refers_to_the_one_before() -> None:
    """Fresh, tenth session: "Which web frameworks can it run?" after an off-topic question (refused) was glued to
    that question and refused too; it refers to Gunicorn, asked before."""
    from docchat.app.prompt import refusal_text

    history = [
        {"role": "user", "content": "What is Gunicorn?"},
        {"role": "assistant", "content": "Gunicorn is a WSGI server [1]."},
        {"role": "user", "content": "What about the weather in Paris?"},
        {"role": "assistant", "content": refusal_text()},
    ]
    rewritten = standalone_question("Which web frameworks can it run?", follow_up_history(history, 6, 600), None)
    assert rewritten == "Which web frameworks can Gunicorn run?"


def test_a_follow_up_after_only_refused_questions_refers_to_what_they_asked() -> None:
    """Fresh, twenty-third session (fsp-094): "What is the encode databases project?" was refused, and "Which web
    framework is it handy for?" then stood alone ("it": nothing) and was answered with quotes on web frameworks in
    general. With no answered exchange before, "it" is still what the user asked about."""
    from docchat.app.prompt import refusal_text

    history = [
        {"role": "user", "content": "What is the encode databases project?"},
        {"role": "assistant", "content": refusal_text()},
    ]
    assert standalone_question("Which web framework is it handy for?", follow_up_history(history, 6, 600), None) == (
        "What is the encode databases project? Which web framework is it handy for?"
    )


def test_a_fallback_reaches_back_to_the_question_that_named_the_subject() -> None:
    """Fresh, eleventh session: "Does it support async request handlers?" after "What is Sanic?" and "Who maintains
    it?" was glued to "Who maintains it?" only (the model echoed the question) and refused: Sanic was lost. Glued,
    when no name can stand for its pronouns."""
    history = [
        {"role": "user", "content": "What is Sanic?"},
        {"role": "assistant", "content": "It is a Python web framework [1]."},
        {"role": "user", "content": "Who maintains it?"},
        {"role": "assistant", "content": "A community of volunteers [1]."},
    ]
    echo = FixedRewrite("Does it support async request handlers?")
    rewritten = standalone_question("Does it support async request handlers?", history, echo)
    assert rewritten == "What is Sanic? Who maintains it? Does it support async request handlers?"
    history[2]["content"] = "Who maintains the framework?"  # the question before stands on its own: it alone
    rewritten = standalone_question("Does it support async request handlers?", history, echo)
    assert rewritten == "Who maintains the framework? Does it support async request handlers?"


def test_a_fallback_reads_its_pronouns_as_the_name_the_last_exchange_is_about() -> None:
    """Fresh, thirteenth session: the 0.5B echoed "What is the maximum database size it supports?" (after a question
    on SQLite) and "Who created it?" (after "What is Datasette?"); glued to the question before, the first was read
    as asking for a Python version. The name the last answer opens with, else the last question's, stands in."""
    sqlite = [
        {"role": "user", "content": "Since which Python version is SQLite included in the standard library?"},
        {"role": "assistant", "content": "SQLite is included in the standard library as of Python 2.5. [1]"},
    ]
    question = "What is the maximum database size it supports?"
    assert standalone_question(question, sqlite, FixedRewrite(question)) == (
        "What is the maximum database size SQLite supports?"
    )
    datasette = [
        {"role": "user", "content": "What is Datasette?"},
        {"role": "assistant", "content": "From the documents: “It exposes JSON APIs from SQLite databases.” [1]"},
    ]
    assert standalone_question("Who created it?", datasette, None) == "Who created Datasette?"
    bottle = [
        {"role": "user", "content": "What is the Bottle web framework?"},
        {"role": "assistant", "content": "Yes, Bottle is a single source file web framework. [1]"},
    ]
    assert standalone_question("What is its file called, and what does it need?", bottle, None) == (
        "What is Bottle's file called, and what does Bottle need?"
    )
    dropbox = [
        {"role": "user", "content": "Which core developers did Dropbox hire?"},
        {"role": "assistant", "content": "Dropbox hired Guido van Rossum and Jessica McKellar [1]."},
    ]
    assert standalone_question("Where does the second one work?", dropbox, None) == (
        "Which core developers did Dropbox hire? Where does the second one work?"  # no pronoun to read as a name
    )
    slack = [
        {"role": "user", "content": "What is Slack?"},
        {"role": "assistant", "content": "Slack is a chat service [1]."},
    ]
    assert standalone_question("How much did Salesforce pay when it bought them?", slack, None) == (
        "What is Slack? How much did Salesforce pay when it bought them?"  # "it" may be Salesforce (s13d, fsp-080)
    )
    company = [
        {"role": "user", "content": "Which company hired well-known Python core contributors?"},
        {"role": "assistant", "content": "From the documents: “They hired Guido van Rossum.” [1]"},
    ]
    assert standalone_question("Who did they hire?", company, None) == (
        "Which company hired well-known Python core contributors? Who did they hire?"  # Python is no subject
    )
