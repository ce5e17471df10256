"""The extractive fallback: when the generated answer is mostly unsupported, quote the documents."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from docchat.app.answer_type import (
    AUXILIARIES,
    WORD,
    asks_creator,
    asks_credit,
    asks_what_named_is,
    credits_by_name,
    first_clause,
    names_in,
    opening_name,
)
from docchat.app.citations import (
    CheckedAnswer,
    SentenceVectors,
    asked_names,
    code_names,
    holds_word,
    make_citation,
    passage_sentences,
    sentence_window,
    terms_beyond_names,
)
from docchat.app.schema import AnswerSentence, Passage
from docchat.app.sentences import credited, is_credit, is_prose, list_after
from docchat.components.words import (
    QUESTION_WORDS,
    STOPWORDS,
    content_words,
    said_of,
    split_terms,
    without_enumerators,
)

QUOTED_PREFIX = "From the documents:"
QUOTED_PASSAGES = 3  # quotes come from the best this many citable passages
# A sentence opening with one of these leans on the one before ("They hired Guido van Rossum ..." after "Dropbox
# is ..."): quoted alone it would not say who.
_REFERS_BACK = re.compile(r"^\W*(?:they|their|them|it|its|he|she|his|her|this|that|these|those|such|both)\b", re.I)
# A sentence that opens with "the <noun>" and its verb says that noun for a name the sentence before gave ("The project
# is currently running and in-use by thousands of CFPB employees." after "(1) Collab by the U.S. government's ...").
# Not pronouns: read as the name, "They also did a good job of hiring ... Jessica McKellar (although Jessica is now at
# a new company that she co-founded)." came close enough to "What company did Jessica McKellar co-found after she left
# Dropbox?" (fsp-065, unanswerable) to be quoted; _REFERS_BACK already quotes them with the sentence before.
_STANDS_IN = re.compile(
    r"^\W*[Tt]he [a-z]+(?= (?:is|was|are|were|has|had|have|can|could|will|would|also|now|currently|still|uses|used|"
    r"runs|ran|offers|provides|became|remains)\b)"
)


# "Under which licenses are ...?", "Which static site generator did ...?": the noun naming what is asked for, which a
# sentence that answers holds more often than not ("... under the AGPL 3 license")
_FOCUS = re.compile(
    rf"\b(?:which|what)((?:\s+[a-z][\w-]*){{1,3}}?)(?=\s+(?:{'|'.join(AUXILIARIES)}|should)\b)"
    r"|\b(?:which|what)\s+([a-z][\w-]*)",
    re.I,
)
# a list's item ("(4) ...", "* ..."): it does not go on from the sentence before
_NEW_ITEM = re.compile(r"^\s*(?:\(\d{1,2}\)|[*+•-]\s)")
FOCUS_WEIGHT = 0.5  # added to a sentence's score when it holds a focus term
TITLE_WEIGHT = 0.25  # added to a sentence's score when its page's title names what the question names


def titled_passages(question: str, passages: list[Passage], numbers: list[int]) -> set[int]:
    """The passages (of ``numbers``, from 1) whose title holds a name of the question ("What part of Celery ...?":
    the Celery page, not Task Queues; "Can I use Google Cloud Functions ...?": that page, not Serverless), when
    that tells them apart: none when every one's title does."""
    names = asked_names(question) | code_names(question)
    titled = {n for n in numbers if any(holds_word(passages[n - 1].title.lower(), name) for name in names)}
    return set() if titled == set(numbers) else titled


def focus_terms(question: str) -> set[str]:
    """The terms of the noun after the question's "which" or "what" that names what it asks for: the last word
    before its verb ("Which static site generator did ...": generator), else the word after it ("Which companies
    use Flask?": companies); none for "What does ...?" or "What is ...?"."""
    nouns = []
    for match in _FOCUS.finditer(question):
        phrase = match.group(1).split() if match.group(1) else [match.group(2)]
        nouns.append(phrase[-1] if match.group(1) else phrase[0])
    return {term for noun in nouns if noun.lower() not in AUXILIARIES for term in content_words(noun)} - QUESTION_WORDS


class _Candidate(NamedTuple):
    similarity: float
    number: int  # the passage's, from 1
    position: int  # the sentence's within the passage
    sentence: str
    terms: set[str]  # the question's terms it holds
    parts: set[str]  # the question's terms it holds, hyphenated words and "PEP255" read as their parts
    leans: bool  # closer to the question read with the name the sentence before opens with: quoted with that one
    borrowed: bool  # about what ``about`` names only by the sentence before it: read and quoted with that one
    text: str  # what is quoted of it: the sentence, or the sentence with what it needs (see _with_context)


def extractive_answer(
    query_vector: np.ndarray,
    passages: list[Passage],
    vectors: SentenceVectors,
    *,
    question: str = "",
    max_sentences: int = 2,
    citable: set[int] | None = None,
    wanted: Callable[[str], bool] | None = None,
    about: set[str] | None = None,
    min_similarity: float = 0.0,
    max_passages: int = QUOTED_PASSAGES,
    kind: re.Pattern[str] | None = None,
    beyond_names: bool = False,
) -> CheckedAnswer:
    """The sentences of the ``max_passages`` top passages (of those in ``citable``, numbered from 1) that best
    answer the question, each cited, labelled as quotes. With ``wanted``, only sentences it accepts (those that state
    the kind of fact the question asks for): none accepted, no quotes. No quotes either when no candidate
    sentence reaches ``min_similarity`` (cosine to the question), holds every term of a "which X" question or of
    its first clause but X (which an answer names instead), sits under a heading that holds every term of the
    question or, asked what a name is ("What is Wagtail?"), holds that name (then only such sentences are quoted):
    the passages are near the topic, but no sentence of theirs is about what was asked. ``query_vector`` may stack
    several readings of the question (a follow-up's rewrite and the turn as asked): a sentence's similarity is then
    its highest. With
    ``about`` (lower-cased names), only sentences that mention each of them, themselves or in the sentence before or the
    passage's title or heading: "Which version of Mako added Python 3 support?" is not answered by "16.04 is the
    first Ubuntu release to include Python 3"; one that names them only in the sentence before is read and quoted
    with it, and one that opens with a name of its own and has them only from its title or heading is not about
    them. With ``beyond_names``, no quotes either when the sentences picked hold none of the question's terms but
    its names (:func:`_says_only_names`). With ``kind`` (:func:`asked_kind`), only sentences that say it
    ("intelligence agencies like the CIA, FBI and NSA"), which then need no similarity to the question.

    Sentences are picked one at a time by cosine similarity to the question plus the share of the
    question's terms they add to those already quoted (the reranker's relevance, similarity + coverage,
    applied to what is still missing): "How do Django and Flask differ?" quotes a sentence on each. A sentence that
    holds the noun the question asks for (:func:`focus_terms`), or whose page's title names what the question names
    (:func:`titled_passages`), scores more. They are
    shown in the order picked, so the sentence that best answers the question comes first; after the first, a
    sentence below ``min_similarity`` that adds none of the question's terms is not quoted, unless it sits under a
    heading that holds every term of the question. A picked sentence
    that opens by referring back ("They ...", "It ...", "That approach ...") is quoted with the sentence before it; a
    lead-in ending with a colon ("To achieve a standout demo you must:"), with the list it introduces.
    """
    asked = content_words(question) - QUESTION_WORDS
    asked_parts = split_terms(question) - QUESTION_WORDS
    focus = focus_terms(question)
    queries = np.atleast_2d(query_vector)

    def similarity_of(text: str) -> float:
        return float(np.max(queries @ vectors[text]))

    candidates: list[_Candidate] = []
    numbers = [n for n in range(1, len(passages) + 1) if citable is None or n in citable][:max_passages]
    groups = {n: passage_sentences(passages[n - 1]) for n in numbers}
    credit_asked = asks_credit(question)  # then a credit line ("Source: python.org") answers
    titled = titled_passages(question, passages, numbers)
    known = names_in(p.text for p in passages) if about else frozenset()  # for what a sentence opens with
    resolved = {  # (passage, position) -> the sentence read with the name "the <noun>" stands in for
        (number, position): text
        for number, group in groups.items()
        for position, sentence in enumerate(group)
        if position and (text := read_with_subject(sentence, group[position - 1]))
    }
    extended = {  # (passage, position) -> the sentence with what it needs to be read, quoted with it
        (number, position): text
        for number, group in groups.items()
        for position in range(len(group))
        if (text := _with_context(passages[number - 1].text, group, position, credit_asked))
    }
    vectors.add([s for group in groups.values() for s in group] + [*resolved.values(), *extended.values()])
    for number, group in groups.items():
        for position, sentence in enumerate(group):
            terms = content_words(sentence)
            # a credit ("Source: python.org") is short, but says who wrote what is asked about
            short = len(terms) < 3 and not (credit_asked and is_credit(sentence))
            if short or not is_prose(sentence) or (wanted is not None and not wanted(sentence)):
                continue
            if kind is not None and not kind.search(" ".join(sentence.split())):
                continue
            borrowed = ""  # the sentence read with the one before, which names what it is about
            if about:
                near = sentence_window(passages[number - 1], group, position)
                if not all(name in near for name in about):
                    continue
                passage = passages[number - 1]
                if _about_another_name(sentence, group[position - 1] if position else "", about, known, question):
                    continue
                own = f"{passage.title}\n{passage.heading}\n{sentence}".lower()
                if not all(name in own for name in about):
                    borrowed = f"{group[position - 1]} {sentence}"
                    vectors.add([borrowed])
            similarity, leans = similarity_of(sentence), False
            # "Part one describes the lower backend levels, ... with Node.js, Go and Java mixed in." is about Uber by
            # the sentence before ("(1) Uber's tech stack ..."): read and quoted with it when the two are closer to
            # the question than it alone (fresh, twenty-third session, "Which languages does Uber use besides
            # Python?": 0.40 alone, 0.72 with it); not a list's new item ("(4) A quick search for government jobs
            # ..." after "(3) NASA uses Python ...", "(3) Netflix uses Python ..." after "Twilio also uses Flask ...")
            lent = bool(borrowed) and not _NEW_ITEM.match(sentence) and similarity_of(borrowed) > similarity
            if lent:
                similarity, leans = similarity_of(borrowed), True
            whole = extended.get((number, position), sentence)
            if whole != sentence:  # what "... you must:" says is in its list; what "- AWS" credits, before it
                similarity, terms = max(similarity, similarity_of(whole)), content_words(whole)
            if text := resolved.get((number, position)):  # "How many employees use Collab?": 0.42 as written, 0.73
                as_named = similarity_of(text)
                similarity, leans = max(similarity, as_named), leans or as_named > similarity
            parts = split_terms(whole) & asked_parts
            candidates.append(
                _Candidate(similarity, number, position, sentence, terms & asked, parts, leans, lent, whole)
            )
    headed = {n for n in numbers if _headed_by_the_asked(passages[n - 1], asked)}
    named = asks_what_named_is(question)  # "What is Wagtail?": "... the Wagtail content management system ..." (0.45)
    clause = first_clause(question)  # "Which company's documentation is powered by Wagtail, and what else ...?"
    clause_asked = content_words(clause) - QUESTION_WORDS if clause != question else set()
    clause_focus = focus_terms(clause)
    if not any(
        c.similarity >= min_similarity
        or _says_all_but_the_asked(c, asked, focus)
        or _says_all_but_the_asked(c, clause_asked, clause_focus)
        or c.number in headed
        or (named and asked and asked <= c.terms)
        or kind is not None
        for c in candidates
    ):
        return CheckedAnswer([], [], claims=0, supported=0)
    if named and asked and any(asked <= c.terms for c in candidates):
        candidates = [c for c in candidates if asked <= c.terms]
    chosen: list[_Candidate] = []
    covered: set[str] = set()
    while candidates and len(chosen) < max_sentences:
        best = max(
            candidates,
            key=lambda c: (
                c.similarity
                + (len(c.parts - covered) / len(asked_parts) if asked_parts else 0.0)
                + (FOCUS_WEIGHT if c.parts & focus else 0.0)
                + (TITLE_WEIGHT if c.number in titled else 0.0)
            ),
        )
        candidates.remove(best)
        adds = best.parts - covered  # "Flask-powered" adds "power", "PEP255" adds "pep"
        if chosen and best.similarity < min_similarity and not adds and best.number not in headed:
            break  # far from the question and adding none of its terms: "Netflix uses Python ..." after the one
            # sentence on Flask-RESTful asked about (fresh, twenty-second session) would only be noise; a list
            # under a heading that names the question ("What is the Python checklist?") is not
        chosen.append(best)
        covered |= best.parts
        if _leans_back(best):  # quoted with the sentence before it, which is not quoted again on its own
            candidates = [c for c in candidates if (c.number, c.position) != (best.number, best.position - 1)]
        # nor is what its quote already holds (a list's items, a credited paragraph, the same sentence on another page)
        candidates = [c for c in candidates if c.sentence not in best.text]
    # asked who made something, a sentence that credits someone by name ("... is coded and written by Matt Makai."
    # for "Who is the author of Full Stack Python?": fresh, twenty-fifth session) says what was asked, whatever its
    # words; "The Pony ORM author explains ..." names no one (fsp-118)
    credits = asks_creator(question) and all(credits_by_name(c.text) for c in chosen)
    exempt = named or credits or any(c.number in headed for c in chosen)
    if not chosen or (beyond_names and _says_only_names(question, chosen, exempt)):
        return CheckedAnswer([], [], claims=0, supported=0)
    picked = {(c.number, c.position) for c in chosen}
    texts = [
        f"{before} {c.text}"
        if _leans_back(c)
        and (c.number, c.position - 1) not in picked
        and (before := groups[c.number][c.position - 1])
        not in c.text  # a credit's quote already holds the paragraph it credits
        else c.text
        for c in chosen
    ]
    sentences = [AnswerSentence(QUOTED_PREFIX, [], True)]
    sentences += [AnswerSentence(f"“{text}”", [c.number], True) for c, text in zip(chosen, texts, strict=True)]
    quotes: dict[int, str] = {}
    for c, text in zip(chosen, texts, strict=True):
        quotes.setdefault(c.number, text)
    citations = [make_citation(n, passages[n - 1], quotes[n]) for n in sorted(quotes)]
    return CheckedAnswer(sentences, citations, claims=len(chosen), supported=len(chosen))


def _with_context(text: str, group: list[str], position: int, credit_asked: bool) -> str:
    """The sentence at ``position`` of a passage (``text``, split into ``group``) with what it needs to be read,
    or "" when it needs nothing: a lead-in ending with a colon ("To achieve a standout demo you must:") with the
    list it introduces; when the question asks who wrote something, a credit ("- AWS") with what it credits."""
    if items := list_after(text, group, position):
        return f"{group[position]} {'; '.join(items)}"
    if credit_asked and is_credit(group[position]) and (paragraph := credited(text, group, position)):
        return f"{paragraph} {group[position]}"
    return ""


def _says_all_but_the_asked(candidate: _Candidate, asked: set[str], focus: set[str]) -> bool:
    """Whether ``candidate`` holds every term of the question (two or more) but the noun it asks for, which an answer
    names instead: "Twilio also uses Flask to run the REST API endpoints ..." answers "Which companies use Flask?",
    though its cosine to the question is only 0.45 (what else it says dilutes it)."""
    rest = asked - focus
    return bool(focus) and len(rest) >= 2 and rest <= candidate.terms


def _about_another_name(sentence: str, before: str, about: set[str], known: frozenset[str], question: str) -> bool:
    """Whether ``sentence`` is about a name of its own while the question's (``about``) are only in its page's title
    or heading: "Ubuntu's latest Long Term Support (LTS) operating system was released last year, in April 2016.",
    in a post titled on Flask and Ubuntu, does not say when Flask was released (fresh, twenty-fifth session)."""
    said = f"{before}\n{sentence}".lower()
    if any(name in said for name in about):
        return False
    subject = opening_name(sentence, known)
    return subject is not None and subject not in question.lower()


def _says_only_names(question: str, chosen: list[_Candidate], exempt: bool) -> bool:
    """Whether the chosen sentences hold of the question's terms only its names: "Netflix also wrote a 2019 update
    for PyCon US ..." for "Which chaos engineering tool did Netflix build in Python?" (fresh, twenty-third session)
    is on the subject, but says nothing of what was asked. Not when ``exempt`` (the question asks what a name is,
    "What is Wagtail?", or a quote sits under a heading that names the question), nor for a sentence read with the one
    before it for its subject (its terms are split between the two: "... Uber's tech stack ... Part one describes the
    lower backend levels, ... with Node.js, Go and Java mixed in.")."""
    beyond = terms_beyond_names(question)
    if exempt or not beyond:
        return False
    return not any(c.borrowed or said_of(beyond, c.text) for c in chosen)


def _headed_by_the_asked(passage: Passage, asked: set[str]) -> bool:
    """Whether the heading ``passage`` sits under holds every term of the question (two or more): "What is the Python
    checklist?" is answered by the list under "Python Checklist", whose items ("(1) Scripting (Python Fundamental)")
    are far from the question (fresh, twentieth session: under 0.5)."""
    heading = passage.heading.split(">")[-1]
    return len(asked) >= 2 and asked <= content_words(heading)


def _leans_back(candidate: _Candidate) -> bool:
    """Whether a candidate sentence needs the one before it to say what it is about."""
    return candidate.position > 0 and (candidate.leans or _REFERS_BACK.match(candidate.sentence) is not None)


def read_with_subject(sentence: str, previous: str) -> str:
    """``sentence`` with the "the <noun>" it opens with replaced by the name ``previous`` opens with ("The project is in
    use by thousands of CFPB employees." after "(1) Collab by the CFPB is ...": "Collab is in use by ..."), or "" when
    it opens otherwise or ``previous`` opens with no name. Embedded as written, such a sentence is far from a
    question that names its subject; quoted, it keeps the one before it."""
    opening = _STANDS_IN.match(sentence)
    words = WORD.findall(without_enumerators(previous))
    if words and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    name: list[str] = []
    for word in words:
        if not word[:1].isupper():
            break
        name.append(word.rstrip("."))
    if not opening or not name or name[0].lower() in STOPWORDS:
        return ""
    return " ".join(name) + sentence[opening.end() :]
