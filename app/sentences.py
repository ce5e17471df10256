"""Sentence splitting (NLTK's Punkt model, shipped inside llama-index) and content words."""

from __future__ import annotations

import os
import re
from functools import cache

import Stemmer

_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#.'-]*[A-Za-z0-9+#]|[A-Za-z0-9]")
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


@cache
def _punkt():
    import llama_index.core
    import nltk

    cache_dir = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "nltk_cache")
    if cache_dir not in nltk.data.path:
        nltk.data.path.insert(0, cache_dir)
    from nltk.tokenize.punkt import PunktTokenizer

    return PunktTokenizer("english")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (lines are split too, so list items stay apart)."""
    sentences: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            sentences.extend(s.strip() for s in _punkt().tokenize(line) if s.strip())
    return sentences


def content_words(text: str) -> set[str]:
    """Stemmed, lower-cased words minus stop words: what lexical support is measured on."""
    words = [w.lower() for w in _WORD.findall(text)]
    return set(_STEMMER.stemWords([w for w in words if w not in STOPWORDS]))
