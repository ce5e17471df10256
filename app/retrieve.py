"""Hybrid retrieval: dense (Chroma, cosine) + BM25 (tantivy), fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from chromadb.api.models.Collection import Collection

from docchat.app.schema import Passage
from docchat.components.bm25 import LexicalIndex, indexed_text
from docchat.components.embedding import passage_text


def stored_page(meta: dict) -> int | None:
    """A chunk's PDF page: its ``page`` field, or for a PDF chunk stored before pages were recorded (span unit
    "page", start and end line = its page), that page; None for other formats."""
    if meta.get("page") is not None:
        return int(meta["page"])
    if meta.get("span_unit") == "page" and meta.get("start_line") is not None:
        return int(meta["start_line"])
    return None


def distinct_passages(passages: list[Passage]) -> list[Passage]:
    """``passages`` without those whose text (apart from spacing) an earlier one already holds: a corpus may
    repeat a paragraph on many pages (Full Stack Python describes flask-sqlalchemy on 9 example pages), and
    five copies of it would fill the answer's context with one passage. The first, best-ranked copy is kept."""
    seen: set[str] = set()
    kept = []
    for passage in passages:
        text = " ".join(passage.text.split())
        if text not in seen:
            seen.add(text)
            kept.append(passage)
    return kept


def with_each_part(passages: list[Passage], best_for_parts: dict[str, Passage], top_k: int) -> list[Passage]:
    """The question's ``top_k`` passages, with the best passage for each part of it among them: retrieved for the
    whole of "Who created Flask, and which static site generator did that same person go on to start?", every
    passage is on static site generators. A part's passage the list lacks replaces its lowest passage that was not
    itself brought in for a part, and is marked with that part. One the list holds is marked too (so it is citable
    as its part's best, app/citations.py: on_topic), unless it is the question's own best, which sets the window
    of the question's passages: "Which web server is the most commonly deployed, and where does Nginx rank ...?"
    ranks the Nginx page first and the line on Apache third, too far below it to be cited otherwise (fsp-050)."""
    chosen = list(passages[:top_k])
    for part, best in best_for_parts.items():
        if held := [index for index, passage in enumerate(chosen) if passage.id == best.id]:
            if held[0] and not chosen[held[0]].part:
                chosen[held[0]] = replace(chosen[held[0]], part=part)
            continue
        replaceable = [index for index, passage in enumerate(chosen) if not passage.part]
        best.part = part
        if len(chosen) < top_k:
            chosen.append(best)
        elif replaceable:
            chosen[replaceable[-1]] = best
    return chosen


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """RRF (Cormack et al. 2009): score(d) = sum over rankings of 1 / (k + rank of d), ranks from 1."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def hybrid_search(
    collection: Collection,
    lexical: LexicalIndex,
    query_text: str,
    query_vector: np.ndarray,
    *,
    candidates: int,
    limit: int,
    rrf_k: int = 60,
    source_prefix: str | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> list[Passage]:
    """The ``limit`` best passages by fused rank, each with its cosine similarity to the query.

    While an ingest embeds, BM25 may find chunks Chroma does not hold yet: their text comes from the
    BM25 index and, given ``embed``, their similarity from embedding them now (without it, they are left out).
    """
    where = None
    sources = None
    if source_prefix:
        sources = lexical.sources_with_prefix(source_prefix)
        if not sources:
            return []
        where = {"source": {"$in": sources}} if len(sources) > 1 else {"source": sources[0]}
    count = collection.count()
    dense_ids: list[str] = []
    rows: dict[str, tuple[str, dict, float]] = {}
    if count:
        dense = collection.query(
            query_embeddings=[query_vector.tolist()],
            n_results=min(candidates, count),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        dense_ids = dense["ids"][0]
        rows = {
            row_id: (text, meta or {}, 1.0 - float(distance))
            for row_id, text, meta, distance in zip(
                dense_ids, dense["documents"][0], dense["metadatas"][0], dense["distances"][0], strict=True
            )
        }
    lexical_ids = [row_id for row_id, _ in lexical.search(query_text, candidates, sources)]
    fused = reciprocal_rank_fusion([dense_ids, lexical_ids], rrf_k)
    best = sorted(fused, key=fused.__getitem__, reverse=True)[:limit]
    missing = [row_id for row_id in best if row_id not in rows]
    if missing and count:  # BM25-only hits: fetch their text and vectors to score them against the query too
        extra = collection.get(ids=missing, include=["documents", "metadatas", "embeddings"])
        for row_id, text, meta, vector in zip(
            extra["ids"], extra["documents"], extra["metadatas"], extra["embeddings"], strict=True
        ):
            rows[row_id] = (text, meta or {}, float(np.dot(np.asarray(vector, dtype=np.float32), query_vector)))
    unembedded = lexical.stored([row_id for row_id in missing if row_id not in rows]) if embed else {}
    if unembedded:  # read but not embedded yet (an ingest is running): embed them now to score them
        texts = [
            passage_text(meta.get("title", ""), meta.get("heading", ""), text) for text, meta in unembedded.values()
        ]
        for (row_id, (text, meta)), vector in zip(unembedded.items(), embed(texts), strict=True):
            rows[row_id] = (text, meta, float(np.dot(np.asarray(vector, dtype=np.float32), query_vector)))
    dense_rank = {row_id: rank for rank, row_id in enumerate(dense_ids, start=1)}
    lexical_rank = {row_id: rank for rank, row_id in enumerate(lexical_ids, start=1)}
    passages = []
    for row_id in best:
        if row_id not in rows:  # deleted between the BM25 snapshot and now
            continue
        text, meta, similarity = rows[row_id]
        passages.append(
            Passage(
                id=row_id,
                text=text,
                source=str(meta.get("source", "")),
                title=str(meta.get("title", "")),
                heading=str(meta.get("heading", "")),
                start_line=int(meta.get("start_line", 0)),
                end_line=int(meta.get("end_line", 0)),
                span_unit=str(meta.get("span_unit", "line")),
                page=stored_page(meta),
                root=str(meta.get("root", "")),
                score=fused[row_id],
                similarity=similarity,
                coverage=lexical.coverage(query_text, indexed_text(meta, text)),
                dense_rank=dense_rank.get(row_id),
                bm25_rank=lexical_rank.get(row_id),
            )
        )
    return passages
