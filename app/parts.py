"""The parts of a many-part question, and which of them an answer leaves out.

"How many parameters did GPT-2 have, and how large are the GPT-3 variants?" asks two things. A small model
often answers the first and says nothing on the second; that answer is true, cited and incomplete. Each
part is a question of its own (split at a second question mark, or at ", and" / "and" before a question
word; a lead-in that asks nothing, "According to the enterprise Python page, ...", belongs to the part after
it), and an answer sentence addresses a part when it shares one of the words only that part holds (not one
common to the collection), mentions one of the names only that part holds, and states the kind of fact the
part asks for (``app/answer_type.py``: "how large" a number). A part the answer leaves out gets the passage
sentence that best answers it, as a labelled quote after the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from docchat.app.answer_type import Expected, expected_answer, states
from docchat.app.citations import CheckedAnswer, SentenceVectors, asked_names, clause_names
from docchat.app.extractive import QUOTED_PASSAGES, extractive_answer
from docchat.app.schema import Passage
from docchat.components.words import QUESTION_WORDS, content_words, without_enumerators

_WH = r"(?:what|which|when|where|who|whom|whose|why|how|is|are|was|were|does|do|did|can|could|should)"
_SPLIT = re.compile(rf"(?<=\?)\s+(?=\S)|,?\s+and\s+(?={_WH}\b)|,\s+(?={_WH}\b)", re.I)
# A piece that asks: a question word or a request opens its last sentence ("Tell me about Flask, and who created
# it?", "Caddy is written in Go. Which ...?"), or it ends with a question mark. Else it leads into the next
# ("According to the enterprise Python page, when did ...").
_ASKS = re.compile(rf"^(?:{_WH}|tell|explain|describe|list|name|give|compare|summari[sz]e|show)\b|\?$", re.I)
MIN_PART_WORDS = 3


def question_parts(question: str) -> list[str]:
    """The questions ``question`` asks, in order (one part when it asks one thing)."""
    pieces: list[str] = []
    lead = ""
    for piece in (piece.strip(" ,;") for piece in _SPLIT.split(question.strip())):
        lead = f"{lead}, {piece}" if lead else piece
        if not piece or _ASKS.search(re.split(r"(?<=[.!])\s+", piece)[-1]):  # its last sentence asks
            pieces.append(lead)
            lead = ""
    if lead:
        pieces.append(lead)
    parts = [piece for piece in pieces if len(piece.split()) >= MIN_PART_WORDS]
    return parts if len(parts) > 1 else [question.strip()]


def _addresses(
    sentence: str,
    question: str,
    own_terms: set[str],
    own_names: set[str],
    expected: Expected | None,
    known: frozenset[str],
) -> bool:
    """Whether ``sentence`` answers a part of ``question``: one of the part's own words and names, and the
    kind of fact it asks for (``expected``; ``known``: the passages' names, see ``states``)."""
    lowered = sentence.lower()
    return (
        (not own_terms or bool(content_words(sentence) & own_terms))
        and (not own_names or any(name in lowered for name in own_names))
        and (expected is None or states(sentence, expected, question, known))
    )


def unanswered_parts(
    question: str,
    sentences: Iterable[str],
    known: frozenset[str] = frozenset(),
    common: Callable[[str], bool] = lambda term: False,
) -> list[str]:
    """The parts of ``question`` that none of ``sentences`` addresses (empty for a one-part question); ``known``:
    the names the passages capitalise mid-sentence ("Apache is ..." names Apache). A word ``common`` to the
    collection ("Python" in a Python corpus) says nothing of which part a sentence answers: "NASA uses Python
    extensively." does not answer "Where can you search for government jobs that require or recommend Python"
    (unless the part has no other word of its own)."""
    parts = question_parts(question)
    if len(parts) < 2:
        return []
    said = list(sentences)
    terms = [content_words(part) - QUESTION_WORDS for part in parts]
    names = [asked_names(part) for part in parts]
    missing = []
    for index, part in enumerate(parts):
        own_terms = terms[index] - set().union(*(t for i, t in enumerate(terms) if i != index))
        own_terms = {term for term in own_terms if not common(term)} or own_terms
        own_names = names[index] - set().union(*(n for i, n in enumerate(names) if i != index))
        expected = expected_answer(part)
        if not any(_addresses(sentence, question, own_terms, own_names, expected, known) for sentence in said):
            missing.append(part)
    return missing


def _words(text: str) -> set[str]:
    """What a sentence says, as terms: its content words, not its list numbering ("(1)")."""
    return content_words(without_enumerators(text))


def quote_missing_parts(
    checked: CheckedAnswer,
    question: str,
    passages: list[Passage],
    vectors: SentenceVectors,
    embed_query: Callable[[str], np.ndarray],
    citable: set[int] | None = None,
    known: frozenset[str] = frozenset(),
    standalone: str = "",
    common: Callable[[str], bool] = lambda term: False,
) -> tuple[CheckedAnswer, list[str]]:
    """``checked`` with a quote added for each part of ``question`` its supported sentences leave out (the
    passage sentence that best answers that part, of those stating the kind of fact it asks for and mentioning
    what the part names), and the parts quoted for. Unchanged when every part is addressed or no sentence answers
    a missing one: "... and what happened to Java afterwards?" gets no quote that never mentions Java, and a quote
    that adds no word to the answer is left out. ``known``: the names the passages capitalise mid-sentence
    (:func:`~docchat.app.answer_type.names_in`). ``standalone``: the follow-up's rewrite, read instead when it asks
    as many parts ("Who originally created Flask, and how did Flask start?"), not when it glues on earlier
    questions (those are not this turn's parts). ``common``: the collection's common words (see
    :func:`unanswered_parts`)."""
    if standalone and len(question_parts(standalone)) == len(question_parts(question)):
        question = standalone
    missing = unanswered_parts(question, [s.text for s in checked.sentences if s.supported], known, common)
    sentences, citations = list(checked.sentences), {c.number: c for c in checked.citations}
    said = {s.text.strip("“”") for s in sentences}
    words = set().union(*(_words(s.text) for s in sentences if s.supported))
    quoted_for = []
    for part in missing:
        expected = expected_answer(part)
        # the passage retrieved for this part (app/retrieve.py: with_each_part) is read too
        own = {number for number, passage in enumerate(passages, start=1) if passage.part == part}
        rest = sorted(citable) if citable is not None else list(range(1, len(passages) + 1))
        readable = own | set(rest[:QUOTED_PASSAGES])
        quoted = extractive_answer(
            embed_query(part), passages, vectors, question=part, max_sentences=1, citable=readable,
            max_passages=len(readable),
            wanted=None if expected is None else lambda text, kind=expected: states(text, kind, question, known),
            about=clause_names(part),
        )  # fmt: skip
        # a quote that adds no word to the answer ("Flask was originally designed ... as an April Fool's Day joke."
        # after "Armin Ronacher, the creator of Flask, was originally designed ... joke.") only repeats it
        new = [s for s in quoted.sentences[1:] if s.text.strip("“”") not in said and _words(s.text) - words]
        if not new:
            continue
        sentences += [quoted.sentences[0], *new]
        said |= {s.text.strip("“”") for s in new}
        words = words.union(*(_words(s.text) for s in new))
        for citation in quoted.citations:
            citations.setdefault(citation.number, citation)
        quoted_for.append(part)
    if not quoted_for:
        return checked, []
    added = len(sentences) - len(checked.sentences) - len(quoted_for)
    result = CheckedAnswer(sentences, [citations[n] for n in sorted(citations)], checked.claims + added,
                           checked.supported + added)  # fmt: skip
    return result, quoted_for
