"""Sentence splitting (NLTK's Punkt model, shipped inside llama-index)."""

from __future__ import annotations

import os
from functools import cache


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
