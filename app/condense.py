"""Follow-up questions: rewrite history + question into one standalone question before retrieving."""

from __future__ import annotations

import re

from docchat.app.answer_type import names_in, opening_name
from docchat.app.prompt import as_said, condense_messages, recent_history, refusal_text
from docchat.app.yes_no import without_yes_no
from docchat.components.llm.backends import ChatLLM
from docchat.components.words import content_words

_REFERS_BACK = re.compile(
    r"\b(it|its|they|them|their|theirs|this|that|these|those|he|she|him|her|his|there|then|one|ones|"
    r"same|other|former|latter|above|also|else|(?:the|previously|already|just|you|i|we)[- ]mentioned)\b",
    re.I,
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|theirs|he|she|him|her|his)\b", re.I)  # unresolved in a rewrite
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")  # citation markers a model may copy into its rewrite
# "Why not?", "And Flask?": a question that goes on from the last; "Why does Reddit use Python?" asks anew ("Why?" and
# "Why is that?" read as follow-ups by having no subject or by "that").
_CONTINUES = re.compile(r"^\s*(and|or|but|so|what about|how about|why not|how so)\b", re.I)
# "And what's the capital of France?": a whole question after the connective stands or falls on its own words
_CONNECTIVE = re.compile(r"^\s*(?:and|or|but|so|also|then)\b[\s,]*", re.I)
_WHOLE_QUESTION = re.compile(
    r"^(?!what about\b|how about\b)(?:what|which|who|whom|whose|when|where|why|how|is|are|was|were|does|do|did|can|"
    r"could|should|would|will|has|have)\b",
    re.I,
)
# "Which version?", "What license?", "How many users?", "Which editions are there?": a question word and a noun or
# two, no other verb, nothing named (a connective before it is gone by then: see needs_context)
_ELLIPTICAL = re.compile(
    r"^\s*(?i:which|what|whose|how many|how much)(?:\s+(?!(?:is|are|was|were|does|do|did|"
    r"can|could|should|would|will|has|have)\b)[a-z][\w-]*){0,2}(?:\s+(?i:is|are|was|were) there)?\s*\??\s*$"
)
# "Which is older?", "Which is the default?": a choice among what was said before, nothing named
_WHICH_OF_THEM = re.compile(r"^\s*(?i:which (?:is|are|was|were|one is))(?:\s+[a-z][\w-]*){1,3}\s*\??\s*$")
# A later clause's "it", "they" or "one" refers to what the first clause names ("Which company created Jinja2, and
# what is it similar to?"); a name: a capitalised word after the first, or one marked as a name (NASA, uWSGI)
_CLAUSE_BREAK = re.compile(r",|;| and | or |\?\s+")
_NAMED = re.compile(r"(?<=\s)[A-Z]|\b(?:[A-Z][A-Z0-9]+|[a-z]+[A-Z])")
# Words of the list above that refer to nothing before: "that" opening a clause ("the fork that added ...",
# "the tool that Reddit uses", "a sign that the ..."), "there" of "is there", and "one of" (but not "which one of").
_NOT_BACK = re.compile(
    r"(?<=[a-z0-9] )that(?= (?:[a-z]+ed|[a-z]+s|is|was|are|were|has|have|had|can|could|will|would|should|may|might|"
    r"do|does|did|the|a|an|i|you|we|[A-Z]\w*)\b)"
    r"|(?i:\b(?:is|are|was|were) there\b|\bthere(?= (?:is|are|was|were)\b)|(?<!which )(?<!the )\bone(?= of\b))",
)


def needs_context(question: str) -> bool:
    """Whether a question refers back to earlier turns: a pronoun, 'also', opening with 'and' or 'what about'
    (unless a whole question follows the 'and': "And what's the capital of France?"), or no subject at all
    ("When?", "Why?"), or a question word with a noun or two and nothing named ("Which version?", "Which is
    older?"). "Why does a Java-only shop need Python?" stands on its own.

    A question that names its own subject stands on its own, however short ("What is the capital of Peru?"),
    and so does one whose later clause refers to what its first names ("What is Pyramid and who maintains it?"),
    and so does one whose "that", "there" or "one" refers to nothing before ("What is the name of the fork that
    added Python 3 support?", "Is there a tutorial on Slack bots?", "Which is one of the largest sites?").
    """
    rest = _CONNECTIVE.sub("", question, count=1)
    if rest != question and _WHOLE_QUESTION.match(rest):
        question = rest  # "And who won the World Cup in 2018?" asks anew; "And the backend?" goes on
    words = _NOT_BACK.sub(" ", question)
    first, *later = _CLAUSE_BREAK.split(words, maxsplit=1)
    if later and _NAMED.search(first) and not _REFERS_BACK.search(first):  # "What is Pyramid and who maintains it?"
        words = first
    return bool(
        _REFERS_BACK.search(words)
        or _CONTINUES.match(question)
        or _ELLIPTICAL.match(question)
        or _WHICH_OF_THEM.match(question)
        or not content_words(question)
    )


def answered_turns(history: list[dict[str, str]]) -> list[dict[str, str]]:
    """``history`` without the exchanges docchat refused: "Which web frameworks can it run?" after an off-topic
    "What about the weather in Paris?" refers to the question before that one."""
    refused = refusal_text().strip()
    kept: list[dict[str, str]] = []
    for turn in history:
        was_refused = turn.get("role") == "assistant" and turn["content"].strip() == refused
        if was_refused and kept and kept[-1]["role"] == "user":
            kept.pop()
            continue
        kept.append(turn)
    return kept


def follow_up_history(history: list[dict[str, str]], turns: int, chars: int) -> list[dict[str, str]]:
    """The turns a follow-up is read with: the last ``turns`` of the answered exchanges; when docchat refused every
    earlier one, of those ("Which web framework is it handy for?" after a refused "What is the encode databases
    project?": "it" still means what they asked about)."""
    return recent_history(answered_turns(history) or history, turns, chars)


_POSSESSIVE = {"its", "their", "his", "her"}
# "What is Datasette?", "Who is Guido van Rossum?", "Tell me about the Flask web framework.": asks what a name is
_DEFINITION = re.compile(
    r"^\s*(?:(?:what|who)(?:'s| is| are| was| were)|tell me about|describe)\s+[^,;]+?[?.!]?\s*$", re.I
)


def last_subject(history: list[dict[str, str]]) -> str:
    """The name the last exchange is about, as written: the one the last answer opens with (its subject) when the
    last question names it too ("SQLite is included ... as of Python 2.5." after "Since which Python version is
    SQLite included ...?"), else the one the last question asked what it is ("What is Datasette?"); "" when there
    is none ("It exposes JSON APIs ...", "The CFPB built it." after "Which agency built Collab?")."""
    last = {turn.get("role"): turn["content"] for turn in history}
    answer = _MARKERS.sub("", without_yes_no(as_said({"role": "assistant", "content": last.get("assistant", "")})))
    name = opening_name(answer, names_in(turn["content"] for turn in history))
    written = re.match(rf"\W*(?:(?:the|a|an)\s+)?({re.escape(name)})\b", answer, re.I) if name else None
    if written and re.search(rf"\b{re.escape(name)}\b", last.get("user", ""), re.I):
        return written.group(1)  # not "The CFPB built it." after "Which agency built Collab?": "it" may be Collab
    defined = _DEFINITION.match(last.get("user", ""))
    named = names_in([defined.group()]) if defined else set()
    if len(named) == 1 and (written := re.search(rf"\b{re.escape(next(iter(named)))}\b", defined.group(), re.I)):
        return written.group()
    return ""


def with_subject(question: str, subject: str) -> str:
    """``question`` with its pronouns read as ``subject`` ("What is the maximum database size it supports?":
    "... size SQLite supports?"), or "" when it names something itself or still refers back after that ("Where does
    the second one work?")."""
    if not subject or not _PRONOUN.search(question) or _NAMED.search(question):
        return ""  # "How much did Salesforce pay when it bought them?": "it" may be a name the question says
    named = _PRONOUN.sub(lambda p: subject + ("'s" if p.group().lower() in _POSSESSIVE else ""), question)
    return "" if needs_context(named) else named


def heuristic_standalone(question: str, history: list[dict[str, str]]) -> str:
    """The cheap rewrite, for a question that refers back: its pronouns read as the name the last exchange is
    about (:func:`last_subject`), else the previous user question prepended, and the ones before it back to the
    last that stands on its own ("Where does the second one work now?" after "Which core developers did Dropbox
    hire?")."""
    previous = [turn["content"].strip() for turn in history if turn.get("role") == "user"]
    if not previous or not needs_context(question):
        return question
    if named := with_subject(question, last_subject(history)):
        return named
    chain = [previous.pop()]
    while previous and needs_context(chain[0]):
        chain.insert(0, previous.pop())
    return " ".join([*chain, question.strip()])


def standalone_question(question: str, history: list[dict[str, str]], llm: ChatLLM | None) -> str:
    """A question that can be retrieved on its own (``history``: see ``follow_up_history``): unchanged unless it
    refers back; then rewritten by ``llm`` (None: the model profile does not trust its rewrites), falling back to
    the heuristic on a bad rewrite: one too long, still holding a pronoun, dropping the question's words, adding
    none of the conversation's, an earlier question repeated, or an answer instead of a question ("And the
    backend?" rewritten to "The backend is the server-side ...")."""
    if not history or not needs_context(question):
        return question
    fallback = heuristic_standalone(question, history)
    if llm is None:
        return fallback
    rewritten = llm.complete(condense_messages(question, history), max_tokens=64).strip().strip('"').strip()
    rewritten = _MARKERS.sub("", rewritten.splitlines()[0]).strip() if rewritten else ""
    # A good rewrite is a short question that keeps the new question's words, no longer refers back, and
    # brings in something the conversation said ("the second one" resolved to a name), not an echo.
    if not rewritten or len(rewritten) > 4 * len(question) + 200 or _PRONOUN.search(rewritten):
        return fallback
    if question.rstrip().endswith("?") and not rewritten.endswith("?"):  # it answered instead of rewriting
        return fallback
    asked, said = content_words(question), content_words(rewritten)
    if asked and not asked & said:
        return fallback
    conversation = content_words(" ".join(turn["content"] for turn in history))
    if not (said - asked) & conversation:
        return fallback
    earlier = (content_words(turn["content"]) for turn in history if turn.get("role") == "user")
    if any(said == words for words in earlier):  # an earlier question repeated: "Who did they hire?" lost its "who"
        return fallback
    return rewritten
