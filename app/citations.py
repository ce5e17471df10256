"""Citations are checked, not taken on faith.

1. Bracketed markers ([1], [1, 2], [1][3]) are parsed; markers that point at no passage are dropped.
   Sentences about the passages themselves ("The passage mentioning X is.") are dropped, so is a sentence
   said a second time, and "According to the passages, X" is checked as X.
2. Each answer sentence is checked against the passages it cites: embedding similarity to the
   passage's best sentence, or content-word overlap with the passage. A cited passage that does
   not support the sentence is dropped; a sentence left without support gets the best-supporting
   passage attached if one clearly supports it, and is otherwise marked unsupported.
3. A passage supports a sentence only if it also holds the sentence's key facts: every number,
   code identifier (``snake_case``, ``dotted.name``, ``call()``, ``CamelCase``) and name (a capitalised
   word inside the sentence) must appear in the passage or in the question. A fluent sentence around an
   invented API or a wrong name is therefore unsupported, however similar it reads. A name the sentence
   takes from the question must be in the passages it cites (text, title or heading): "Reddit runs on
   Flask. [3]" for "Which framework is Reddit built on?" is unsupported by a passage on Flask alone.
4. A negative sentence ("There is no free edition.") is unsupported by a passage sentence that says nothing
   negative ("... free editions for students"): embeddings read the two as close.
5. A sentence that only restates the question ("PayPal uses C to speed up its Python code." for "How does
   PayPal use C to speed up its Python code?") adds no word of its own: it answers nothing, so it is
   unsupported whatever it cites.
6. A sentence too short to compare (under three content words) is no claim, unless it is a bare name that a
   credit line of an on-topic passage states ("Matt Makai [1]", from "Source: Matt Makai") and the question asks
   for a name.
7. A name the sentence credits with making something ("Caddy was created in 2015 by Go.") must be credited in the
   passage too: "by" a few words before it, or it before such a verb in one clause ("Armin Ronacher created
   Flask"); the passage's "created in 2015 and written in Go" names Go, but not as who created Caddy. So must what
   it says someone made ("Jessica McKellar co-founded Dropbox."): said to be made, or made by someone, in a
   sentence that (or the one before it) names the maker.
8. Each citation keeps the exact supporting sentence of the passage (the quote to highlight).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from docchat.app.answer_type import (
    CREDIT_VERBS,
    FIGURE,
    MADE,
    Expected,
    asked_noun,
    first_clause,
    names_in,
    opening_name,
    same_name,
    states,
)
from docchat.app.schema import AnswerSentence, Citation, Passage
from docchat.app.sentences import is_credit, list_after, split_sentences
from docchat.app.yes_no import negates_unlike
from docchat.components.words import (
    QUESTION_WORDS,
    STOPWORDS,
    content_words,
    holds_phrase,
    phrase_text,
    said_of,
    split_terms,
    without_enumerators,
)
from docchat.core.settings import Settings

MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_SOURCES = r"(?:passages?|documents?|text|context|sources?|excerpts?)"
# "According to the passages, X" -> "X", "The passage states that "X"" -> "X": the claim is X.
META_PREFIX = re.compile(
    rf"^(?:(?:according to|based on|as (?:stated|mentioned|described) in|from|in) (?:the |these |this )?{_SOURCES}"
    r"(?: (?:provided|above|given))?\s*,\s*"
    rf"|(?:the|these|this) (?:\w+ )?{_SOURCES} (?:states?|says?|mentions?|explains?|notes?)"
    r"(?: that\b|\s*:|(?=\s*[\"“])))\s*[\"“]?",
    re.I,
)
# "The passage mentioning ... is." talks about the passages, not the world: not an answer, dropped.
META_SUBJECT = re.compile(rf"^(?:the|these|this|those|each|both|all) (?:\w+ )?{_SOURCES}\b", re.I)
# Key facts: numbers, identifiers (snake_case, dotted.names, calls(), CamelCase), and capitalised words.
_KEY_TOKEN = re.compile(r"[A-Za-z0-9_][\w.]*(?:\(\))?")
_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_IDENTIFIER = re.compile(r"\d|_|\w\.\w|\(\)|[a-z][A-Z]")
# Code identifiers and versions a question can ask about: snake_case, dotted.names (not "e.g."), 3.11, call().
_CODE_IDENTIFIER = re.compile(r"_|[A-Za-z0-9]{2,}\.[A-Za-z0-9]|[A-Za-z0-9]\.[A-Za-z0-9]{2,}|\d\.\d|\(\)")
# A sentence that leans on the one before: it opens with a pronoun ("They also hired ...") or a description ("The
# project is ..."), or speaks of "it".
_REFERS_BACK = re.compile(
    r"^\W*(?:\(\d+\)\s*)?(?:(?i:they|their|them|it|its|he|she|his|her|such|both)\b|(?i:the|this|that|these|those)\b"
    r"(?! [A-Z]))|\b(?i:it|its)\b"
)
# where a sentence's clause with a subject of its own starts: "(although Jessica is now at a new company ...)" (not
# any bracket: "the Consumer Financial Protection Bureau (CFPB) agency is ...")
_CLAUSE_START = re.compile(r";|\b(?:although|though|whereas|while|but)\b", re.I)
# "created by Armin Ronacher", "maintained by the Python Software Foundation": the name credited, first word kept
_CREDITED = re.compile(rf"\b(?:{CREDIT_VERBS}|written)\b(?: [\w,-]+){{0,4}}? by (?:the )?([A-Z][\w+#-]*)")
# "Jessica McKellar co-founded Dropbox": the maker's last word and the first of what it made
_MADE_THING = re.compile(rf"\b([A-Z][\w.-]*)(?: [a-z]+ly| also)? (?:{MADE}) (?:the |a |an )?([A-Z][\w+#-]*)")
# a passage's words saying something was made ("developed", "written"), for what a sentence says someone made
_MAKING = rf"{MADE}|wrote|written"
_GAP = r"[^\w.!?]+"  # what lies between two words of one sentence
# what lies between a name and its verb in one clause: not "Guido van Rossum and Jessica McKellar (although Jessica is
# now at a new company that she co-founded)"
_SAME_CLAUSE = r"(?:(?!\b(?:although|though|whereas|while|but|that|which|who|she|he|they)\b)[^.!?();])*?"
# what lies between a made thing and its making verb in one claim: not "Python ... Guido van Rossum and Jessica
# McKellar (although Jessica is now at a new company that she co-founded)"; "Flask ([source code](https://...)) was
# created" is one
_ONE_CLAIM = r"(?:(?!\b(?:although|though|whereas|while|but)\b)(?:[^.!?]|\.(?=\w)))*?"  # "github.com" is in one
# a claim ending on a word that leaves it unfinished ("... resources are provided by.", "... is known as.",
# "... is written in Python and is.", "Guido van Rossum hired Jessica McKellar in."); "in" and "on" only after a
# name or number ("mixed in.", "built on." finish a sentence)
_UNFINISHED = re.compile(
    r"(?:\b(?:by|of|the|a|an|and|or|as|than|such|like|including|between|to|for|from|with|into|at|about|is|are|was|"
    r"were)|(?-i:\b[A-Z0-9][\w.+#-]*) (?:in|on))\W*$",
    re.I,
)
# what a claim says something is written in ("Nginx is written in Python."): its language, first of a list
_WRITTEN_IN = re.compile(r"\b(?:written|implemented|coded|programmed)(?: [a-z]+ly)? in ([A-Z][\w+#-]*(?:\.[A-Za-z]+)?)")
DEFAULT_WORD = re.compile(r"\bdefaults?\b", re.I)  # what says something is a default
# a claim that one thing happened because of another ("Facebook migrated to Python 3 at scale due to its vocal
# support ..."), and what in a passage says why something is so: a cause the passage never gives is the model's
_CAUSE_CLAIM = re.compile(
    r"\b(?:because|due to|owing to|thanks to|as a result of|which is why|that is why"
    r"|the reasons? (?:is|was|why|for))\b",
    re.I,
)
_CAUSE_TEXT = re.compile(
    r"\b(?:because|caus(?:e|es|ed|ing)|due to|owing to|thanks to|since|as a result|results? in|resulted in|therefore|"
    r"thus|hence|so that|in order to|reasons?|why|allows?|allowed|enables?|enabled|benefits?)\b",
    re.I,
)
MIN_CLAIM_WORDS = 3  # shorter sentences ("Sure.", "In short:") are not checked as claims
MAX_PASSAGE_SENTENCES = 60

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class SupportThresholds:
    """When a passage counts as supporting a sentence (settings ``support_similarity``, ``support_overlap``)."""

    similarity: float = 0.62  # cosine between the sentence and the passage's best sentence
    overlap: float = 0.7  # share of the sentence's content words found in the passage

    @classmethod
    def from_settings(cls, settings: Settings) -> SupportThresholds:
        return cls(settings.answer.support_similarity, settings.answer.support_overlap)


def parse_markers(sentence: str, passage_count: int) -> tuple[str, list[int]]:
    """The sentence without its markers, and the valid passage numbers it cites (in order, unique)."""
    numbers: list[int] = []
    for match in MARKER.finditer(sentence):
        for part in re.split(r"[,;]", match.group(1)):
            number = int(part)
            if 1 <= number <= passage_count and number not in numbers:
                numbers.append(number)
    text = MARKER.sub("", sentence)
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()
    return text, numbers


@dataclass
class CheckedAnswer:
    """An answer after checking: its sentences with verified citations, and how much is supported."""

    sentences: list[AnswerSentence]
    citations: list[Citation]
    claims: int
    supported: int

    @property
    def bare(self) -> bool:
        """Whether the supported claims are all bare names ("Matt Makai [1]"): they answer through the passage
        they cite, which holds what the question asks about."""
        claims = [s for s in self.sentences if s.supported and s.citations]
        return bool(claims) and all(len(content_words(s.text)) < MIN_CLAIM_WORDS for s in claims)

    @property
    def supported_share(self) -> float:
        """Share of claim sentences backed by a passage (1.0 when there are no claims)."""
        return self.supported / self.claims if self.claims else 1.0

    @property
    def supported_text(self) -> str:
        """The supported sentences, joined, without markers."""
        return " ".join(s.text for s in self.sentences if s.supported)

    def text(self) -> str:
        """The answer with its verified markers."""
        parts = []
        for sentence in self.sentences:
            marks = "".join(f"[{n}]" for n in sentence.citations)
            parts.append(f"{sentence.text} {marks}".strip() if marks else sentence.text)
        return " ".join(parts)


class SentenceVectors:
    """Embeds sentences once per answer (batched), by text."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def add(self, texts: list[str]) -> None:
        todo = sorted({t for t in texts if t not in self._vectors})
        if todo:
            for text, vector in zip(todo, self._embed(todo), strict=True):
                self._vectors[text] = vector

    def __getitem__(self, text: str) -> np.ndarray:
        return self._vectors[text]


def make_citation(number: int, passage: Passage, quote: str) -> Citation:
    """A citation of passage ``number`` with its supporting ``quote``."""
    return Citation(
        number=number,
        source=passage.source,
        title=passage.title,
        heading=passage.heading,
        lines=passage.lines,
        quote=quote,
        passage=passage.text,
        score=passage.similarity,
        span_unit=passage.span_unit,
        page=passage.page,
        root=passage.root,
    )


def passage_sentences(passage: Passage) -> list[str]:
    """A passage's sentences (capped, for very long passages)."""
    return split_sentences(passage.text)[:MAX_PASSAGE_SENTENCES] or [passage.text]


def key_facts(sentence: str) -> set[str]:
    """The sentence's numbers, code identifiers and names (capitalised words that are not stop words), lower-cased."""
    facts = set()
    for match in _KEY_TOKEN.finditer(sentence):
        token = match.group().rstrip(".")
        if _IDENTIFIER.search(token) or (token[:1].isupper() and token.lower() not in STOPWORDS):
            facts.add(token.lower())
    return facts


def holds_word(text: str, word: str) -> bool:
    """Whether ``text`` holds ``word`` as a word (not inside another: "go" is not in "gocd")."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def missing_facts(sentence: str, passage: str, question: str = "") -> set[str]:
    """The key facts of ``sentence`` found neither in ``passage`` nor in ``question``. A number must be there
    as a number: the 3 of "version 3" is not in "2013", "mp3" or a list's "(3)"; a name as a word: the Go of
    "GoCD is written in Go." is not in "GoCD" ("Python's" holds Python)."""
    haystack = without_enumerators(f"{passage}\n{question}").lower()
    tokens = {token.rstrip(".") for token in _KEY_TOKEN.findall(haystack)}

    def present(fact: str) -> bool:
        return fact in tokens if _NUMBER.fullmatch(fact) else holds_word(haystack, fact)

    return {fact for fact in key_facts(without_enumerators(sentence)) if not present(fact)}


def uncredited_agents(sentence: str, passage: str) -> set[str]:
    """The names ``sentence`` credits with making something ("created ... by Go", "maintained by the PSF") that
    ``passage`` does not credit: neither "by" up to four words before the name ("by [Armin Ronacher]", "by the U.S.
    government's Consumer ...") nor the name before such a verb in the same sentence ("Armin Ronacher created", "the
    Consumer Financial Protection Bureau, a government agency, built"; not "Guido van Rossum and Jessica (although she
    co-founded ...)"). "created in 2015 and written in Go." names Go after the verb: not as who made it; "Python 3
    installed" credits Python with nothing.
    So too what it says someone made ("Jessica McKellar co-founded Dropbox"): a sentence of the passage must say it
    was made or made by someone in one claim ("Markdown was originally developed by ...", "... built Collab",
    "Collab by the ..."; not "Python ... (although Jessica ... co-founded)"), and name the maker there or in the
    sentence before ("Twilio uses ... TwilioQuest. They wrote a post about how TwilioQuest was built": Twilio, not
    the Netflix of the next sentence). "Dropbox is well-known for ..." and "... a new company that she co-founded"
    credit no one with Dropbox."""
    missing = set()
    for name in _CREDITED.findall(sentence):
        word = re.escape(name)
        credited = re.search(rf"\bby{_GAP}(?:[\w'.-]+{_GAP}){{0,4}}?{word}(?!\w)", passage) or re.search(
            rf"(?<!\w){word}(?!\w){_SAME_CLAUSE}\b(?:{CREDIT_VERBS})\b", passage
        )
        if not credited:
            missing.add(name)
    makings = _MADE_THING.findall(sentence)
    sentences = split_sentences(" ".join(passage.split())) if makings else []  # a hard line break ends no sentence
    for maker, made in makings:
        thing = re.escape(made)
        making = re.compile(  # "developed ... Markdown", "Markdown was ... developed", "Collab by the ..."
            rf"\b(?:{_MAKING})\b{_ONE_CLAIM}(?<!\w){thing}(?!\w)|(?<!\w){thing}(?!\w){_ONE_CLAIM}\b(?:{_MAKING}|by)\b"
        )
        said = [i for i, text in enumerate(sentences) if making.search(text)]
        if not any(holds_word(" ".join(sentences[max(i - 1, 0) : i + 1]), maker) for i in said):
            missing.add(made)
    return missing


def unstated_specifics(sentence: str, passage: Passage, sentences: list[str]) -> set[str]:
    """What ``sentence`` states that ``passage`` (split into ``sentences``) does not, though it holds its names: that
    something is a default, which a sentence of the passage must say with the word, or the language something is
    written in, which one must name right after "written in" (or "implemented", "coded in"; up to three words or a
    list apart: "written in Python, with Node.js, Go and Java"). That sentence, with the passage's title and
    heading, must hold the claim's names and figures. Fresh questions, twenty-first session:
    "The Django ORM is included by default in Pyramid." (the passage's default is Django's, its Pyramid another
    sentence's), "Gunicorn binds to port 8080 by default." (a tutorial's ``-b :8080``), "Nginx is written in
    Python." ("backend systems written in any programming language, not just Python"): the model repeats the
    question's "by default" or "written in" over any passage that holds the names."""
    wanted: dict[str, re.Pattern[str]] = {}
    if DEFAULT_WORD.search(sentence):
        wanted["default"] = DEFAULT_WORD
    for language in _WRITTEN_IN.findall(sentence):
        wanted[language] = re.compile(
            rf"\b(?:written|implemented|coded|programmed)\b(?:{_GAP}[\w'-]+){{0,3}}?{_GAP}in"
            rf"(?:{_GAP}[\w.+#-]+){{0,4}}?{_GAP}{re.escape(language)}(?![\w+#])",
            re.I,
        )
    if not wanted:
        return set()
    facts = key_facts(without_enumerators(sentence))
    windows = [  # not the sentence before: "While Django ... the default Django backend ORM (like it does ...)"
        f"{passage.title}\n{passage.heading}\n{text}".lower()
        for text in sentences
        if any(pattern.search(" ".join(text.split())) for pattern in wanted.values())
    ]
    return {
        said
        for said, pattern in wanted.items()
        if not any(
            pattern.search(" ".join(window.split())) and all(holds_word(window, fact) for fact in facts)
            for window in windows
        )
    }


def unfinished(sentence: str) -> bool:
    """Whether ``sentence`` breaks off where it should name something ("Python-specific WebSockets resources are
    provided by." for "Which Python web frameworks support WebSockets?"): no claim, whatever its words."""
    return _UNFINISHED.search(MARKER.sub(" ", sentence).strip()) is not None


_AGENT_Q = re.compile(
    r"^who (?!(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should|else)\b)(?:\w+ly )?([a-z]{3,}) "
    r"(.+?)\W*$",
    re.I,
)


def _asked_agent(question: str) -> tuple[str, str] | None:
    """The verb's stem and its object of a "Who VERB X?" question ("Who hired Guido van Rossum?": "hir", "Guido van
    Rossum"); verbs of four letters or fewer keep their form. None for other questions."""
    match = _AGENT_Q.match(" ".join(question.split()))
    if not match:
        return None
    verb = match.group(1).lower()
    return (re.sub(r"(?:e?d|e?s)$", "", verb) if len(verb) > 4 else verb), match.group(2)


def inverted(question: str, sentence: str) -> bool:
    """Whether ``sentence`` answers "Who VERB X?" with X doing it ("Who hired Guido van Rossum?" answered "Guido van
    Rossum hired Jessica McKellar ..." over "Dropbox ... hiring ... Guido van Rossum and Jessica McKellar"): the
    question's object as the subject of its own verb says nothing of who did it, however true its words look."""
    if not (asked := _asked_agent(question)):
        return False
    stem, thing = asked
    said = " ".join(MARKER.sub(" ", sentence).split())
    return re.match(rf"(?:the )?{re.escape(thing)} (?:\w+ly )?{re.escape(stem)}\w*\b(?! by\b)", said, re.I) is not None


# where a noun phrase's head ends and what it says of it begins ("the quote | about companies ...")
_THING_END = re.compile(r"\s(?:about|that|which|who|whom|where|when|of|on|in|for|with|from|at|to|by)\s", re.I)


def other_object(question: str, sentence: str) -> bool:
    """Whether ``sentence`` answers "Who VERB X?" with someone doing it to something else ("Who wrote the quote
    about companies ...?" answered "Netflix wrote a 2019 update for PyCon US ..."): the verb's object shares no word
    with X's head ("the quote", not what it is about). A pronoun X ("Who created it?") or object ("... created it
    in 2010") is not compared."""
    asked = _asked_agent(first_clause(question))
    if not asked or re.fullmatch(r"(?:it|them|this|that|these|those)", asked[1], re.I):
        return False
    stem, thing = asked[0], _THING_END.split(asked[1], maxsplit=1)[0]
    said = " ".join(MARKER.sub(" ", sentence).split())
    acted = re.search(rf"\b{re.escape(stem)}(?:e|es|ed|d|s|ing)?\b(?: also)? (?!by\b)(.+)", said, re.I)
    if not acted or re.match(r"(?:it|them|this|that|these|those|both|all)\b", acted.group(1), re.I):
        return False
    return not content_words(thing) & content_words(acted.group(1))


def unstated_cause(claim: str, sentences: list[str], index: int) -> bool:
    """Whether ``claim`` gives a cause ("... due to its vocal support for the migration") that its supporting
    sentence (``sentences[index]``) and the ones beside it never give: "They've been very vocal about successfully
    making the migration ..." says nothing of why (fresh, twenty-eighth session)."""
    if not _CAUSE_CLAIM.search(claim):
        return False
    return not _CAUSE_TEXT.search(" ".join(sentences[max(index - 1, 0) : index + 2]))


# a list of three or more short items ("LLM, RAG, MCP, Agents", "the CIA, FBI and NSA"): an item's mention in it says
# nothing of what the item is
_LIST_ITEM = r"[\w.+#'-]+(?: [\w.+#'-]+){0,2}"
_LISTED = re.compile(rf"{_LIST_ITEM}(?:\s*,\s*{_LIST_ITEM})+(?:\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+){_LIST_ITEM}")


def only_listed(name: str, sentences: Iterable[str]) -> bool:
    """Whether the ``sentences`` that name ``name`` all do so only as an item of a list of three or more: "What is
    MCP?" was quoted with "(7) AI (LLM, RAG, MCP, Agents)" (fresh, twenty-eighth session), which never says what it
    is. False when none names it."""
    word = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.I)
    naming = [sentence for sentence in sentences if word.search(sentence)]
    return bool(naming) and not any(word.search(_LISTED.sub(" ", sentence)) for sentence in naming)


def best_relevance(passages: list[Passage]) -> float:
    """What the gate compares with ``min_relevance``: the highest :attr:`Passage.gate_relevance` (0 when there are
    no passages)."""
    return max((p.gate_relevance for p in passages), default=0.0)


def nothing_relevant(passages: list[Passage], min_relevance: float) -> bool:
    """The abstention gate: no passage reaches ``min_relevance``, so the engine refuses without calling the LLM."""
    return best_relevance(passages) < min_relevance


def score_sentences(passages: list[Passage], query_vector: np.ndarray, vectors: SentenceVectors) -> None:
    """Set each passage's ``sentence_similarity``: its closest sentence's cosine to the query (the sentences
    are embedded into ``vectors``, where the answer's checks find them again)."""
    groups = [passage_sentences(p) for p in passages]
    vectors.add([s for group in groups for s in group])
    for passage, group in zip(passages, groups, strict=True):
        passage.sentence_similarity = max(float(np.dot(query_vector, vectors[s])) for s in group)


def unmentioned_identifiers(question: str, passages: list[Passage]) -> list[str]:
    """The code identifiers and versions of ``question`` (``worker_prefetch_multiplier``, ``3.11``, ``app.run()``)
    that no passage mentions: what the question asks about is not in the retrieved documents."""
    text = "\n".join(p.text for p in passages).lower()
    tokens = (match.group().rstrip(".") for match in _KEY_TOKEN.finditer(question))
    return sorted({token for token in tokens if _CODE_IDENTIFIER.search(token) and token.lower() not in text})


def invented_names(answer: str, passages: list[Passage], question: str) -> list[str]:
    """The names ``answer`` gives (capitalised inside a sentence) that neither the passages (text, titles,
    headings) nor the question hold: asked "Who founded Linode?" over passages on using Linode, the model wrote
    "Linode was founded by Larry Wall." A name the model had to invent is one the passages do not state."""
    answer = MARKER.sub(" ", answer)
    held = "\n".join(f"{p.title}\n{p.heading}\n{p.text}" for p in passages)
    missing = missing_facts(answer, held, question)
    return sorted(name for name in names_in([answer]) if name in missing)


def unmentioned_numbers(sentence: str, passages: list[Passage], question: str = "") -> list[str]:
    """The numbers of ``sentence`` ("$10,000", "1024") that neither the passages nor ``question`` hold."""

    def numbers(text: str) -> list[str]:
        return FIGURE.findall(without_enumerators(text))

    held = {n.replace(",", "") for n in numbers("\n".join([question, *(p.text for p in passages)]))}
    return sorted({n for n in numbers(sentence) if n.replace(",", "") not in held})


def without_invented_identifiers(
    checked: CheckedAnswer, passages: list[Passage], question: str = ""
) -> tuple[CheckedAnswer, list[str]]:
    """``checked`` without its unsupported sentences that name a code identifier, version or number no passage
    (nor ``question``) mentions ("The library used to talk to Slack is the `slack_sdk` library." over passages
    that name slackclient; "Odoo costs $10,000 per user." over passages without prices; "Odoo is licensed under the
    GNU General Public License (GPL)." over passages that name no licence), and those names: an invented API,
    figure or name is left out, not shown as a muted sentence."""
    invented: set[str] = set()
    kept = []
    for sentence in checked.sentences:
        text = sentence.text.replace("`", " ")
        names = [] if sentence.supported else [*unmentioned_identifiers(text, passages),
                                               *unmentioned_numbers(text, passages, question),
                                               *invented_names(text, passages, question)]  # fmt: skip
        invented.update(names)
        if not names:
            kept.append(sentence)
    if not invented:
        return checked, []
    dropped = len(checked.sentences) - len(kept)
    return CheckedAnswer(kept, checked.citations, checked.claims - dropped, checked.supported), sorted(invented)


_GENERIC_VERBS = frozenset(["use", "uses", "used", "using", "do", "does", "did", "have", "has", "had", "get", "gets"])
_OPENING_WORD = re.compile(r"^[“\"]?(?:\(\d{1,2}\)\s*)?([A-Za-z][\w.+#-]*?)(?:'s)?\b")  # a quote's too


def without_other_subjects(
    checked: CheckedAnswer, question: str, known: frozenset[str], common: Callable[[str], bool]
) -> CheckedAnswer:
    """``checked`` (an answer, or quotes) without the sentences about another subject, when others are about the
    question's: a sentence that opens with a name the passages write (``known``) and the question does not,
    mentions none of the question's names and says nothing of its other terms. Asked "Which CFPB project is
    described and who uses it?", the 0.5B model went on from Collab to "Netflix uses Python throughout their
    organization ..." and "NASA uses Python extensively ..."; "Does Mozilla use Python for its CI?" was quoted with
    the line on Mozilla and "(5) Google uses Python extensively ..." (fresh, twenty-fourth session). A sentence
    that opens otherwise ("It is used by ...", "The project ...") is kept, and a name ``common`` to the collection
    ("Python") tells no subject apart."""
    names = {name for name in asked_names(question) | code_names(question) if not common(name)}
    about = [any(_names(s.text.lower(), name) for name in names) for s in checked.sentences]
    if not any(about):
        return checked
    terms = terms_beyond_names(question) - _GENERIC_VERBS

    def other_subject(sentence: AnswerSentence) -> bool:
        opening = _OPENING_WORD.match(sentence.text)
        word = opening.group(1).lower() if opening else ""
        return word in known and word not in names and not said_of(terms, sentence.text)

    keep = [mentions or not other_subject(s) for s, mentions in zip(checked.sentences, about, strict=True)]
    if all(keep):
        return checked
    kept = [s for s, stays in zip(checked.sentences, keep, strict=True) if stays]
    dropped = [s for s, stays in zip(checked.sentences, keep, strict=True) if not stays]
    dropped_texts = {s.text.strip("“”") for s in dropped}
    said = {number: sentence.text.strip("“”") for sentence in reversed(kept) for number in sentence.citations}
    # a citation keeps the quote of a sentence kept (quotes give each passage's first one)
    citations = [replace(c, quote=said[c.number]) if c.quote in dropped_texts else c for c in checked.citations
                 if c.number in said]  # fmt: skip
    return CheckedAnswer(
        kept,
        citations,
        checked.claims - len(dropped),
        checked.supported - sum(s.supported for s in dropped),
    )


# capitalised in a title ("Two Scoops of Django"), written as a digit where the documents say it ("2 Scoops of
# Django"): a number, not a name
_NOT_NAMES = STOPWORDS | frozenset(
    ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
)


def asked_names(question: str) -> set[str]:
    """The names a question asks about, lower-cased: its capitalised words that are not stop words or numbers,
    leaving out each sentence's first word (capitalised by its position: "Tell", "Compare", "Besides")."""
    names = set()
    for sentence in re.split(r"(?<=[.?!])\s+", question.strip()):
        for match in list(_KEY_TOKEN.finditer(sentence))[1:]:
            token = match.group().rstrip(".")
            if token[:1].isupper() and not _CODE_IDENTIFIER.search(token) and token.lower() not in _NOT_NAMES:
                names.add(token.lower())
    return names


_PHRASE_WORD = re.compile(r"[A-Za-z0-9][\w.+#-]*?(?='s\b|[.,;:!?]?(?:\s|$))('s)?")


def asked_phrases(question: str) -> list[str]:
    """The names of several words a question asks about, as written: runs of two or more capitalised words, which a
    number may end ("Global Interpreter Lock", "PEP 703"), not from a sentence's first word unless a capital inside
    it marks a name, nor across punctuation or a possessive ("Heroku's Eco dyno" gives none). A question in title
    case (no word after the first in lower case) gives none: its capitals mark no names."""
    sentences = re.split(r"(?<=[.?!])\s+", question.strip())
    tokens = [list(_PHRASE_WORD.finditer(sentence)) for sentence in sentences]
    if not any(match.group()[:1].islower() for matches in tokens for match in matches[1:]):
        return []  # title case ("Which Python Web Frameworks Support WebSockets?"), or no words after the first
    runs: list[list[str]] = [[]]  # a new, empty run where a name breaks off
    for sentence, matches in zip(sentences, tokens, strict=True):
        for i, match in enumerate(matches):
            word = match.group().removesuffix("'s").rstrip(".")
            if i == 0 or sentence[matches[i - 1].end() : match.start()] != " ":
                runs.append([])
            opening = i == 0 and not re.search(r".[A-Z]", word)
            if word[:1].isupper() and not opening and word.lower() not in STOPWORDS:
                runs[-1].append(word)
            elif word[:1].isdigit() and runs[-1]:
                runs[-1].append(word)  # a number ends the name ("PEP 703")
                runs.append([])
            else:
                runs.append([])
            if match.group(1):  # "Heroku's": the name ends here
                runs.append([])
    return list(dict.fromkeys(" ".join(run) for run in runs if len(run) >= 2))


MAX_NAME_WORDS = 6  # the longest run of capitalised words read as one name (each split of it asks the index)


def unmentioned_phrases(question: str, passages: list[Passage], never_mentioned: Callable[[str], bool]) -> list[str]:
    """The names of several words of ``question`` (:func:`asked_phrases`) that neither the retrieved passages nor
    the collection (``never_mentioned``, asked of its keyword index) hold in that order: "How does PEP 703 make the
    Global Interpreter Lock optional?" over a site that says "PEP" and "lock" but never "PEP 703" or "Global
    Interpreter Lock" (fresh, twenty-second session) asks about what the documents do not hold. Names side by side
    are not one name (:func:`_side_by_side`): "Microsoft Windows", "Nginx Gunicorn Django"."""
    # a longer run is a heading typed in capitals, not one name
    phrases = [phrase for phrase in asked_phrases(question) if len(phrase.split()) <= MAX_NAME_WORDS]
    if not phrases:  # most questions: the passages need not be read
        return []
    text = phrase_text(mentioned_text(passages))
    known = names_in(p.text for p in passages)
    return [
        phrase
        for phrase in phrases
        if not holds_phrase(text, phrase_text(phrase))
        and never_mentioned(phrase)
        and not _side_by_side(phrase.split(), known, never_mentioned)
    ]


def _side_by_side(words: list[str], known: frozenset[str], never_mentioned: Callable[[str], bool]) -> bool:
    """Whether ``words`` are two or more names side by side: each part one word the passages write as a name
    (``known``: "Microsoft", "Windows") or several words the collection holds in that order ("Class Based Views" in
    "Django Class Based Views"). A number is no part on its own ("PEP 703"), nor is a word the passages write only
    in lower case ("Global", "Lock")."""

    @cache
    def part(start: int, end: int) -> bool:
        if end - start == 1:
            return words[start].lower() in known
        return not never_mentioned(" ".join(words[start:end]))

    @cache
    def splits(start: int) -> bool:  # words[start:] are parts, one after another
        return start == len(words) or any(
            part(start, end) and splits(end)
            for end in range(start + 1, len(words) + 1)
            if (start, end) != (0, len(words))
        )

    return splits(0)


def terms_beyond_names(question: str) -> set[str]:
    """The question's terms that are not its names' (hyphenated words and "PEP255" read as their parts): what an
    answer must say something of ("Is Odoo open source?": open, source)."""
    names = split_terms(" ".join(asked_names(question) | code_names(question)))
    return split_terms(question) - QUESTION_WORDS - names


def code_names(question: str) -> set[str]:
    """The code-like names of a question, lower-cased: "Vue.js", "ASP.NET", "mod_wsgi", "bottle.py" (which
    :func:`asked_names` leaves to the identifier checks); not versions ("2.7") or calls."""
    tokens = {match.group().rstrip(".") for match in _KEY_TOKEN.finditer(question) if match.group()[:1].isalpha()}
    return {token.lower() for token in tokens if "(" not in token and _CODE_IDENTIFIER.search(token)}


def subject_names(question: str, passages: list[Passage]) -> set[str]:
    """The names of the question's first clause (the one whose kind of fact is asked for), code-like names
    ("Vue.js") included, that some passage lacks: a name every passage mentions ("Python" in a Python corpus)
    tells no passage apart."""
    texts = [mentioned_text([p]) for p in passages]
    return {name for name in clause_names(question) if not all(name in text for text in texts)}


def clause_names(question: str) -> set[str]:
    """The names of the question's first clause, code-like names ("Vue.js") included, lower-cased."""
    clause = first_clause(question)
    return asked_names(clause) | code_names(clause)


def unstated_subject(question: str, checked: CheckedAnswer, common: Callable[[str], bool]) -> list[str]:
    """The names of the question's first clause, when the answer's supported sentences mention none of them:
    "TwilioQuest was created by Twilio." for "Which company created Vue.js?" answers another question, though
    its cited passage names Vue.js. A name ``common`` to the collection ("Python" in a Python corpus) need not
    be repeated: it counts as mentioned where a quoted sentence or its page title or heading says it ("Cornice is
    a REST framework for Pyramid." from a page on API frameworks does not answer "Which company created
    Django?", in a corpus that names Django in a sixth of its chunks). Empty when one name is mentioned, or
    there are none. (The engine does not ask this of questions for a date or number: "Ubuntu 18.04, Ansible
    2.5.1" may answer "Which versions will the update to the Full Stack Python Guide move to?")"""
    names = clause_names(question)
    said = checked.supported_text.lower()
    quoted = " ".join(f"{c.title} {c.heading} {c.quote}" for c in checked.citations).lower()
    if any(_names(said, name) or (common(name) and _names(quoted, name)) for name in names):
        return []
    return sorted(name for name in names if not common(name)) or sorted(names)


def unsaid_versions(question: str, checked: CheckedAnswer) -> list[str]:
    """The names with a version the question asks about ("Python 3", "Django 2.0"), lower-cased, that the answer's
    supported sentences do not say with their number: "Netflix uses Python throughout their organization ..." does
    not answer "Which companies use Python 3?" (fresh, twenty-fourth session)."""
    said = checked.supported_text.lower()
    versioned = (phrase.lower() for phrase in asked_phrases(question) if phrase[-1:].isdigit())
    return [phrase for phrase in versioned if not _names(said, phrase)]


def _names(text: str, name: str) -> bool:
    """Whether ``text`` names ``name``: as a word, or with a plural or a number ("PEPs", "PEP255"), not inside
    another word ("test" is not in "testing", "orm" not in "performing")."""
    return re.search(rf"(?<!\w){re.escape(name)}(?:e?s|\d+)?(?!\w)", text) is not None


def stated_of_another(
    checked: CheckedAnswer, expected: Expected, question: str, known: frozenset[str], about: set[str],
    passages: list[Passage],
) -> bool:  # fmt: skip
    """Whether the answer's sentences that state the number or date asked for (``expected``) all leave out what the
    question is about (``about``), in themselves and in their cited passages' titles and headings: "How many
    employees does Uber have?" was answered "Uber's tech stack contains ... Python ... [1] The project is currently
    running and in-use by thousands of CFPB employees. [2]" (fresh, twenty-fifth session)."""

    def names_the_subject(sentence: AnswerSentence) -> bool:
        cited = [passages[n - 1] for n in sentence.citations if 0 < n <= len(passages)]
        where = "\n".join([sentence.text, *(f"{p.title}\n{p.heading}" for p in cited)]).lower()
        return all(name in where for name in about)

    stating = [s for s in checked.sentences if s.supported and states(s.text, expected, question, known)]
    return bool(about and stating) and not any(names_the_subject(s) for s in stating)


def unsaid_names(names: set[str], checked: CheckedAnswer, passages: list[Passage]) -> list[str]:
    """Those of ``names`` that neither the answer's supported sentences nor the passages they cite mention: an
    answer about something else ("Which companies sponsor Pelican?" answered with a line on PyCon US, cited to a
    post that never names Pelican)."""
    cited = {number for s in checked.sentences if s.supported for number in s.citations}
    said = mentioned_text(passages[number - 1] for number in sorted(cited) if 0 < number <= len(passages))
    said += "\n" + checked.supported_text.lower()
    return sorted(name for name in names if name not in said)


def sentence_window(passage: Passage, sentences: list[str], index: int, *, leaning: bool = False) -> str:
    """Where the names of ``passage``'s sentence ``index`` count as said, lower-cased: the passage's title and
    heading, the sentence before it and the sentence itself. With ``leaning``, the sentence before only when this
    one refers back to it ("They hired ...", "The project is ...", "Version 0.3 of it ..."): "NASA uses Python
    extensively." names its own subject, and the CIA of the sentence before is not what it is about."""
    sentence = sentences[index]
    before = sentences[index - 1] if index and (not leaning or _REFERS_BACK.search(sentence)) else ""
    return "\n".join([passage.title, passage.heading, before, sentence]).lower()


def mentioned_text(passages: Iterable[Passage]) -> str:
    """The passages' titles, headings and texts, lower-cased: where a name counts as mentioned."""
    return "\n".join(f"{p.title}\n{p.heading}\n{p.text}" for p in passages).lower()


def unmentioned_names(question: str, passages: list[Passage], never_mentioned: Callable[[str], bool]) -> list[str]:
    """The names of ``question`` ("Which database does Odoo run on?") that the collection never mentions
    (``never_mentioned``, asked of its keyword index) and so no retrieved passage can: the documents are
    about something else. A name the collection holds is not counted, even when retrieval missed it."""
    text = mentioned_text(passages)
    return sorted(name for name in asked_names(question) if name not in text and never_mentioned(name))


def unmentioned_terms(question: str, answer: str, never_mentioned: Callable[[str], bool]) -> list[str]:
    """The words of ``question`` that ``answer`` repeats and the collection never mentions (``never_mentioned``,
    asked of its keyword index: :meth:`LexicalIndex.never_uses`), lower-cased: "The best way to learn to play the
    guitar is to play a computer game ..." (fresh, twentieth session), over a site that never says "guitar",
    answers a question the documents do not cover, whatever else of the page on learning to program it repeats."""
    said = content_words(answer)
    words = {word.lower() for word in re.findall(r"[A-Za-z][\w+#.'-]*", question)}
    return sorted(w for w in words if (terms := content_words(w)) and terms <= said and never_mentioned(w))


def unquoted_names(question: str, checked: CheckedAnswer, asked_for: set[str] | None = None) -> list[str]:
    """The names of ``question`` when neither the answer's sentences nor its cited passages' titles and
    headings mention any of them: quotes about something else ("Which framework is Reddit built on?"
    answered with lines on WebSphere). Empty when the question names nothing or one name is mentioned. A name that
    is what the question asks for (``asked_for``, :func:`focus_terms`'s terms) does not count: "Which ORM does
    Pyramid include by default?" is not answered by the Django ORM page, which names an ORM but not Pyramid."""
    names = {name for name in asked_names(question) if not content_words(name) <= (asked_for or set())}
    said = " ".join([*(s.text for s in checked.sentences), *(f"{c.title} {c.heading}" for c in checked.citations)])
    said = said.lower()
    return [] if any(_names(said, name) for name in names) else sorted(names)


def outside_the_asked_kind(
    question: str,
    kind: re.Pattern[str],
    answer: str,
    passages: list[Passage],
    pervasive: Callable[[str], bool] = lambda name: False,
) -> list[str]:
    """The names ``answer`` gives (that ``question`` does not) when the passages call other things what the question
    asks for (``kind``: :func:`asked_kind`'s) and none of these: "Which intelligence agencies use Python?" answered
    "NASA uses Python extensively." over "... to intelligence agencies like the CIA, FBI and NSA." (fresh,
    twenty-first session). A name counts as called so in a sentence that says the kind ("intelligence agencies",
    "web framework"), or in the list it introduces, or under a title or heading that says it; a ``pervasive`` name
    (one a large collection is about: "Python") only where a sentence calls it one (:func:`called_the_kind`). Empty
    when no passage says the kind or the answer names nothing new."""
    given = {fact for fact in key_facts(MARKER.sub(" ", answer)) - key_facts(question) if fact[:1].isalpha()}
    if not given:
        return []
    places = []
    for passage in passages:
        group = passage_sentences(passage)
        if kind.search(f"{passage.title}\n{passage.heading}"):
            places.append(passage.text)
            continue
        for i, sentence in enumerate(group):
            if kind.search(" ".join(sentence.split())):
                places.append(" ".join([sentence, *list_after(passage.text, group, i)]))
    said = "\n".join(places).lower()
    if not places:
        return []
    texts = [" ".join(p.text.split()) for p in passages]
    kinds = [kind, asked_noun(question) or kind]  # "Python either as a primary language": a programming one
    for name in given:
        if pervasive(name):
            if any(called_the_kind(name, k, text) for k in kinds for text in texts):
                return []
        elif holds_word(said, name):
            return []
    return sorted(given)


def called_the_kind(name: str, kind: re.Pattern[str], text: str) -> bool:
    """Whether ``text`` calls ``name`` the ``kind`` in so many words: "Python is a programming language", "with
    Python either as a primary language", "databases such as PostgreSQL", "the Django web framework" (not "the
    Python standard library", a library for Python). A name a large collection is about ("Python") is near every
    kind's word there ("Python developers use databases"), so only this counts for it: "What database does Netflix
    use?" was answered "Netflix uses Python ..." over the Databases page (fsp-127)."""
    word, what = rf"(?<!\w){re.escape(name)}(?!\w)", rf"(?:{kind.pattern})"
    return any(
        re.search(pattern, text, re.I)
        for pattern in (
            rf"{word}[^.;:]{{0,30}}?\b(?:is|are|was|were|as)\s+(?:[\w-]+\s+){{0,3}}?{what}",
            rf"{what}[^.;:]{{0,20}}?\b(?:such as|like|including|e\.g\.)\s[^.;]*?{word}",
            rf"\bthe\s+{word}\s+{what}",
        )
    )


# verbs that only tie a question's subject to the kind it asks for ("What database does Netflix use / run on?"):
# an answer that says them says nothing yet of what was asked
_TYING_VERBS = frozenset(split_terms("use uses used using run runs have has rely relies depend depends"))


def kind_unaddressed(question: str, kind: re.Pattern[str], answer: str, passages: list[Passage]) -> bool:
    """Whether ``answer`` says nothing of what ``question`` asks when no passage says the kind it asks for
    (``kind``: :func:`asked_kind`'s, nor the noun of a two-word kind alone) and neither does the answer, nor any other
    term of the question beyond its names and the verbs that tie them to the kind: "What editor does Netflix use?"
    over the seed document, which never says "editor", answered "Netflix uses Python throughout their organization
    ...". "What language is Flask written in?" answered "Flask is written in Python." says "written", and is left
    alone."""
    return all(
        _unaddressed(question, pattern, answer, passages) for pattern in filter(None, [kind, asked_noun(question)])
    )


def _unaddressed(question: str, kind: re.Pattern[str], answer: str, passages: list[Passage]) -> bool:
    if kind.search(answer) or any(kind.search(f"{p.title}\n{p.heading}\n{p.text}") for p in passages):
        return False
    rest = terms_beyond_names(kind.sub(" ", question)) - _TYING_VERBS
    return not said_of(rest, MARKER.sub(" ", answer))


# "On the Django page, ...?", "... does the Git page contrast Git with?", "According to the Pelican static site
# tutorial, ...": the page the user means, by the words of its title
_NAMED_PAGE = re.compile(r"\bthe ((?:[\w.+#-]+ ){1,4}?)(?:page|article|post|tutorial)\b", re.I)


def on_named_page(question: str, passages: list[Passage], citable: set[int]) -> set[int]:
    """``citable`` narrowed to the passages of the page the question names, when it names one whose title some
    passage's title holds (every word of it: "the Git page" -> "Git", "the Pelican static site tutorial" -> "How to
    Create Your First Static Site with Pelican ..."); ``citable`` unchanged otherwise. Asked what the Django page
    says, a quote from the page on Flask extensions, however close, is not what was asked for (fsp-017)."""
    match = _NAMED_PAGE.search(question)
    words = [word for word in match.group(1).lower().split() if word not in STOPWORDS] if match else []
    if not words:
        return citable
    titled = {n for n, p in enumerate(passages, start=1) if all(holds_word(p.title.lower(), w) for w in words)}
    return (citable & titled) or titled or citable


def pages_about(question: str, passages: list[Passage]) -> set[int]:
    """Numbers (from 1) of the passages of a page about what the question's first clause names: every word of the
    page's title is the clause's, one of them a name ("Which company built Windows?": the Windows page). Such a
    page is citable even when another page ranks far above it (the enterprise page, on companies that built
    software "for Windows")."""
    clause = first_clause(question)
    names, said = clause_names(question), clause.lower()
    about = set()
    for n, passage in enumerate(passages, start=1):
        words = [w for w in re.findall(r"[\w.+#-]+", passage.title.lower()) if w not in STOPWORDS]
        if words and any(w in names for w in words) and all(holds_word(said, w) for w in words):
            about.add(n)
    return about


def on_topic(passages: list[Passage], window: float) -> set[int]:
    """Numbers (from 1) of the passages whose relevance is within ``window`` of the best one's: of the best among
    those retrieved for the same part of the question (:attr:`Passage.part`), whose scores are that part's."""
    best: dict[str, float] = {}
    for passage in passages:
        best[passage.part] = max(best.get(passage.part, 0.0), passage.relevance)
    return {n for n, p in enumerate(passages, start=1) if p.relevance >= best[p.part] - window}


def check_answer(
    answer: str,
    passages: list[Passage],
    vectors: SentenceVectors,
    thresholds: SupportThresholds = SupportThresholds(),
    citable: set[int] | None = None,
    question: str = "",
    known: frozenset[str] | None = None,
    expected: Expected | None = None,
) -> CheckedAnswer:
    """Verify every sentence of ``answer`` against ``passages`` (numbered from 1); only passages in
    ``citable`` (default: all) can support a sentence, and only if they hold its key facts (or ``question`` does).
    ``known``: the names the passages capitalise mid-sentence (:func:`names_in`, read here when not given).
    ``expected``: the kind of fact the asked turn wants; when it is a name, a bare name in a credit line answers."""
    parsed, seen = [], set()
    for sentence in split_sentences(answer):
        text, numbers = parse_markers(sentence, len(passages))
        text = META_PREFIX.sub("", text).strip(" …")  # the model copies the "…" that join trimmed passage sentences
        if " … " in text:  # a run of trimmed passage sentences copied whole ("... flask.cli FlaskGroup … flask.globals
            continue  # request and session … ...": fsp-102) is the passages' layout, no sentence of the answer
        if text.count('"') % 2:  # the quotation mark left of a quote the model opened in another sentence
            text = text.replace('"', "").strip()
        said = " ".join(re.findall(r"\w+", text.lower()))
        if text and not META_SUBJECT.match(text) and said not in seen:  # a sentence said twice is said once
            seen.add(said)
            parsed.append((text[0].upper() + text[1:], numbers))
    per_passage = [passage_sentences(p) for p in passages]
    passage_words = [content_words(p.text) for p in passages]
    vectors.add([text for text, _ in parsed] + [s for group in per_passage for s in group])

    sentences: list[AnswerSentence] = []
    quotes: dict[int, str] = {}
    claims = supported = 0

    known = names_in(p.text for p in passages) if known is None else known

    def new_subject(text: str, number: int, index: int) -> bool:
        """Whether ``text`` opens with a name that passage ``number`` says nothing of where its support says it:
        "The CIA uses Python extensively." made from "NASA uses Python extensively." (sentence ``index``; the CIA
        is named only in the sentence before, which that one does not refer back to). Any sentence of the
        passage that is as close to ``text`` and holds the name near it will do, if it holds the other names and
        figures of ``text`` there too: "Netflix open sourced the Flask-RESTful framework." (fresh, twentieth
        session) is close to "(3) Netflix uses Python throughout ...", which says nothing of Flask-RESTful."""
        subject, group = opening_name(text, known), per_passage[number - 1]
        support = opening_name(group[index], known)
        if subject is None or support is None or same_name(subject, support):
            return False
        others = {fact for fact in key_facts(without_enumerators(text)) if not holds_word(subject, fact)}

        def window(i: int) -> str:
            return sentence_window(passages[number - 1], group, i, leaning=True)

        close = [i for i, s in enumerate(group) if float(np.dot(vectors[text], vectors[s])) >= thresholds.similarity]
        close = [i for i in close if all(holds_word(window(i), fact) for fact in others)]
        said = [opening_name(group[i], known) or "" for i in close]
        if any(same_name(subject, name) for name in said if name):  # another close sentence is about it
            return False
        return not any(holds_word(window(i), subject) for i in {index, *close})

    def clause_of_another(text: str, sentence: str) -> bool:
        """Whether ``text`` states, of the name it opens with, what the supporting ``sentence`` says in a clause of
        another name: "Guido van Rossum is now at a new company that she co-founded." from "... such as Guido van
        Rossum and Jessica McKellar (although Jessica is now at a new company that she co-founded)." (fresh,
        thirteenth session). The clause is the sentence's closest to ``text``; it must open with a name."""
        clauses = [c.strip(" ,()") for c in _CLAUSE_START.split(without_enumerators(sentence))]
        clauses = [c for c in clauses if len(content_words(c)) >= MIN_CLAIM_WORDS]
        subject = opening_name(text, known) if len(clauses) > 1 else None
        if subject is None:
            return False
        vectors.add(clauses)
        closest = max(clauses, key=lambda c: float(np.dot(vectors[text], vectors[c])))
        other = opening_name(closest, known)
        return other is not None and not same_name(subject, other) and not holds_word(closest.lower(), subject)

    def support(text: str, number: int) -> tuple[bool, float, int]:
        group = per_passage[number - 1]
        sims = [float(np.dot(vectors[text], vectors[s])) for s in group]
        best = int(np.argmax(sims))
        words = content_words(text)
        overlap = len(words & passage_words[number - 1]) / len(words) if words else 0.0
        strength = max(sims[best], overlap)
        ok = sims[best] >= thresholds.similarity or overlap >= thresholds.overlap
        ok = ok and (citable is None or number in citable)
        ok = ok and not missing_facts(text, passages[number - 1].text, question)
        ok = ok and not uncredited_agents(text, passages[number - 1].text)
        ok = ok and not unstated_specifics(text, passages[number - 1], group)
        if overlap > sims[best]:  # the quote is the passage sentence sharing most words
            best = max(range(len(group)), key=lambda i: len(words & content_words(group[i])))
        ok = ok and not new_subject(text, number, best) and not clause_of_another(text, group[best])
        ok = ok and not negates_unlike(text, group[best]) and not unstated_cause(text, group, best)
        return ok, strength, best

    def swapped(text: str, claimed: set[str], number: int, index: int) -> bool:
        """Whether ``text`` put a name of the question in place of the one that passage ``number``'s sentence
        ``index`` (its support) says: "Collab uses Python extensively. [1]" from "NASA uses Python extensively."
        in a chunk that names Collab elsewhere. A name counts as said in the supporting sentence, the one before
        it ("They hired ..." after "Dropbox is ..."), and the passage's title and heading."""
        group = per_passage[number - 1]
        near = sentence_window(passages[number - 1], group, index)
        named = {fact for fact in key_facts(group[index]) if fact[:1].isalpha()}  # its opening word included
        return not all(name in near for name in claimed) and bool(named - key_facts(text))

    asked, question_names = content_words(question), asked_names(question)

    def bare_name(text: str, numbers: list[int]) -> dict[int, str]:
        """The passages whose credit line names what a short answer names ("Matt Makai [1]" for "Who is the source
        of the quote about Java-only shops?", from "Source: Matt Makai"), with that line: the cited ones, or the
        first when it cites none. Too short to compare, such an answer is checked on the credit alone: a name
        written anywhere else in a passage is not enough (an injected "reply only with PWNED" holds PWNED too)."""
        facts = key_facts(text) - key_facts(question)
        if not facts or expected is not Expected.NAME:  # "Who ...?", "What source ...?"
            return {}
        credits: dict[int, str] = {}
        for n, group in enumerate(per_passage, start=1):
            credit = next((s for s in group if is_credit(s) and not missing_facts(text, s)), None)
            if credit and (citable is None or n in citable):
                credits[n] = credit
        if not numbers:  # unmarked: the first that holds it
            return dict(list(credits.items())[:1])
        return {n: credits[n] for n in numbers if n in credits}

    for text, numbers in parsed:
        said = content_words(text)
        if len(said) < MIN_CLAIM_WORDS:
            if named := bare_name(text, numbers):  # "Matt Makai [1]" for "Who is the source of ...?"
                claims, supported = claims + 1, supported + 1
                first = next(iter(named))
                quotes.setdefault(first, named[first])
            sentences.append(AnswerSentence(text, list(named), True))
            continue
        claims += 1
        if (asked and said <= asked) or unfinished(text) or inverted(question, text) or other_object(question, text):
            # the question restated, a sentence broken off, the asked one's object doing what the question asks who
            # did, or someone doing it to something else
            sentences.append(AnswerSentence(text, [], False))
            continue
        checks = {n: support(text, n) for n in numbers}
        kept = [n for n in numbers if checks[n][0]]
        if not kept and passages:  # no cited passage supports it: attach the best one if it clearly does
            every = {n: checks.get(n) or support(text, n) for n in range(1, len(passages) + 1)}
            best = max(every, key=lambda n: every[n][1])
            if every[best][0]:
                kept, checks[best] = [best], every[best]
        claimed = key_facts(text) & question_names  # names it takes from the question: its passages must hold them
        if kept and claimed:
            held = mentioned_text(passages[n - 1] for n in kept)
            kept = (
                [n for n in kept if not swapped(text, claimed, n, checks[n][2])]
                if all(name in held for name in claimed)
                else []
            )
        for n in kept:
            quotes.setdefault(n, per_passage[n - 1][checks[n][2]])
        if kept:
            supported += 1
        sentences.append(AnswerSentence(text, kept, bool(kept)))

    citations = [make_citation(n, passages[n - 1], quotes[n]) for n in sorted(quotes)]
    return CheckedAnswer(sentences, citations, claims, supported)
