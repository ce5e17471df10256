"""The BM25 side index of a collection (bm25s), persisted next to the store and kept in step with it.

Each index records the collection's ``generation`` (bumped by every ingest that changes chunks).
Ingest rebuilds it after a change; readers reload it when the generation on disk moves, or
rebuild it from the collection's chunks when it is missing or stale (e.g. another machine
ingested into a shared Chroma server).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from chromadb.api.models.Collection import Collection

from docchat.store import iter_pages

_STEMMER = Stemmer.Stemmer("english")
# Words of question phrasing, not of the topic: left out when measuring how much of a question a passage covers.
_QUESTION_WORDS = set(
    _STEMMER.stemWords(
        [
            "document",
            "documents",
            "page",
            "site",
            "text",
            "passage",
            "according",
            "say",
            "says",
            "said",
            "mention",
            "mentioned",
            "mentions",
            "describe",
            "described",
            "list",
            "listed",
            "name",
            "named",
            "names",
            "kind",
            "kinds",
            "give",
            "given",
            "called",
            "call",
            "tell",
            "explain",
            "example",
            "examples",
            "does",
            "do",
            "did",
            "which",
            "what",
            "who",
            "whose",
            "whom",
            "when",
            "where",
            "why",
            "how",
            "many",
            "much",
        ]
    )
)


def _tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False, return_ids=False)


@dataclass
class LexicalIndex:
    """BM25 over a collection's chunks (text + title + heading), with chunk ids and sources by row."""

    generation: int
    ids: list[str]
    sources: list[str]
    retriever: bm25s.BM25 | None

    def search(self, query: str, k: int, source_prefix: str | None = None) -> list[tuple[str, float]]:
        """Best ``k`` (chunk id, BM25 score) pairs with a positive score."""
        if self.retriever is None or not self.ids:
            return []
        mask = None
        if source_prefix:
            mask = np.array([s.startswith(source_prefix) for s in self.sources], dtype=np.float32)
            if not mask.any():
                return []
        tokens = _tokens([query])
        if not tokens[0]:
            return []
        rows, scores = self.retriever.retrieve(
            tokens, k=min(k, len(self.ids)), show_progress=False, weight_mask=mask, n_threads=1
        )
        return [(self.ids[r], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if s > 0]

    def coverage(self, query: str, text: str) -> float:
        """IDF-weighted share of the query's terms that occur in ``text`` (0..1).

        A rare query word that the passage contains (a product name, say) counts for much;
        a word the collection has never seen counts fully against the passage.
        """
        terms = set(_tokens([query])[0]) - _QUESTION_WORDS
        if not terms or self.retriever is None:
            return 0.0
        present = set(_tokens([text])[0])
        weights = {term: self._idf(term) for term in terms}
        return sum(w for term, w in weights.items() if term in present) / sum(weights.values())

    def _idf(self, term: str) -> float:
        count = len(self.ids)
        column = self.retriever.vocab_dict.get(term)
        indptr = self.retriever.scores["indptr"]
        df = int(indptr[column + 1] - indptr[column]) if column is not None and column + 1 < len(indptr) else 0
        return float(np.log(1 + (count - df + 0.5) / (df + 0.5)))

    def sources_with_prefix(self, prefix: str) -> list[str]:
        """Distinct sources that start with ``prefix`` (for dense-retrieval filters)."""
        return sorted({s for s in self.sources if s.startswith(prefix)})


def build(collection: Collection) -> LexicalIndex:
    """Build the index from every chunk stored in ``collection``."""
    generation = int((collection.metadata or {}).get("generation", 0))
    ids: list[str] = []
    sources: list[str] = []
    texts: list[str] = []
    for page in iter_pages(collection, include=("documents", "metadatas")):
        for row_id, text, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=True):
            meta = meta or {}
            ids.append(row_id)
            sources.append(str(meta.get("source", "")))
            texts.append(f"{meta.get('title', '')} {meta.get('heading', '')} {text}")
    retriever = None
    if texts:
        retriever = bm25s.BM25()
        retriever.index(_tokens(texts), show_progress=False)
    return LexicalIndex(generation, ids, sources, retriever)


def save(index: LexicalIndex, folder: Path) -> None:
    """Write the index atomically into ``folder`` (replacing any older one)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        if index.retriever is not None:
            index.retriever.save(str(scratch), show_progress=False)
        (scratch / "rows.json").write_text(
            json.dumps({"generation": index.generation, "ids": index.ids, "sources": index.sources})
        )
        old = folder.with_name(f".{folder.name}.old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(scratch, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def load(folder: Path) -> LexicalIndex | None:
    """Read a saved index (memory-mapped), or None if there is none or it is unreadable."""
    try:
        rows = json.loads((folder / "rows.json").read_text())
        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False) if rows["ids"] else None
    except (OSError, ValueError, KeyError):
        return None
    return LexicalIndex(int(rows["generation"]), rows["ids"], rows["sources"], retriever)


def index_folder(indexes_dir: Path, collection_name: str) -> Path:
    """Where a collection's BM25 index lives."""
    return indexes_dir / f"{collection_name}.bm25"


def is_current(indexes_dir: Path, collection_name: str, generation: int) -> bool:
    """Whether the saved index exists and was built from this generation of the collection."""
    try:
        rows = json.loads((index_folder(indexes_dir, collection_name) / "rows.json").read_text())
    except (OSError, ValueError):
        return False
    return int(rows.get("generation", -1)) == generation


def rebuild(collection: Collection, indexes_dir: Path) -> LexicalIndex:
    """Build and save the index of ``collection``."""
    index = build(collection)
    save(index, index_folder(indexes_dir, collection.name))
    return index


class LexicalIndexCache:
    """Per-process cache of loaded indexes, refreshed when the collection's generation moves."""

    def __init__(self, indexes_dir: Path) -> None:
        self._dir = indexes_dir
        self._cache: dict[str, LexicalIndex] = {}
        self._lock = threading.Lock()

    def get(self, collection: Collection) -> LexicalIndex:
        """The up-to-date index of ``collection`` (loaded from disk or rebuilt as needed)."""
        generation = int((collection.metadata or {}).get("generation", 0))
        with self._lock:
            index = self._cache.get(collection.name)
            if index is None or index.generation != generation:
                index = load(index_folder(self._dir, collection.name))
                if index is None or index.generation != generation:
                    index = rebuild(collection, self._dir)
                self._cache[collection.name] = index
            return index
