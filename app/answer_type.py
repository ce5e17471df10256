"""What kind of fact a question asks for, and whether a text states one (classic QA's expected answer type).

"When ...?" asks for a time, "How many ...?" for a quantity, "Who ...?" or "Which company ...?",
"What is X called?" or "What's the name of ...?" for a name. A reply to such a question that states no
time, quantity or name does not answer it, however close its sentences are to the question's topic
("Caddy is a web server created in 2015" for "Who created Caddy?" states a time, not a name), and "Is uWSGI
faster than Gunicorn?" asks for a comparison ("than", or "faster"). "... the most?" or "What is the largest
...?" asks for a superlative, which only a text that states a degree answers, on top of any other kind asked
("Which agency uses Python the most?": a name, and "most", "more than" or the like). "Why ...?" asks for a
reason, which a text without a cause, purpose or condition does not give. Questions of other shapes
("What is ...?", "Which topics ...?", other yes/no questions) expect no particular kind and are not checked.
Only the question's first clause is read: "When was X released, and which ...?" expects a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from docchat.app.sentences import is_credit, is_prose
from docchat.components.words import QUESTION_WORDS, STOPWORDS, split_terms, without_enumerators


class Expected(StrEnum):
    """The kinds of fact a question can ask for; each value reads in a sentence ("does not state a name")."""

    TIME = "a date or time"
    QUANTITY = "a number or amount"
    NAME = "a name"
    COMPARISON = "a comparison"
    SUPERLATIVE = "a superlative (such as “the most”)"
    REASON = "a reason"


_LEAD = r"^(?:(?:and|so|but|also|then|ok|okay|well)[, ]+)?"
_TIME_Q = re.compile(
    _LEAD + r"(?:when\b|since when\b|(?:in|since|by|from|until) (?:what|which) (?:year|month|decade|date|day)\b"
    r"|(?:what|which) (?:year|month|decade|date|day)\b|how long ago\b)"
)
# "Why did Facebook move to Python 3?", "How come ...?", "For what reason ...?": a cause or purpose
_REASON_Q = re.compile(_LEAD + r"(?:why\b|how come\b|for what reasons?\b|what (?:is|was|are|were) the reasons?\b)")
# what states a reason, leniently (a purpose, a condition, a concession, a benefit): a text without any of these
# explains nothing ("They've been very vocal about successfully making the migration ..." for "Why did Facebook
# migrate?"); a purpose's "to" before a lower-case verb ("to run chaos engineering tests"), not before a name
REASON_TEXT = re.compile(
    r"\b(?:because|cause[sd]?|causing|due to|owing to|thanks to|since|as a result|results? in|resulted in|therefore|"
    r"thus|hence|so|reasons?|(?:that|which|this) is why|if|unless|despite|although|though|allows?|allowed|enables?|"
    r"enabled|lets|helps?|helped|makes? it|made it|benefits?|advantages?|gives?|provides?|promotes?|improves?|"
    r"ensures?|avoids?|prevents?|reduces?|saves?|simplif(?:y|ies)|free(?:s|ing)|flexib(?:le|ility)|useful|needs?|"
    r"needed|requires?|required|must|contribut(?:e|es|ed|ing) to|leads? to|led to|responsible for|features?|robust|"
    r"stable|stability|reliab(?:le|ility)|performan(?:t|ce)|powerful|secure|security|efficien(?:t|cy)|mature|"
    r"scalab(?:le|ility)|productiv(?:e|ity)|(?:easier|faster|better|simpler|cheaper|safer) (?:than|to|for))\b"
    r"|\bto (?!(?:the|a|an|this|that|these|those|its|their|his|her|our|your|my|be|it|them)\b)(?-i:[a-z]{3,})\b",
    re.I,
)
# measures, stated in figures ("a maximum database size of 281 TB"), not in words such as "one" or "single"
_MEASURES = r"size|price|cost|costs|salary|limit|length|speed|rate|capacity|population|revenue|port|ports|timeout"
_QUANTITY_NOUNS = rf"(?:number|numbers|percentage|percent|share|proportion|fraction|amount|count|versions?|{_MEASURES})"
_WHAT_NOUN = r"(?:what|which)(?:'s| is| was| are| were)?(?: \w+){0,3}? "
_QUANTITY_Q = re.compile(
    _LEAD + r"(?:how (?:many|much|long|big|large|old|often|fast|far|tall|high|heavy|small|wide|deep)\b"
    rf"|{_WHAT_NOUN}{_QUANTITY_NOUNS}\b)"
)
_MEASURE_Q = re.compile(rf"{_LEAD}{_WHAT_NOUN}({_MEASURES})\b")
_NAME_NOUNS = (
    r"(?:company|companies|organi[sz]ations?|agency|agencies|person|people|universit(?:y|ies)|countr(?:y|ies)|"
    r"city|cities|frameworks?|librar(?:y|ies)|databases?|languages?|projects?|teams?|products?|tools?|services?|"
    r"platforms?|names?|engines?|servers?|editors?|licen[cs]es?|formats?|protocols?|providers?|vendors?|"
    r"sources?|authors?|(?:web)?sites?|blogs?|publications?|publishers?)"
)
_NAME_Q = re.compile(
    _LEAD + rf"(?:(?:who|whom|whose)\b|(?:what|which)(?:'s)?(?: (?!do\b|does\b|did\b)[\w-]+){{0,2}}? {_NAME_NOUNS}\b"
    r"|what(?:'s| is| are| was| were)\b.* called $)"  # "What is its source file called?"
)
# "Is uWSGI faster than Gunicorn?", "Does Google use Python more than Java?" (not "languages other than Python")
_COMPARATIVES = (
    r"more|less|fewer|better|worse|easier|harder|faster|slower|bigger|smaller|larger|newer|older|cheaper|simpler|"
    r"lighter|heavier|safer|higher|lower|stronger|weaker|quicker|longer|shorter"
)
_COMPARISON_Q = re.compile(  # not "languages other than Python", nor "more than 100" (a number to compare with)
    rf"\b({_COMPARATIVES})(?: [\w-]+){{0,3}}? than (?!\d)"
    r"|\b((?!(?:other|rather|either|whether|ever|never|under|over)\b)\w+er) than (?!\d)"
)
# "Which intelligence agency uses Python the most?", "What is the largest package archive for Emacs?": a superlative,
# which a text answers only where it states that degree or a rank (see _degree_text); "NASA uses Python extensively"
# does not say it uses it the most (seed-077)
_SUPERLATIVES = (
    r"most|least|best|worst|largest|biggest|smallest|fastest|slowest|oldest|newest|latest|earliest|highest|lowest|"
    r"longest|shortest|greatest|cheapest|easiest|simplest|hardest|safest|strongest|widest|heaviest|lightest|closest"
)
# "What is Facebook's primary programming language?": a degree too, said of a kind of name (not "the main difference")
_PRIMARY = r"primary|main|principal|chief"
_SUPERLATIVE_Q = re.compile(
    rf"\bthe ({_SUPERLATIVES})\b(?: ([a-z]+))?|\b(?:the|(?<=')s) ({_PRIMARY})\b(?= (?:[\w-]+ )?{_NAME_NOUNS}\b)"
)
# "Who created the Caddy web server?", "Which company maintains Gunicorn?": a name credited with making or keeping
# something, which a text states only where it credits someone ("by ...", "John Gruber created ...", "the creator of
# ..."); "Caddy is an HTTP server created in 2015 and written in Go" names Go, but not as who created Caddy (fsp-066)
MADE = r"created|co-created|founded|co-founded|developed|built|designed|started|invented|made|launched|authored"
CREDIT_VERBS = rf"{MADE}|wrote|maintained|owned|funded|sponsored|acquired|bought|published|released|run|led"
_CREDIT_NOW = r"creates|develops|builds|designs|makes|maintains|owns|funds|sponsors|runs|acquires|buys|publishes"
_CREATOR_Q = re.compile(
    r"\b(?:who|(?:what|which)\b(?:'s| is| was)?(?: [\w-]+){0,4}? (?:company|companies|organi[sz]ations?|person|people|"
    r"team|developers?|group|agency|firm|universit(?:y|ies)))\b(?: [\w-]+){0,4}? (?:originally |first |initially )?"
    rf"(?:{MADE}|maintained|owned|funded|sponsored|acquired|bought|{_CREDIT_NOW})\b"
    # "Who is the current maintainer of Celery?" (fresh, twenty-fifth session: answered with what Celery is)
    r"|\bwho(?:'s| is| was| are| were) (?:the |its |their )?(?:[\w-]+ )?(?:co-?)?"
    r"(?:creators?|founders?|authors?|maintainers?|inventors?|designers?|owners?|developers?)\b"
)
# "by Armin Ronacher", "Collab by the CFPB", "coded and written by Matt Makai"; not "inspired by Django", "powered
# by Wagtail", "used by Netflix": a participle other than a credit's before "by" names no maker; nor "built-in",
# "built upon" (fresh, twenty-fourth session: "Who created Jinja2?" was answered with what inspired it)
_CREDITS_BY_NAME = re.compile(  # the credit and the name together: "written by Matt Makai", "John Gruber created"
    rf"(?<![\w-])(?!(?!(?:{CREDIT_VERBS}|{_CREDIT_NOW}|coded|programmed|written)\b)[a-z]+ed by\b)\S+ by (?:the )?[A-Z]"
    rf"|[A-Z][\w.-]*,?(?: [a-z]+ly| also| then| and [A-Z][\w.-]*)? (?:{CREDIT_VERBS}|{_CREDIT_NOW}|began)"
    r"(?![\w-]| upon\b| on\b)"
)
# a maker's noun, which credits someone only with a name beside it: "Guido van Rossum, the creator of Python", "the
# creator of Flask, Armin Ronacher"; "This podcast interview with the primary author of the Pyramid framework
# explains ..." names no one (fresh, twenty-eighth session: quoted for "Who created the Pyramid web framework?")
_CREDIT_NOUN = re.compile(
    r"\b(?i:(?:co-?)?(?:creators?|founders?|authors?|inventors?|designers?|makers?|maintainers?|owners?|sponsors?))\b"
)
_CREDIT_NOUN_REACH = (4, 6)  # words before and after a maker's noun where the name it credits stands
_RANK_TEXT = r"top|first|number one"  # a rank (or "#1"), whatever the degree asked
_KIND_OF = re.compile(r"\b(?:kinds?|types?|sorts?) of\b")
# "Which intelligence agencies ...?": the kind asked for, a noun with the word before it
_ASKED_KIND = re.compile(rf"{_LEAD}(?:which|what) (?:[\w-]+ )?([a-z][\w-]*) ({_NAME_NOUNS})\b")
# "Who is Jessica McKellar?", "What is Wagtail?": what a name is, a description ("Who is the CEO of X?" asks a name)
_WHAT_NAMED_IS = re.compile(
    rf"(?i:{_LEAD}(?:who|what) (?:is|was|are|were)(?: an?| the)?) ((?:[A-Z][\w.'+#-]*\s*)+)\??\s*$"
)
_CLAUSE_END = re.compile(r"[,;?]| and | or ")
# the auxiliaries a "which/what <noun>" question goes on with ("Which ORM does ...", "What database is ...")
AUXILIARIES = ("is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have", "had", "will", "would")
_AUXILIARY = "|".join((*AUXILIARIES, "should"))
# kinds of software a bare noun asks for ("What database does Reddit use?"): what the passages call one answers
_COMPONENT_NOUNS = (
    r"databases?|orms?|frameworks?|librar(?:y|ies)|languages?|licen[cs]es?|engines?|servers?|editors?|protocols?|"
    r"formats?|brokers?|drivers?|queues?|compilers?|interpreters?|packages?|modules?|extensions?|plug-?ins?"
)
_ASKED_COMPONENT = re.compile(rf"{_LEAD}(?:which|what) ({_COMPONENT_NOUNS}) (?:{_AUXILIARY})\b")

_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|"
    r"millions?|billions?|dozens?|half|twice|double|triple|single|once|most|majority|minority|quarter|third)"
)
_YEAR = r"(?:1[5-9]|20)\d\d"  # 1500-2099, as the year a text or question says
_TIME_TEXT = re.compile(
    rf"\b(?:{_YEAR}|1[5-9]\d0s|{_MONTHS}|(?:\d+|{_NUMBER_WORDS}) (?:years?|months?|weeks?|days?|decades?)"
    r"|today|yesterday|recently|ago)\b",
    re.I,
)
# "What year ...?", "In which decade ...?": a year or decade, not "two months" (fresh, thirteenth session: "What year
# was PowerShell first released?" took "Two months with Powershell on a UNIX ..." for an answer)
_YEAR_Q = re.compile(r"\b(?:what|which) (?:year|decade)\b")
_YEAR_TEXT = re.compile(rf"\b{_YEAR}(?:s|'s)?\b")
# "Python 2.5", "SQLite 3.9.0+", "Ubuntu 16.04": a name's version, no amount unless versions are asked for (fresh,
# thirteenth session: "What is the maximum database size SQLite supports?" took "... as of Python 2.5." for one)
_VERSIONED = re.compile(rf"\b(?!(?i:{_MONTHS})\b)[A-Z][\w+#.-]*\s+v?\d+(?:\.\d+)*\+?(?![\w%])")
_ASKS_VERSION = re.compile(r"\b(?:versions?|releases?)\b", re.I)
# "on December 23, 2012", "in 2019", "a 2019 update": when something happened, no amount unless the question's
# measure is time ("How long ...?", "How old ...?"); fsp-038: "How big was Full Stack Python when it turned five?"
# took "... began five years ago today, on December 23, 2012." for a size
_DATE = re.compile(
    rf"\b{_MONTHS}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+{_YEAR})?\b"
    rf"|\b(?:in|since|by|from|until|on|of|to|a|an|the|its|their)\s+{_YEAR}(?:s|'s)?\b",
    re.I,
)
# "commit 69f5f46", "id 3fa8c2d9": a hexadecimal identifier, no amount
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b")
# "How much of Reddit is Python?": a share, which "a significant portion" states ...
_SHARE_Q = re.compile(r"\bhow much of\b|\b(?:what|which) (?:share|part|portion|proportion|fraction|percentage) of\b")
_SHARE_TEXT = re.compile(
    r"\b(?:portion|part|share|bulk|fraction|percent|all|none|some|much|significant|substantial)\b", re.I
)
# ... but "How many lines of code does YouTube have?" asks for a count, which "most of the lines" is not
_COUNT_Q = re.compile(r"\bhow many (?!of\b)([a-z]+)(?: ([a-z]+))?")  # and the word or two naming what is counted
# ... and a count of what it counts: "How many words did ...?" is not answered by "the 3000th commit ... 5ish years"
# (fsp-100). What anything can be counted in is not required: "How many people use it?" by "thousands of employees".
_COUNTS_ANYTHING = frozenset(
    ("people", "persons", "times", "things", "ones", "years", "months", "weeks", "days", "hours", "minutes", "decades")
)
_PLURAL_END = re.compile(r"(?:ies|(?<=ss|ch|sh)es|(?<=x)es|s)$")
_PROPORTION = re.compile(r"\b(?:most|majority|minority|half|quarter|third)\b", re.I)
# nor does "one" of something else: "How many lines of Python code does YouTube have?" is not answered by "...
# systems start as one Python file" (seed-052), "How many suites does Odoo offer?" is by "one suite of apps"
_SINGLE = re.compile(r"\b(?:one|single|once)\b(?=((?:\W+\w+){0,2}))", re.I)  # the word, and the two after it
_TIME_MEASURE_Q = re.compile(r"\bhow (?:long|old|often|many (?:years|months|weeks|days|decades))\b")
# not the 3 of "GPT-3" or "mp3", nor the "one" of "all-in-one"
_NUMBER_WORD = re.compile(rf"(?<![\w-]){_NUMBER_WORDS}(?![\w-])", re.I)
_QUANTITY_TEXT = re.compile(rf"(?<![A-Za-z-])\d|{_NUMBER_WORD.pattern}", re.I)
# a word as written, with its apostrophes, dots and hyphens ("Uber's", "node.js"); extractive.py reads with it too
WORD = re.compile(r"[A-Za-z][\w'.-]*")
# a number as written: "2.7", "10,000" (not the 3 of "GPT-3"); citations.py reads figures with it too
FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
# "A Guide to Instrumenting Sanic Applications, Part 1": a place in a series, not a number the sentence states
_SERIES_POSITION = re.compile(r"\b(?:part|chapter|step|episode|lesson|volume)\s+\d+\b", re.I)
# "What source is given for ...?", "Who wrote the quote ...?", "Who said ...?": what a credit line answers;
# not "What language is X written in?" (fresh, twentieth session: "Source: python.org" was quoted for it)
_SAYING = r"(?:said|says|stated|states|claimed|claims|argued|argues)"
_ASKS_CREDIT = re.compile(
    r"\b(?:(?<!open[ -])sources?|authors?|credit(?:s|ed)?|quot(?:e|es|ed)|cit(?:e|es|ed)|wrote|written(?! in\b)|writer|"
    rf"publish(?:ed|er)?|whose|who {_SAYING}|who (?:first )?(?:defined|coined)|(?:defined|coined) by)\b",
    re.I,
)
# "Who said Python gets in everywhere?" is answered by who said it: "Matt Makai said ...", "Source: Matt Makai"
_ASKS_SAYER = re.compile(rf"\bwho {_SAYING}\b", re.I)
_SAYS = re.compile(rf"\b(?:{_SAYING}|say|wrote|writes|according to|quoted?|source)\b", re.I)
# NASA, CFPB, YouTube: a name even as a sentence's first word
_MARKED_NAME = re.compile(r"[A-Z][A-Z0-9]+|[A-Za-z]+[A-Z][\w.-]*")
# cx_Oracle, mod_wsgi, bottle.py, node.js: a code name, whatever its case
_CODE_NAME = re.compile(r"[A-Za-z]\w*_\w*[A-Za-z0-9]|[A-Za-z][\w-]*\.(?:py|js)")


def first_clause(question: str) -> str:
    """The question up to its first clause break ("When was X released, and which ...?": "When was X released")."""
    return _CLAUSE_END.split(question, maxsplit=1)[0]


def expected_answer(question: str) -> Expected | None:
    """The kind of fact ``question`` asks for, or None when its shape expects no particular kind."""
    clause = first_clause(" ".join(question.lower().split())) + " "
    if _KIND_OF.search(clause):  # "What kind of organization ...?" asks for a description, not a name
        return None
    if asks_what_named_is(question):
        return None
    kinds = ((Expected.TIME, _TIME_Q), (Expected.QUANTITY, _QUANTITY_Q), (Expected.NAME, _NAME_Q),
             (Expected.REASON, _REASON_Q))  # fmt: skip
    for kind, pattern in kinds:
        if pattern.search(clause):
            return kind
    if _COMPARISON_Q.search(clause):
        return Expected.COMPARISON
    return Expected.SUPERLATIVE if asks_superlative(question) else None


def _asked_kind_match(question: str) -> re.Match[str] | None:
    """:data:`_ASKED_KIND`'s match in the question's first clause: the noun asked for and the word before it."""
    match = _ASKED_KIND.search(first_clause(" ".join(question.lower().split())))
    if not match or match.group(1) in STOPWORDS or match.group(1) in QUESTION_WORDS:
        return None
    return match


def _in_either_number(noun: str, before: str = "") -> re.Pattern[str]:
    """A pattern for ``noun`` (read in the singular) in either number, in any case, after the pattern ``before``."""
    singular = re.escape(_PLURAL_END.sub("", noun))
    return re.compile(rf"\b{before}{singular}(?:s|es|y|ies)?\b", re.I)


def asked_kind(question: str) -> re.Pattern[str] | None:
    """The kind of thing a "which" question asks for, as a pattern that finds it in a text in either number: a noun
    with the word before it ("Which intelligence agencies use Python?": "intelligence agenc(y|ies)"; a name may
    stand between them, as in "the front-end Vue.js framework"), or a kind of
    software alone in a question of one clause ("What database does Reddit use?": "database"; seed-088 was answered
    "Reddit uses Python ..." until the twenty-fifth session). None when the question names no such kind (a bare
    "Which companies ...?", whose answers name companies without saying "company")."""
    if match := _asked_kind_match(question):  # a name may come between: "the front-end Vue.js framework"
        return _in_either_number(match.group(2), rf"{re.escape(match.group(1))}[\s-]+(?-i:[A-Z][\w.+#-]*\s+)?")
    text = " ".join(question.lower().split()).rstrip(" ?")
    if first_clause(text) != text or not (component := _ASKED_COMPONENT.search(text)):
        return None
    return _in_either_number(component.group(1))


def asked_noun(question: str) -> re.Pattern[str] | None:
    """The noun of :func:`asked_kind`'s two-word kind alone ("framework" of "Which Python web framework ...?"), as a
    pattern in either number: where no passage says the whole kind, what they call a framework is what may answer."""
    match = _asked_kind_match(question)
    return _in_either_number(match.group(2)) if match else None


_PURPOSE_Q = re.compile(rf"{_LEAD}what (?:{_AUXILIARY}) .+? (?:use|uses|used|using) (?:for|to) (.+)$")


def asked_purpose(question: str) -> set[str]:
    """The terms of the purpose a "What does X use for Y?" question names ("What does Reddit use for its frontend?":
    frontend), which an answer must say something of: "Reddit is built in Python ..." says nothing of a frontend
    (fresh, twenty-fourth session). Empty for other questions ("What does Mozilla use Python for?")."""
    match = _PURPOSE_Q.search(" ".join(question.lower().split()))
    return split_terms(match.group(1)) - QUESTION_WORDS if match else set()


# "Is Odoo open source?", "Can I deploy Sanic on Windows?": asks whether something holds (not "Is there ...?", which
# asks for a thing, nor "Should I use MySQL or PostgreSQL ...?", which asks for a choice)
_YES_NO_Q = re.compile(
    r"^\s*(?:is|are|was|were|does|do|did|can|could|has|have|had|will|would)\b(?!\s+there\b)(?![^?]*\bor\b)", re.I
)


def asks_yes_no(question: str) -> bool:
    """Whether ``question`` asks whether something holds: its answer says so of what it asks about."""
    return _YES_NO_Q.match(question) is not None


def asks_what_named_is(question: str) -> bool:
    """Whether the question asks only who or what a name is ("Who is Jessica McKellar?", "What is Wagtail?"): a
    description, which any sentence about that name may give."""
    return what_named_is(question) is not None


def what_named_is(question: str) -> str | None:
    """The name a question asks who or what it is ("What is MCP?": "MCP"), or None for other questions."""
    match = _WHAT_NAMED_IS.match(" ".join(question.split()))
    return match.group(1).strip() if match else None


def asks_superlative(question: str) -> bool:
    """Whether the question's first clause asks for a superlative ("Which agency uses Python the most?"): a text
    then answers it, whatever else it asks for, only where it states a degree (:func:`states`)."""
    return _SUPERLATIVE_Q.search(first_clause(" ".join(question.lower().split()))) is not None


def wanted_description(expected: Expected, question: str) -> str:
    """What a text must state to answer ``question``, for a notice: "a name", "a name and a superlative (...)", "a
    name credited with it (such as “created by …”)"."""
    if expected is not Expected.SUPERLATIVE and asks_superlative(question):
        return f"{expected.value} and {Expected.SUPERLATIVE.value}"
    if expected is Expected.NAME and asks_creator(question):
        return f"{expected.value} credited with it (such as “created by …”)"
    return expected.value


def asks_creator(question: str) -> bool:
    """Whether the question's first clause asks who made or keeps something ("Who created Caddy?", "Which company
    maintains Gunicorn?"): a text answers it only where it credits someone (:func:`states`)."""
    return _CREATOR_Q.search(first_clause(" ".join(question.lower().split()))) is not None


def _word(token: str) -> str:
    """A word without its possessive or a sentence's closing full stop ("Uber's" and "Uber." are Uber)."""
    return re.sub(r"['’]s$", "", token.rstrip("."))


def _without_asked_numbers(text: str, question: str) -> str:
    """``text`` without list numbering ("(3)", "Part 1", "Chapter 2") and the numbers the question holds ("Python
    2" and "Python 3" answer no "How long ...?" that asks about the move from Python 2 to Python 3)."""
    text, asked = _SERIES_POSITION.sub(" ", without_enumerators(text)), set(FIGURE.findall(question))
    text = FIGURE.sub(lambda number: " " if number.group() in asked else number.group(), text) if asked else text
    said = {word.lower() for word in _NUMBER_WORD.findall(question)}  # "five" of "when it turned five years old"
    return _NUMBER_WORD.sub(lambda word: " " if word.group().lower() in said else word.group(), text) if said else text


def names_in(texts: Iterable[str]) -> frozenset[str]:
    """The words ``texts`` capitalise inside a sentence, lower-cased: names there ("the Apache web server"), which
    count as names at a sentence's start too ("Apache is the most common web server")."""
    names = set()
    for text in texts:
        for sentence in re.split(r"(?<=[.?!])\s+", text):
            for word in WORD.findall(sentence)[1:]:
                word = _word(word)
                if word[:1].isupper() and word.lower() not in STOPWORDS:
                    names.add(word.lower())
    return frozenset(names)


def names_given(answer: str, texts: Iterable[str]) -> frozenset[str]:
    """The capitalised words of a model's ``answer`` that ``texts`` (the passages) hold, and only capitalised,
    lower-cased: the names it gives, wherever they stand ("Many" is no name where the passages also say "many").
    Asked "Which company uses Python for chaos engineering tests?", the 0.5B said "Netflix", which the passages
    write only at a sentence's start ("(3) Netflix uses Python ..."). Code does not count against a name
    ("Braintree" beside ``import braintree``)."""
    lines = [line for text in texts for line in text.split("\n")]
    held = [_word(word) for line in lines for word in WORD.findall(line)]
    capitalised = {word.lower() for word in held if word[:1].isupper()}
    prose = [_word(word) for line in lines if is_prose(line.strip()) for word in WORD.findall(line)]
    lowered = {word for word in prose if word[:1].islower()}
    given = {_word(word).lower() for word in WORD.findall(answer) if word[:1].isupper()}
    return frozenset(word for word in given if word in capitalised and word not in lowered and word not in STOPWORDS)


def opening_name(sentence: str, known: frozenset[str] = frozenset()) -> str | None:
    """The name among a sentence's first three words, lower-cased, with the capitalised words that follow it:
    its subject, mostly ("NASA uses ...", "The CIA uses ...", "(3) Netflix uses ...", "The Python Software
    Foundation is ..."). The first word counts as at :func:`states`: when its letters mark it as a name or it is
    one of the ``known`` names. None when the sentence opens otherwise ("I gave this talk to Ubiquity.VC ...")."""
    words = [_word(token) for token in WORD.findall(without_enumerators(sentence))]
    for position, word in enumerate(words[:3]):
        if _is_name(word, position, known):
            phrase = [word]
            for following in words[position + 1 :]:
                if not following[:1].isupper():
                    break
                phrase.append(following)
            return " ".join(phrase).lower()
    return None


def same_name(name: str, other: str) -> bool:
    """Whether two names (as :func:`opening_name` gives them) name the same thing: one holds the other ("apache",
    "apache http server") or is its initials ("psf", "python software foundation")."""

    def initials(phrase: str) -> str:
        return "".join(word[0] for word in phrase.split()) if " " in phrase else ""

    return name in other or other in name or name == initials(other) or other == initials(name)


def _degree_text(superlative: re.Match[str]) -> re.Pattern[str]:
    """What states the degree a question's superlative asks: "the most popular" -> "popular" (in any degree:
    "most popular", "more popular", "popular"), "the most" at the clause's end -> "most" or "more", "the largest"
    -> "largest" or "larger"; a rank ("top", "#1") for any; "primary" -> "primary", "main", "core" or the like.
    "one of the largest sites" does not say which web server is the most popular."""
    word, following, primary = superlative.groups()
    if primary:  # "primary": "primary", "main", "core" or the like
        return re.compile(rf"\b(?:{_PRIMARY}|core|{_RANK_TEXT})\b|#1\b", re.I)
    if word in ("most", "least") and following and following not in STOPWORDS:
        words = [following]
    else:
        comparative = {"most": "more", "least": "less", "best": "better", "worst": "worse"}.get(word)
        words = [word, comparative or re.sub(r"est$", "er", word)]  # "largest" -> "larger", "easiest" -> "easier"
    return re.compile(rf"\b(?:{'|'.join(map(re.escape, words))}|{_RANK_TEXT})\b|#1\b", re.I)


def _says_counted(text: str, count: re.Match[str]) -> bool:
    """Whether ``text`` names what a "how many" question (``count``: :data:`_COUNT_Q`'s match) counts: its noun,
    in either number ("companies": company), or the plural after a singular one, which the noun only qualifies
    ("How many Gunicorn workers": workers; fresh, twentieth session: "How many Python developers does Google
    employ?" is not answered by "... three core languages" beside "Python"). True for what anything is counted in
    ("people", "years")."""
    noun, after = count.groups()
    if noun in _COUNTS_ANYTHING or noun in STOPWORDS:
        return True
    plural = after if after and after.endswith("s") and after not in STOPWORDS else ""
    counted = (plural,) if plural and not noun.endswith("s") else (noun, plural)
    stems = tuple(_PLURAL_END.sub("", word) for word in counted if word)
    return any(word.lower().startswith(stems) for word in WORD.findall(text))


def states(text: str, expected: Expected, question: str = "", known: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` states a fact of the ``expected`` kind that the question does not hold: a name, or a
    number, the question already holds is no answer ("Uber's tech stack ..." names no one new for "Which
    languages does Uber mix in?"). A capitalised first word counts as a name only when its letters mark it as
    one ("NASA uses ...", "YouTube ..."), not "Caddy is ...", or when it is one of the ``known`` names
    (:func:`names_in` the passages). A code name ("cx_Oracle", "bottle.py") is a name in any case."""
    lowered = " ".join(question.lower().split())  # the whole question: a follow-up's rewrite asks its turn last
    clause = first_clause(lowered)
    superlative = _SUPERLATIVE_Q.search(clause)
    if superlative and not _degree_text(superlative).search(text):  # "... the most?", whatever else it asks
        return False
    if expected is Expected.SUPERLATIVE:
        return True
    if expected is Expected.TIME:
        asks_year = _YEAR_Q.search(clause)
        return bool((_YEAR_TEXT if asks_year else _TIME_TEXT).search(_without_asked_numbers(text, question)))
    if expected is Expected.QUANTITY:
        text = _without_asked_numbers(text if _ASKS_VERSION.search(question) else _VERSIONED.sub(" ", text), question)
        text = _HEX_ID.sub(" ", text if _TIME_MEASURE_Q.search(clause) else _DATE.sub(" ", text))
        if _SHARE_Q.search(lowered) and _SHARE_TEXT.search(text):
            return True
        if (count := _COUNT_Q.search(lowered)) and not _SHARE_Q.search(lowered):
            counted = tuple(word.rstrip("s") for word in count.groups() if word)  # "lines" is counted as "line"
            if clause == lowered.rstrip(" ?.!") and not _says_counted(text, count):  # one clause: it asks the count
                return False

            def of_counted(single: re.Match[str]) -> str:  # "once" counts times ("How many times ...?")
                if single.group().lower().startswith("once") and "time" in counted:
                    return single.group()
                return single.group() if any(w.lower().startswith(counted) for w in single.group(1).split()) else " "

            text = _SINGLE.sub(of_counted, _PROPORTION.sub(" ", text))
        if measure := _MEASURE_Q.search(clause):
            # a figure, or a price of nothing ("free": not where the question says it, "the free Oracle XE edition")
            priced = measure.group(1) in ("price", "cost", "costs") and not re.search(r"\bfree\b", question, re.I)
            return bool(FIGURE.search(text) or (priced and re.search(r"\bfree\b", text, re.I)))
        return bool(_QUANTITY_TEXT.search(text))
    if expected is Expected.COMPARISON:  # "than", or the question's own comparative ("faster")
        comparison = _COMPARISON_Q.search(lowered)
        words = {"than", comparison.group(1) or comparison.group(2)} if comparison else {"than"}
        return any(_word(word).lower() in words for word in WORD.findall(text))
    if expected is Expected.REASON:  # "Why ...?" is answered by a cause, a purpose, a condition (not by a question)
        return REASON_TEXT.search(text) is not None and not text.rstrip(" \"”'[]0123456789").endswith("?")
    if is_credit(text):  # "Source: python.org" names who wrote the words before it: a name only when that is asked
        return asks_credit(question)
    if asks_creator(clause) and not credits_someone(text, question, known):  # "Who created X?" is answered by a credit
        return False
    if _ASKS_SAYER.search(clause) and not _SAYS.search(text):  # not "They've been very vocal about ..."
        return False
    asked = {_word(word).lower() for word in WORD.findall(question)}
    words = [_word(word) for word in WORD.findall(text)]
    return any(
        word.lower() not in asked and (_CODE_NAME.fullmatch(word) is not None or _is_name(word, position, known))
        for position, word in enumerate(words)
    )


def credits_someone(text: str, question: str, known: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` credits someone with making or keeping something: "written by Matt Makai", "John Gruber
    created ...", or a maker's noun with a name the question does not hold beside it ("Guido van Rossum, the
    creator of Python"; not "the primary author of the Pyramid framework explains how Pyramid ...")."""
    if _CREDITS_BY_NAME.search(text):
        return True
    asked = {_word(word).lower() for word in WORD.findall(question)}
    reach_before, reach_after = _CREDIT_NOUN_REACH
    for noun in _CREDIT_NOUN.finditer(text):
        before = [_word(word) for word in WORD.findall(text[: noun.start()])]
        after = [_word(word) for word in WORD.findall(text[noun.end() :])][:reach_after]
        nearby = list(enumerate(before))[-reach_before:] + list(enumerate(after, start=len(before) + 1))
        if any(word.lower() not in asked and _is_name(word, i, known) for i, word in nearby):
            return True
    return False


def credits_by_name(text: str) -> bool:
    """Whether ``text`` credits someone by name with making something ("... is coded and written by Matt Makai.",
    "John Gruber created Markdown"): not a maker's noun alone ("The Pony ORM author explains ...")."""
    return _CREDITS_BY_NAME.search(text) is not None


def asks_credit(question: str) -> bool:
    """Whether ``question`` asks who wrote, published or is credited for something ("What source is given for
    ...?", "Whose definition ...?"): what a credit line ("Source: python.org") answers."""
    return _ASKS_CREDIT.search(question) is not None


def _is_name(word: str, position: int, known: frozenset[str]) -> bool:
    """Whether ``word``, at ``position`` in its sentence, is a name: capitalised and not a stop word, and at the
    sentence's start only when its letters mark it ("NASA") or it is one of the ``known`` names."""
    return (
        word[:1].isupper()
        and word.lower() not in STOPWORDS
        and (position > 0 or _MARKED_NAME.fullmatch(word) is not None or word.lower() in known)
    )
