"""Small talk: a greeting, thanks, goodbye or "ok" is answered as such, not searched for in the documents.

"thanks!" retrieved change-log lines on "Thank You Maintainers"; "hello" quoted ``return 'Hello, World!'``.
A message counts as small talk only when every word of it is one of the few social words below, so a
question with any word of its own ("hello, what is Gunicorn?") is answered from the documents as usual.
"""

from __future__ import annotations

import re
from enum import StrEnum

MAX_WORDS = 8


class SmallTalk(StrEnum):
    """The kinds of small talk; each value names its reply's file in ``app/prompts/``."""

    HELLO = "hello"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    OKAY = "okay"  # an acknowledgement: "ok", "great", "got it"


_THANKS = {"thanks", "thank", "thx", "ty", "cheers", "appreciate", "appreciated", "ta"}
_GOODBYE = {"bye", "goodbye", "farewell", "cya", "later", "night", "goodnight"}
_HELLO = {"hi", "hello", "how", "hey", "hiya", "howdy", "greetings", "morning", "afternoon", "evening", "yo", "hallo"}
_FILLER = {
    "a", "all", "again", "alright", "are", "awesome", "bot", "cool", "day", "doing", "docchat", "everyone",
    "excellent", "fine", "good", "got", "great", "helpful", "it", "lot", "many", "much", "nice", "ok",
    "okay", "perfect", "see", "so", "that", "thats", "there", "this", "very", "was", "wonderful", "you", "your",
}  # fmt: skip
_WORDS = re.compile(r"[a-z]+")


def small_talk(message: str) -> SmallTalk | None:
    """The kind of small talk ``message`` is, or None when it holds any word beyond greetings, thanks and goodbyes."""
    words = _WORDS.findall(message.lower().replace("'", ""))
    if not words or len(words) > MAX_WORDS or not set(words) <= _THANKS | _GOODBYE | _HELLO | _FILLER:
        return None
    if "how" in words and "you" not in words:  # "how so?" asks about the last answer; "how are you?" is a greeting
        return None
    if set(words) & _THANKS:
        return SmallTalk.THANKS
    if set(words) & _GOODBYE:
        return SmallTalk.GOODBYE
    return SmallTalk.HELLO if set(words) & _HELLO else SmallTalk.OKAY
