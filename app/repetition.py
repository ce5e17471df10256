"""Repetition loops: small models sometimes repeat a sentence or a phrase until the token limit.

``LoopGuard`` watches a stream and says when to stop generating; ``has_loop`` judges a finished text.
Both look at word n-grams, so a loop is caught whatever its wording or punctuation.
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+")
NGRAM = 5  # words in the repeated unit
MAX_REPEATS = 2  # an n-gram seen more often than this is a loop (real answers repeat a 5-gram rarely)


def _ngrams(text: str, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def has_loop(text: str) -> bool:
    """Whether some run of ``NGRAM`` words occurs more than ``MAX_REPEATS`` times in ``text``."""
    counts = _ngrams(text)
    return bool(counts) and max(counts.values()) > MAX_REPEATS


class LoopGuard:
    """Fed a stream's pieces, tells when the text has started looping (checked at each new line or sentence end)."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, piece: str) -> bool:
        """Add ``piece``; True when generation should stop because the text loops."""
        self.text += piece
        return any(mark in piece for mark in ".\n!?]") and has_loop(self.text)
