"""Acronyms spelled out by the passages: "What does NIST stand for?" (fresh, twenty-fourth session: refused by the
relevance gate, though the document says "National Institute of Standards and Technology (NIST)")."""

from __future__ import annotations

import pytest

from docchat.app.acronyms import asked_acronym, expansion


@pytest.mark.parametrize(
    ("question", "acronym"),
    [
        ("What does NIST stand for?", "NIST"),
        ("what does ci stand for", "ci"),
        ("What's CI short for?", "CI"),
        ("What does the acronym ORM stand for?", "ORM"),
        ("What is NIST?", None),
        ("Where does NIST stand on Python?", None),
    ],
)
def test_the_acronym_a_question_asks_about(question: str, acronym: str | None) -> None:
    assert asked_acronym(question) == acronym


@pytest.mark.parametrize(
    ("acronym", "text", "words"),
    [
        (
            "NIST",
            "... and National Institute of Standards and Technology (NIST).",
            "National Institute of Standards and Technology",
        ),
        ("ci", "[continuous integration](/continuous-integration.html) (CI) server", "continuous integration"),
        ("WSGI", "WSGI (Web Server Gateway Interface) is a standard.", "Web Server Gateway Interface"),
        ("ORM", "an implementation of the object-relational mapping (ORM) concept", "object-relational mapping"),
        ("JS", "JavaScript (JS) runs in the browser.", "JavaScript"),
        ("CI", "CI stands for continuous integration.", "continuous integration"),
        # the acronym named, never spelled out: no expansion ("an ORM (which ...)": the words do not spell it)
        ("ORM", "Django includes an ORM (which maps objects) and more.", None),
        ("NSA", "intelligence agencies like the CIA, FBI and NSA.", None),
        ("CDN", "a content distribution service (CDN).", None),
    ],
)
def test_the_words_a_text_spells_an_acronym_out_with(acronym: str, text: str, words: str | None) -> None:
    assert expansion(acronym, text) == words
