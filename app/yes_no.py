"""Polarity: a small model's "Yes"/"No" that its own sentence contradicts, and a "not" its passage never says.

Asked "Does MySQL have an easier learning curve than PostgreSQL?", the default 0.5B model answered "No, MySQL
has a slightly easier initial learning curve than PostgreSQL." The sentence after the "No" is what the
passages support (and what the citation check verifies); the "No" is not checked by anything. When the
rest of the first sentence says the opposite (no negation after "No", a negation after "Yes"), the opening
word is dropped and the sentence stands as the answer.
"""

from __future__ import annotations

import re

_OPENING = re.compile(r"^\s*(?P<word>yes|no)\b\s*[,.!:;-]*\s*(?=\S)", re.I)
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot|lacks?|unable)\b|n't\b", re.I)  # "can't", "won't"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
# what else turns a passage's sentence negative, so that an answer's "not" may restate it: "runs without external
# dependencies" for "does not depend on ...", "no longer", "rather than", "instead of", "except"
_NEGATIVE = re.compile(rf"{_NEGATION.pattern}|\b(?:without|instead|rather|except|absent|unsupported)\b", re.I)


def without_contradicted_opening(answer: str) -> str:
    """``answer`` without an opening "Yes"/"No" that the rest of its first sentence contradicts."""
    opening = _OPENING.match(answer)
    if opening is None:
        return answer
    rest = answer[opening.end() :]
    first = _SENTENCE_END.split(rest, maxsplit=1)[0]
    negated = _NEGATION.search(first) is not None
    if negated == (opening.group("word").lower() == "no"):
        return answer  # "No, it cannot ...", "Yes, it can ...": consistent
    return rest[:1].upper() + rest[1:]


def without_yes_no(text: str) -> str:
    """``text`` without an opening "Yes"/"No" (and the punctuation after it)."""
    opening = _OPENING.match(text)
    return text[opening.end() :] if opening else text


def negates_unlike(sentence: str, support: str) -> bool:
    """Whether ``sentence`` (an answer's, its opening "Yes"/"No" aside) is negative where ``support``, the passage
    sentence it is checked against, is not: "No, there is no free edition for students and open source projects."
    is close to "... free editions for students and open source projects." in meaning as embeddings read it, and
    says the opposite (fresh, thirteenth session)."""
    return _NEGATION.search(without_yes_no(sentence)) is not None and _NEGATIVE.search(support) is None
