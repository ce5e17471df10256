"""The expected answer type (issue 13): which questions ask for a time, a quantity or a name, and which
texts state one. Questions here are not from the eval sets."""

from __future__ import annotations

import pytest

from docchat.app.answer_type import Expected, expected_answer, states


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did Spotify adopt Python?", Expected.TIME),
        ("In which year was the Pyramid framework released?", Expected.TIME),
        ("So what year did they switch?", Expected.TIME),
        ("How many servers does the team run?", Expected.QUANTITY),
        ("How long does a deploy take, and who approves it?", Expected.QUANTITY),  # the first clause decides
        ("What's the memory limit of a free dyno?", Expected.QUANTITY),
        ("Which version of Node.js does the tool need?", Expected.QUANTITY),
        ("Who maintains the requests library?", Expected.NAME),
        ("Whose style guide does the page recommend?", Expected.NAME),
        ("Which company acquired the startup?", Expected.NAME),
        ("What database does the CMS store pages in?", Expected.NAME),
        ("What kind of organization runs PyPI?", None),  # a description, not a name
        ("What is a message queue?", None),
        ("Which topics does the chapter cover?", None),
        ("Does Flask ship an ORM?", None),
        ("Why do teams pick Go for services?", None),
    ],
)
def test_the_kind_of_fact_a_question_asks_for(question: str, expected: Expected | None) -> None:
    assert expected_answer(question) == expected


@pytest.mark.parametrize(
    ("text", "expected", "question", "holds"),
    [
        ("The project began in mid-1998 as a fork.", Expected.TIME, "When did it begin?", True),
        ("It was released three years ago.", Expected.TIME, "When was it released?", True),
        ("It was first released in March.", Expected.TIME, "When was it released?", True),
        ("The framework is fast and small.", Expected.TIME, "When was it released?", False),
        ("Most of the code base is Python.", Expected.QUANTITY, "How much of it is Python?", True),
        ("They run 40 servers.", Expected.QUANTITY, "How many servers?", True),
        ("They run a fleet of servers.", Expected.QUANTITY, "How many servers?", False),
        ("Caddy is a web server written in Go.", Expected.NAME, "Who created Caddy?", True),
        ("Caddy is a relatively new web server.", Expected.NAME, "Who created Caddy?", False),  # only Caddy
        ("The library was written by Kenneth Reitz.", Expected.NAME, "Who wrote requests?", True),
    ],
)
def test_whether_a_text_states_it(text: str, expected: Expected, question: str, holds: bool) -> None:
    assert states(text, expected, question) is holds


def test_identifiers_and_versions_the_passages_never_mention() -> None:
    from docchat.app.citations import unmentioned_identifiers
    from docchat.app.schema import Passage

    passages = [Passage("a", "Celery's prefetch settings; Python 3.10 support.", "x.md", "X", "", 1, 2)]
    question = "What should worker_prefetch_multiplier be on Python 3.11?"
    assert unmentioned_identifiers(question, passages) == ["3.11", "worker_prefetch_multiplier"]
    assert unmentioned_identifiers("Does Python 3.10 work, e.g. with Celery in 2019?", passages) == []
