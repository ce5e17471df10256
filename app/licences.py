"""Whose licence a sentence states, for questions that ask one ("What license is Bottle released under?").

Pages on a library often give the licences of other projects: example projects built with it ("The project's code
is provided as open source under the BSD 2-Clause license." under the heading "tedivm's flask starter app"), its
extensions ("django-loginas is open source under the BSD 3-Clause license."), or a tutorial's own code ("All code
for the Dockerfile and the Bottle project are available open source under the MIT license"). None of them is the
asked library's licence (fsp-123; fresh, twenty-eighth session). A sentence states the licence of what the question
names only where its subject is that name ("GINO is open sourced under ...", "Pelican's source code is available
... under the AGPL 3 license", "The code for django-wiki ...") or refers back to it ("The project is ...") under
a heading or title that is that name.
"""

from __future__ import annotations

import re

from docchat.app.schema import Citation

# a question that asks for a licence ("What license is X under?", "What is X's licence?", "Under which license
# ...?", "How is X licensed?"), not one that names one ("Which projects use the MIT license?")
_LICENCE_Q = re.compile(
    r"^(?:and |so )?(?:under |with )?(?:what|which)\b(?:'s| is| was| are)?(?: (?!licen)[\w.'+-]+){0,2}? licen[cs]es?\b"
    r"|^how (?:is|are|was) .+ licen[cs]ed\b",
    re.I,
)
_LICENCE_TEXT = re.compile(r"\b(?i:licen[cs]e[sd]?|copyright)\b|\b(?:GPL|AGPL|LGPL|BSD|MIT|Apache|MPL)\b")
# the words of a licence question that are not what it asks about
_QUESTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        "what which whose how is are was were does do did the a an under released distributed licensed licenced "
        "available published use uses used have has come comes with of project framework library package tool app "
        "application open source code its it s licence license licences licenses kind type and or by in on for",
    )
)
_NAME_TOKEN = re.compile(r"[A-Za-z][\w.+#-]*[\w+#]|[A-Za-z]")
# where a licence sentence's subject ends: its verb
_VERB = re.compile(
    r"\b(?:is|are|was|were|has|have|comes?|uses?|provides?|released|licen[cs]ed|distributed|available"
    r"|open[- ]sourced)\b",
    re.I,
)
_REFERENCE = re.compile(r"^(?:the|this|its|it|their|our)\b", re.I)
_ENUMERATOR = re.compile(r"^\W*(?:\(?\d+\)|\d+\.)?\W*")


def licence_owners(question: str) -> set[str]:
    """What a question asking for a licence names, lower-cased, hyphenated names whole ("flask-base",
    "flask-restful"); empty when it asks no licence."""
    if not _LICENCE_Q.search(" ".join(question.split())):
        return set()
    tokens = (token.lower() for token in _NAME_TOKEN.findall(question))
    return {token for token in tokens if token not in _QUESTION_WORDS}


def _is_name(token: str) -> bool:
    """Whether a token of a sentence's subject is a name: capitalised ("Pelican", "GINO") or an identifier
    ("flask-base", "django_wiki", "bottle.py"); "python" is every page's and names no project."""
    return (token[:1].isupper() or any(mark in token for mark in "-_.")) and token.lower() != "python"


def _is_the_name(label: str, owners: set[str]) -> bool:
    """Whether a heading's last part or a title is the asked name: its name words ("flask-base" with a parenthesised
    aside or "project website" dropped; "tedivm's flask starter app") are all the question's, not more."""
    label = re.sub(r"\([^)]*\)|\bproject website\b", " ", label.split(">")[-1])
    words = {token.lower() for token in _NAME_TOKEN.findall(label)} - _QUESTION_WORDS
    return bool(words) and words <= owners


def states_licence_of(owners: set[str], citation: Citation) -> bool:
    """Whether the cited sentence states a licence of one of ``owners``: a licence is in it, and its subject names
    an owner and no other name, or refers back to one that is its heading or title. A tutorial's "All code ..." is
    its own."""
    sentence = _ENUMERATOR.sub("", " ".join(citation.quote.split()))
    if not _LICENCE_TEXT.search(sentence):
        return False
    verb = _VERB.search(sentence)
    subject = sentence[: verb.start()] if verb else sentence
    if re.match(r"all\b", subject, re.I):  # "All code in this blog post ...", "All code for the ... project"
        return False
    named = {token.lower() for token in _NAME_TOKEN.findall(subject) if _is_name(token)} - _QUESTION_WORDS
    if named:  # the owner's own name and no other ("SQLAlchemy Mixins is ..." is another project's licence)
        return named <= owners
    if not _REFERENCE.match(subject.strip()):
        return False
    return _is_the_name(citation.heading, owners) or _is_the_name(citation.title, owners)
