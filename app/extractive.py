"""The extractive fallback: when the generated answer is mostly unsupported, quote the documents."""

from __future__ import annotations

import numpy as np

from app.citations import CheckedAnswer, SentenceVectors, make_citation, passage_sentences
from app.schema import AnswerSentence, Passage
from app.sentences import content_words

QUOTED_PREFIX = "Quoted from the documents:"


def extractive_answer(
    query_vector: np.ndarray, passages: list[Passage], vectors: SentenceVectors, *, max_sentences: int = 3
) -> CheckedAnswer:
    """The sentences of the top passages most similar to the question, each cited, labelled as quotes."""
    candidates: list[tuple[float, int, int, str]] = []  # (similarity, passage number, position, sentence)
    top = passages[:3]
    groups = [passage_sentences(p) for p in top]
    vectors.add([s for group in groups for s in group])
    for number, group in enumerate(groups, start=1):
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
    citations = [make_citation(n, top[n - 1], quotes[n]) for n in sorted(quotes)]
    return CheckedAnswer(sentences, citations, claims=len(chosen), supported=len(chosen))
