"""The extractive fallback: when the generated answer is mostly unsupported, quote the documents."""

from __future__ import annotations

import numpy as np

from docchat.app.citations import CheckedAnswer, SentenceVectors, make_citation, passage_sentences
from docchat.app.schema import AnswerSentence, Passage
from docchat.components.words import content_words

QUOTED_PREFIX = "From the documents:"


def extractive_answer(
    query_vector: np.ndarray,
    passages: list[Passage],
    vectors: SentenceVectors,
    *,
    max_sentences: int = 2,
    citable: set[int] | None = None,
) -> CheckedAnswer:
    """The sentences of the top passages (of those in ``citable``, numbered from 1) most similar to the
    question, each cited, labelled as quotes."""
    candidates: list[tuple[float, int, int, str]] = []  # (similarity, passage number, position, sentence)
    numbers = [n for n in range(1, len(passages) + 1) if citable is None or n in citable][:3]
    groups = {n: passage_sentences(passages[n - 1]) for n in numbers}
    vectors.add([s for group in groups.values() for s in group])
    for number, group in groups.items():
        for position, sentence in enumerate(group):
            if len(content_words(sentence)) >= 3:
                candidates.append((float(np.dot(query_vector, vectors[sentence])), number, position, sentence))
    chosen = sorted(candidates, reverse=True)[:max_sentences]
    chosen.sort(key=lambda c: (c[1], c[2]))  # reading order
    sentences = [AnswerSentence(QUOTED_PREFIX, [], True)]
    sentences += [AnswerSentence(f"“{sentence}”", [number], True) for _, number, _, sentence in chosen]
    quotes: dict[int, str] = {}
    for _, number, _, sentence in chosen:
        quotes.setdefault(number, sentence)
    citations = [make_citation(n, passages[n - 1], quotes[n]) for n in sorted(quotes)]
    return CheckedAnswer(sentences, citations, claims=len(chosen), supported=len(chosen))
