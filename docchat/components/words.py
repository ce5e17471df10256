"""Words: the one tokenizer of docchat, used by BM25 (index, queries, coverage) and by the answer's checks.

bm25s splits and drops stop words, PyStemmer (Snowball English) stems. The pattern keeps
identifiers whole (``node.js``, ``C++``, ``C#``, ``pre-commit``, ``2.0``) and any script's letters.
"""

from __future__ import annotations

import re

import bm25s
import Stemmer

STEMMER = Stemmer.Stemmer("english")
TOKEN_PATTERN = r"[^\W_](?:[^\W_]|[+#.'-])*(?:[^\W_]|[+#])|[^\W_]"
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "also",
        "about",
        "over",
        "only",
        "just",
        "more",
        "most",
        "other",
        "some",
        "very",
        "not",
        "no",
        "yes",
        "our",
        "we",
        "us",
        "he",
        "she",
        "his",
        "her",
    ]
)

_STOPWORDS = sorted(STOPWORDS)

# Words of question phrasing, not of the topic: left out when measuring how much of a question a passage covers.
QUESTION_WORDS = frozenset(
    STEMMER.stemWords(
        [
            "document",
            "documents",
            "page",
            "site",
            "text",
            "passage",
            "according",
            "say",
            "says",
            "said",
            "mention",
            "mentioned",
            "mentions",
            "describe",
            "described",
            "list",
            "listed",
            "name",
            "named",
            "names",
            "kind",
            "kinds",
            "give",
            "given",
            "called",
            "call",
            "tell",
            "explain",
            "example",
            "examples",
            "does",
            "do",
            "did",
            "which",
            "what",
            "who",
            "whose",
            "whom",
            "when",
            "where",
            "why",
            "how",
            "many",
            "much",
            "summarize",
            "summarise",
            "summary",
            "overview",
            "section",
            "chapter",
            "quote",
            "quoted",
            "briefly",
            "me",
        ]
    )
)


def terms(texts: list[str]) -> list[list[str]]:
    """Each text's stemmed, lower-cased words minus stop words, in order (repeats kept)."""
    return bm25s.tokenize(
        texts,
        token_pattern=TOKEN_PATTERN,
        stopwords=_STOPWORDS,
        stemmer=STEMMER,
        show_progress=False,
        return_ids=False,
    )


def content_words(text: str) -> set[str]:
    """The distinct terms of one text: what lexical support is measured on."""
    return set(terms([text])[0])


def split_terms(text: str) -> set[str]:
    """The terms of ``text`` with its hyphenated words read as their parts ("Flask-powered": flask, power) and a
    number written onto a word apart from it ("PEP255": pep, 255)."""
    return content_words(re.sub(r"(?<=[^\W_])-(?=[^\W_])|(?<=[A-Za-z])(?=\d)", " ", text))


def said_of(asked: set[str], text: str) -> set[str]:
    """Those of the terms ``asked`` that ``text`` holds (read by :func:`split_terms`) as they are or as the start of
    one of its terms or the other way round, three letters or more: asked whether Instagram is a "Python user", "use
    Python 3" says it."""
    said = split_terms(text)
    return {
        term
        for term in asked
        if term in said or any(min(len(term), len(w)) >= 3 and (w.startswith(term) or term.startswith(w)) for w in said)
    }


_ENUMERATOR = re.compile(r"\(\d{1,2}\)")


def without_enumerators(text: str) -> str:
    """``text`` without list numbering such as "(3)": a list's position is not a number the text states."""
    return _ENUMERATOR.sub(" ", text)


def phrase_text(text: str) -> str:
    """``text`` lower-cased with each run of punctuation and space read as one space: "PEP-703" is "pep 703"."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def holds_phrase(text: str, phrase: str) -> bool:
    """Whether ``text`` holds ``phrase`` (both :func:`phrase_text`'s), spaces aside and its last word in either
    number: "pep703" holds "pep 703", "rest api endpoints" "rest apis", "government agencies" "government agency",
    "flask appbuilder" "flask app builder"."""
    squeezed = text.replace(" ", "")
    form = phrase.replace(" ", "")
    forms = {form}
    if len(form) > 3 and form.endswith("ies"):
        forms.add(form[:-3] + "y")
    elif len(form) > 3 and form.endswith("s"):
        forms.add(form[:-1])
    elif form.endswith("y"):
        forms.add(form[:-1] + "ies")
    return bool(form) and any(f in squeezed for f in forms)
