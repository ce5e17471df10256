"""What the LLM reads: the retrieved passages, cut to a word-piece budget when one is set.

A small model reads its prompt at a few hundred tokens a second on CPU, so five full passages cost
seconds before the first token. With a budget, each passage keeps the sentences most similar to the
question (at least its best one, so every number [1]..[k] still has text), in reading order. Citations
are still checked against the full passages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from docchat.app.citations import SentenceVectors, passage_sentences
from docchat.app.schema import Passage


def fit_passages(
    passages: list[Passage],
    query_vector: np.ndarray,
    vectors: SentenceVectors,
    budget: int | None,
    count: Callable[[str], int],
) -> list[Passage]:
    """``passages`` with their text cut to the best sentences so that together they fit ``budget``."""
    if budget is None or sum(count(p.text) for p in passages) <= budget:
        return passages
    groups = [passage_sentences(p) for p in passages]
    vectors.add([s for group in groups for s in group])
    scores = [[float(np.dot(query_vector, vectors[s])) for s in group] for group in groups]
    chosen = [{max(range(len(row)), key=row.__getitem__)} for row in scores]  # every passage keeps its best
    used = sum(count(groups[number][position]) for number, keep in enumerate(chosen) for position in keep)
    ranked = sorted(
        ((score, number, position) for number, row in enumerate(scores) for position, score in enumerate(row)),
        reverse=True,
    )
    for _, number, position in ranked:
        if position in chosen[number]:
            continue
        cost = count(groups[number][position])
        if used + cost <= budget:
            chosen[number].add(position)
            used += cost
    return [
        replace(passage, text=" … ".join(group[i] for i in sorted(keep)))
        for passage, group, keep in zip(passages, groups, chosen, strict=True)
    ]
