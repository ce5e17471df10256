"""Sentence splitting (NLTK's Punkt model, shipped inside llama-index)."""

from __future__ import annotations

import os
import re
from functools import cache

# A line of code: a fenced line ("~~from x import y", the corpus's marked code), an import, a definition, a
# decorator, a return, an assignment or a bare call ("self.user.save()")
_CODE_LINE = re.compile(
    r"""^\s*(?:~~|```|>>>|\$\s|#!|from\s+[\w.]+\s+import\b|import\s+[\w.]+(?:\s+as\s+\w+)?\s*$|def\s+\w+\s*\("""
    r"""|class\s+\w+\s*[(:]|@[\w.]+(?:\(|\s*$)|return\b|if\s+__name__|[\w.\[\]'"]+\s*[-+*/]?=\s*\S|\w+(?:\.\w+)+\(.*\)\s*$)"""
)

# "Source: Matt Makai", "By Armin Ronacher": who said a passage's words, which a "who" question may ask for
# ... and "- AWS" after a quoted definition: a dash and a name of up to four capitalised words
_CREDIT = re.compile(
    r"^\W*(?:source|author|authors|by|credit|quote|via)\b\s*:?\s*\S"
    r"|^\s*[-–—]{1,2}\s*(?-i:[A-Z][\w.&'-]*(?:\s+(?:[A-Z][\w.&'-]*|van|von|de|der|da|di|du|le|la)){0,3})\s*$",
    re.I,
)
_END = re.compile(r"""[.!?;:"'”’)\]]\s*$""")
_WORD = re.compile(r"[A-Za-z][\w'-]*")


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


def is_prose(line: str) -> bool:
    """Whether a sentence of a passage reads as prose, which a quote must: not a line of code ("~~from
    sqlalchemy.engine import create_engine"), nor a heading or link title ("Getting Started with Ansible"): a line
    without closing punctuation that is short or mostly capitalised words. A credit ("Source: Matt Makai") is
    prose: it says who wrote the passage's words."""
    if _CODE_LINE.match(line):
        return False
    if _END.search(line) or is_credit(line):
        return True
    words = _WORD.findall(line)
    long = [word for word in words if len(word) >= 4]
    return len(words) > 6 and sum(word[0].isupper() for word in long) < 0.6 * len(long)


def list_after(text: str, sentences: list[str], position: int, limit: int = 8) -> list[str]:
    """The items of the list a lead-in ("To achieve a standout technical demo you must:") introduces: the sentences
    of ``text`` after ``position`` that are lines of their own and end no sentence ("speak plainly but accurately"),
    at most ``limit``; none when the sentence at ``position`` does not end with a colon."""
    if not sentences[position].rstrip().endswith(":"):
        return []
    lines = {line.strip() for line in text.split("\n")}
    items: list[str] = []
    for sentence in sentences[position + 1 : position + 1 + limit]:
        if sentence not in lines or _END.search(sentence):
            break
        items.append(sentence)
    return items


def credited(text: str, sentences: list[str], position: int) -> str:
    """What the credit at ``position`` ("- AWS", "Source: python.org") credits: the sentences before it in its line
    (the paragraph it closes), or the line before when it stands on a line of its own; "" when there is none."""
    credit = sentences[position]
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    for number, line in enumerate(lines):
        if credit in line:
            before = line[: line.index(credit)].strip()
            return before or (lines[number - 1] if number else "")
    return ""


def is_credit(line: str) -> bool:
    """Whether a line credits who wrote or published a passage's words ("Source: Matt Makai", "via python.org")."""
    return _CREDIT.match(line) is not None
