"""Acronyms: "What does NIST stand for?" answered by the passage sentence that spells the acronym out.

A small model rarely answers such a question from "... National Institute of Standards and Technology (NIST)." and
the sentence is far from the question in meaning (the relevance gate refused it: fresh, twenty-fourth session).
The spelled-out form is found by its initials, so the answer is the passage's own words, cited to it.
"""

from __future__ import annotations

import re
from functools import cache

from docchat.app.citations import passage_sentences
from docchat.app.schema import Passage

# "What does NIST stand for?", "what's CI short for", "What does the acronym ORM stand for?"
_STANDS_FOR_Q = re.compile(
    r"^\W*(?:(?:and|so|ok|okay)\W+)?what(?:'s|\s+does|\s+do|\s+is)\s+(?:the\s+(?:acronym|abbreviation)\s+)?"
    r"([A-Za-z][A-Za-z0-9]{1,9})\s+(?:stand|stands|short)\s+for\b",
    re.I,
)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # a markdown link, read as its text
_WORD = re.compile(r"[A-Za-z][\w'-]*|&")
_MINOR = frozenset(["of", "and", "the", "for", "to", "in", "on", "a", "an", "&"])  # may go without an initial
_PART = re.compile(r"[A-Z]?[a-z0-9']+|[A-Z]+(?![a-z])")  # "JavaScript": Java, Script; "Web-Server": Web, Server


def asked_acronym(question: str) -> str | None:
    """The acronym a "What does X stand for?" question asks about, as written; None for any other question."""
    match = _STANDS_FOR_Q.search(question.strip())
    return match.group(1) if match else None


def _initials(words: tuple[str, ...], letters: str) -> bool:
    """Whether ``words`` spell ``letters`` by their initials (a minor word may be skipped; a word of several parts,
    "JavaScript", may give one initial or each part's)."""

    @cache
    def spells(i: int, j: int) -> bool:
        if i == len(words):
            return j == len(letters)
        word = words[i]
        if word.lower() in _MINOR and spells(i + 1, j):
            return True
        if j < len(letters) and word[0].lower() == letters[j] and spells(i + 1, j + 1):
            return True
        parts = "".join(part[0] for part in _PART.findall(word.replace("-", " "))).lower()
        return len(parts) > 1 and letters.startswith(parts, j) and spells(i + 1, j + len(parts))

    return spells(0, 0)


def expansion(acronym: str, text: str) -> str | None:
    """The words ``text`` spells ``acronym`` out with: "National Institute of Standards and Technology (NIST)",
    "WSGI (Web Server Gateway Interface)" or "CI stands for continuous integration"; None when it does not."""
    text, letters = _LINK.sub(r"\1", text), acronym.lower()
    name = re.escape(acronym)
    for match in re.finditer(rf"\(\s*{name}s?\s*\)", text, re.I):  # "... Technology (NIST)"
        words = _WORD.findall(text[: match.start()])[-(len(letters) + 4) :]
        for start in range(len(words)):
            candidate = tuple(words[start:])
            if candidate[0].lower() not in _MINOR and _initials(candidate, letters):
                return " ".join(candidate)
    after = rf"(?<![\w-]){name}s?(?:\s*\(|\s+(?:stands for|is short for)\s+)((?:[A-Za-z][\w'-]*\s*){{1,9}})"
    for match in re.finditer(after, text, re.I):  # "WSGI (Web Server Gateway Interface)", "CI stands for ..."
        words = _WORD.findall(match.group(1))
        for end in range(len(words), 0, -1):
            candidate = tuple(words[:end])
            if candidate[-1].lower() not in _MINOR and _initials(candidate, letters):
                return " ".join(candidate)
    return None


def spelled_out(acronym: str, passages: list[Passage]) -> tuple[int, str, str] | None:
    """The first passage sentence that spells ``acronym`` out: (passage number, sentence, expansion), or None."""
    for number, passage in enumerate(passages, start=1):
        for sentence in passage_sentences(passage):
            if words := expansion(acronym, sentence):
                return number, sentence, words
    return None
