"""A small model's "Yes"/"No" that its own sentence contradicts.

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
