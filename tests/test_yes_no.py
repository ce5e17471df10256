"""Polarity (app/yes_no.py): an opening "Yes"/"No" that the answer's own sentence contradicts is dropped, and a
negative answer sentence is not supported by a passage sentence that says nothing negative."""

from __future__ import annotations

import pytest

from docchat.app.yes_no import negates_unlike, without_contradicted_opening


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        # seen with the default model (tenth session): the "No" contradicts the supported sentence after it
        (
            "No, MySQL has a slightly easier initial learning curve than PostgreSQL. [1]",
            "MySQL has a slightly easier initial learning curve than PostgreSQL. [1]",
        ),
        ("Yes, Sanic cannot be deployed on Windows. [1]", "Sanic cannot be deployed on Windows. [1]"),
        ("No, Sanic cannot be deployed on Windows. [1]", "No, Sanic cannot be deployed on Windows. [1]"),
        ("Yes, you can use Peewee with Flask. [1]", "Yes, you can use Peewee with Flask. [1]"),
        ("No. WebSockets don't run over HTTP. [1]", "No. WebSockets don't run over HTTP. [1]"),
        ("Yes, it runs on Linux. It does not run on Windows.", "Yes, it runs on Linux. It does not run on Windows."),
        ("Nothing in the passages says so.", "Nothing in the passages says so."),  # not an opening "No"
        ("Yes.", "Yes."),
    ],
)
def test_an_opening_yes_or_no_is_dropped_only_when_its_sentence_says_the_opposite(answer: str, kept: str) -> None:
    assert without_contradicted_opening(answer) == kept


@pytest.mark.parametrize(
    ("sentence", "support", "negates"),
    [
        # fresh, thirteenth session ("Is there a free edition?" after a Neo4j turn, over a passage on PyCharm)
        (
            "No, there is no free edition for students and open source projects.",
            "PyCharm has free editions for students and open source projects.",
            True,
        ),
        ("Sanic cannot be deployed on Windows.", "Sanic can't be developed or deployed on Windows.", False),
        ("Bottle has no external dependencies.", "Bottle runs without external dependencies.", False),
        ("Python 2.7 is not supported.", "Python 2.7 no longer receives support.", False),
        ("Yes, Bottle is a single file.", "Bottle is a single source file.", False),  # the opening word aside
        ("No, Bottle is a single file.", "Bottle is a single source file.", False),
        ("Bottle is never slow.", "Bottle is fast.", True),
    ],
)
def test_a_negative_sentence_needs_a_negative_support(sentence: str, support: str, negates: bool) -> None:
    assert negates_unlike(sentence, support) is negates
