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

from app.citations import SentenceVectors, passage_sentences
from app.condense import is_tiny
from app.schema import Passage

TINY_MODEL_BUDGET = 240  # word-pieces: about 1.3 s of prompt reading for SmolLM2-135M on 2 cores


def passage_budget(setting: int, llm_name: str) -> int | None:
    """The budget in word-pieces for ``llm_name``: ``setting`` if positive, else the automatic one."""
    if setting > 0:
        return setting
    return TINY_MODEL_BUDGET if is_tiny(llm_name) else None


def fit_passages(
    passages: list[Passage],
    query_vector: np.ndarray,
    vectors: SentenceVectors,
    budget: int | None,
    count: Callable[[str], int],
) -> list[Passage]:
    """``passages`` with their text cut to the best sentences so that together they fit ``budget``."""
    sizes = [count(p.text) for p in passages]
    if budget is None or sum(sizes) <= budget:
        return passages
    groups = [passage_sentences(p) for p in passages]
    vectors.add([s for group in groups for s in group])
    ranked = sorted(
        ((float(np.dot(query_vector, vectors[s])), number, position) for number, group in enumerate(groups)
         for position, s in enumerate(group)),
        reverse=True,
    )  # fmt: skip
    chosen: list[set[int]] = [set() for _ in passages]
    used = 0
    for number, group in enumerate(groups):  # every passage keeps its best sentence
        best = max(range(len(group)), key=lambda i: float(np.dot(query_vector, vectors[group[i]])))
        chosen[number].add(best)
        used += count(group[best])
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
