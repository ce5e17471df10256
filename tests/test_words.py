"""The one tokenizer: BM25, coverage and the citation check read the same words."""

from __future__ import annotations

from docchat.app import citations
from docchat.components import bm25, words


def test_identifiers_stay_whole_and_stop_words_go() -> None:
    assert words.terms(["What is Node.js, C++ or C# in the pre-commit 2.0 docs?"]) == [
        ["node.j", "c++", "c#", "pre-commit", "2.0", "doc"]
    ]


def test_letters_of_any_script_are_words() -> None:
    assert words.content_words("Le café de Zürich") == {"le", "café", "de", "zürich"}


def test_bm25_and_the_citation_check_use_the_same_words() -> None:
    assert bm25.words is words and citations.content_words is words.content_words
    text = "Gunicorn's workers serve WSGI apps."
    assert words.content_words(text) == set(words.terms([text])[0]) == {"gunicorn", "worker", "serv", "wsgi", "app"}


def test_a_phrase_is_found_in_either_number_and_spacing() -> None:
    """What docchat's refusal of a name of several words no chunk holds compares (``unmentioned_phrases``)."""
    from docchat.components.words import holds_phrase, phrase_text

    def holds(text: str, phrase: str) -> bool:
        return holds_phrase(phrase_text(text), phrase_text(phrase))

    assert holds("Python usage in government agencies is widespread.", "Government Agency")
    assert holds("One agency uses it.", "agencies") and holds("Use the REST-API endpoints.", "REST APIs")
    assert holds("Follow PEP8.", "PEP 8") and holds("Flask-AppBuilder builds admin apps.", "Flask App Builder")
    assert not holds("A global lock guards the interpreter.", "Global Interpreter Lock")
    assert not holds("PEP 8 and PEP 20", "PEP 703") and not holds("anything", "")
