"""An opening "Yes"/"No" that the answer's own sentence contradicts is dropped (app/yes_no.py)."""

from __future__ import annotations

import pytest

from docchat.app.yes_no import without_contradicted_opening


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
