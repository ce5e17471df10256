"""The BM25 side index of a collection: a tantivy index next to the store, updated with every ingest.

An ingest adds and deletes chunks in it batch by batch as it writes Chroma (:class:`IndexUpdater`),
so adding files to a large collection costs what the files cost and memory stays flat; readers
memory-map it and see each commit at their next question. ``docchat-state.json`` records the
collection ``generation`` the index matches (``null`` while an ingest writes). An index that does
not match and that no ingest is writing (a run was killed, another machine ingested into a shared
Chroma server, the folder was deleted) is rebuilt from the collection's chunks, page by page.

Terms come from docchat's one tokenizer (:mod:`docchat.components.words`) and are given to tantivy
pre-tokenized, so the index, queries, :meth:`LexicalIndex.coverage` and the answer's checks agree;
scores are tantivy's BM25 (k1 1.2, b 0.75). An index of another format (``INDEX_FORMAT``: other terms,
another schema) is not current, so it is rebuilt.

Each indexed chunk also stores its text and metadata. An ingest indexes what it reads before it embeds
it, so questions asked meanwhile can use every chunk by BM25 (:meth:`LexicalIndex.stored` gives the
text of chunks Chroma does not hold yet) and :meth:`LexicalIndex.embedding` says how far embedding is.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import tantivy
from chromadb.api.models.Collection import Collection

from docchat.components import words
from docchat.components.store import iter_pages
from docchat.core.errors import IngestLocked
from docchat.core.lock import ingest_lock

STATE_FILE = "docchat-state.json"
INDEX_FORMAT = 2  # bump when the terms or the schema change: older indexes are rebuilt
WRITER_HEAP_BYTES = 64 * 2**20  # tantivy flushes a segment to disk when its writer's buffer reaches this
_SCHEMA: tantivy.Schema | None = None


PHRASE_SCAN = 200  # chunks read at most to tell whether a phrase is in the collection
_PART = r"(?:.*[-.+#'])?{}.*"  # an index term holding a word: from its start or after a hyphen or dot


def _schema() -> tantivy.Schema:
    global _SCHEMA
    if _SCHEMA is None:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_text_field("source", stored=True, tokenizer_name="raw", index_option="basic")
        builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
        builder.add_bytes_field("chunk", stored=True)  # JSON {"text", "meta"}
        _SCHEMA = builder.build()
    return _SCHEMA


def index_folder(indexes_dir: Path, collection_name: str) -> Path:
    """Where a collection's BM25 index lives."""
    return indexes_dir / f"{collection_name}.tantivy"


def indexed_generation(folder: Path) -> int | None:
    """The collection generation the index in ``folder`` matches; None if none, unreadable or being written."""
    try:
        state = json.loads((folder / STATE_FILE).read_text())
        generation, version = state.get("generation"), state.get("format", 1)
    except (OSError, ValueError, AttributeError):
        return None
    return generation if isinstance(generation, int) and version == INDEX_FORMAT else None


def embedding_progress(folder: Path) -> tuple[int, int] | None:
    """(chunks embedded, chunks to embed) of the ingest writing the index in ``folder``; None if none is."""
    try:
        state = json.loads((folder / STATE_FILE).read_text())
        done, total = state["embedding"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (int(done), int(total)) if state.get("generation") is None else None


def is_current(indexes_dir: Path, collection_name: str, generation: int) -> bool:
    """Whether the saved index exists and matches this generation of the collection."""
    return indexed_generation(index_folder(indexes_dir, collection_name)) == generation


def _write_state(folder: Path, generation: int | None, embedding: tuple[int, int] | None = None) -> None:
    scratch = folder / f".{STATE_FILE}.tmp"
    state: dict = {"generation": generation, "format": INDEX_FORMAT}
    if embedding is not None:
        state["embedding"] = list(embedding)
    with open(scratch, "w") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, folder / STATE_FILE)


def indexed_text(meta: dict, text: str) -> str:
    """What BM25 reads of a chunk: its title, heading and text (retrieval scores term coverage on the same)."""
    return f"{meta.get('title', '')} {meta.get('heading', '')} {text}"


class IndexUpdater:
    """An ingest's writes into a collection's index; use one at a time, under the ingest lock.

    Opening it marks the index as being written (not current) until :meth:`finish`, so a run killed
    in between leaves an index that the next run or reader rebuilds rather than trusts.
    """

    def __init__(self, folder: Path, *, reset: bool = False) -> None:
        if reset:
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        _write_state(folder, None)
        self._writer = tantivy.Index(_schema(), path=str(folder), reuse=True).writer(WRITER_HEAP_BYTES, 1)

    def add(self, ids: Sequence[str], metadatas: Sequence[dict], texts: Sequence[str]) -> None:
        """Index chunks, replacing any indexed chunk with the same id."""
        tokens = words.terms([indexed_text(meta or {}, text) for meta, text in zip(metadatas, texts, strict=True)])
        for row_id, meta, text, terms in zip(ids, metadatas, texts, tokens, strict=True):
            self._writer.delete_documents_by_term("id", row_id)
            meta = meta or {}
            chunk = json.dumps({"text": text, "meta": meta}).encode()
            self._writer.add_document(
                tantivy.Document(id=row_id, source=str(meta.get("source", "")), terms=" ".join(terms), chunk=chunk)
            )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks from the index."""
        for row_id in ids:
            self._writer.delete_documents_by_term("id", row_id)

    def commit(self) -> None:
        """Publish the writes so far (readers see them at their next question)."""
        self._writer.commit()

    def embedding(self, done: int, total: int) -> None:
        """Record that ``done`` of the ``total`` chunks indexed ahead of Chroma are embedded (readers say so)."""
        _write_state(self.folder, None, (done, total))

    def finish(self, generation: int) -> None:
        """Commit, wait for segment merges, and mark the index as matching ``generation``."""
        self._writer.commit()
        self._writer.wait_merging_threads()
        _write_state(self.folder, generation)

    def close(self) -> None:
        """Drop the writer (and tantivy's writer lock); uncommitted writes are lost, the index stays unfinished."""
        self._writer = None


def rebuild(collection: Collection, indexes_dir: Path) -> None:
    """Rebuild the index of ``collection`` from its stored chunks, a page at a time (memory stays flat)."""
    generation = int((collection.metadata or {}).get("generation", 0))
    updater = IndexUpdater(index_folder(indexes_dir, collection.name), reset=True)
    for page in iter_pages(collection, include=("documents", "metadatas")):
        updater.add(page["ids"], page["metadatas"], page["documents"])
        updater.commit()
    updater.finish(generation)
    shutil.rmtree(indexes_dir / f"{collection.name}.bm25", ignore_errors=True)  # earlier versions' bm25s index


class LexicalIndex:
    """Reads a collection's index: BM25 search, query-term coverage, sources by prefix.

    :meth:`refresh` moves it to the latest commit (the cache calls it once per question); an index
    folder that does not exist yet reads as empty.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self.refresh()

    @property
    def generation(self) -> int | None:
        """The collection generation this index matches (None while an ingest writes it)."""
        return indexed_generation(self.folder)

    def refresh(self) -> None:
        """See the latest committed state of the index."""
        if not (self.folder / "meta.json").exists():
            self._index = self._searcher = None
            return
        for _ in range(2):
            try:
                if self._index is None:
                    self._index = tantivy.Index.open(str(self.folder))
                else:
                    self._index.reload()
                self._searcher = self._index.searcher()
                return
            except (OSError, ValueError):  # replaced under us by a rebuild: open it afresh
                self._index = self._searcher = None
        # Still being replaced: this question goes without BM25 (dense retrieval still answers).

    def search(self, query: str, k: int, sources: list[str] | None = None) -> list[tuple[str, float]]:
        """Best ``k`` (chunk id, BM25 score) pairs, only of ``sources`` if given (see :meth:`sources_with_prefix`)."""
        searcher = self._searcher
        terms = list(dict.fromkeys(words.terms([query])[0]))
        if searcher is None or not terms or k <= 0 or sources == []:
            return []
        schema = _schema()
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", term)) for term in terms]
        matcher = tantivy.Query.boolean_query(clauses)
        if sources is not None:
            in_sources = tantivy.Query.term_set_query(schema, "source", sources)
            matcher = tantivy.Query.boolean_query([(tantivy.Occur.Must, matcher), (tantivy.Occur.Must, in_sources)])
        hits = searcher.search(matcher, k, count=False).hits
        return [(searcher.doc(address)["id"][0], float(score)) for score, address in hits if score > 0]

    def coverage(self, query: str, text: str) -> float:
        """IDF-weighted share of the query's terms that occur in ``text`` (0..1).

        A rare query word that the passage contains (a product name, say) counts for much;
        a word the collection has never seen counts fully against the passage.
        """
        terms = set(words.terms([query])[0]) - words.QUESTION_WORDS
        if not terms or self._searcher is None:
            return 0.0
        present = set(words.terms([text])[0])
        weights = {term: self._idf(term) for term in terms}
        return sum(w for term, w in weights.items() if term in present) / sum(weights.values())

    def never_mentions(self, word: str) -> bool:
        """Whether no chunk of the collection holds ``word`` (False when there is no index to ask)."""
        terms = words.terms([word])[0]
        searcher = self._searcher
        return bool(terms) and searcher is not None and all(searcher.doc_freq("terms", t) == 0 for t in terms)

    def never_mentions_phrase(self, phrase: str) -> bool:
        """Whether no chunk of the collection holds ``phrase``'s words in its order ("Global Interpreter Lock",
        "PEP 703"), punctuation and case aside: each word may be in the collection, the phrase not. Read from the
        stored titles, headings and texts of the chunks that hold every word (what the index reads); False when
        more than :data:`PHRASE_SCAN` do (too common to be absent), when there is no index to ask, or when the
        index stores no texts."""
        searcher = self._searcher
        spellings = {phrase, "".join(phrase.split())}  # "PEP 703" may be written "PEP703", one term
        queries = [terms for spelling in spellings if (terms := list(dict.fromkeys(words.terms([spelling])[0])))]
        if not queries or searcher is None:
            return False
        schema = _schema()
        found = []
        for terms in queries:  # a word may be part of a term ("REST-API" is one): each is matched as a term's part
            every = [(tantivy.Occur.Must, tantivy.Query.regex_query(schema, "terms", _PART.format(re.escape(t))))
                     for t in terms]  # fmt: skip
            found += searcher.search(tantivy.Query.boolean_query(every), PHRASE_SCAN + 1, count=False).hits
            if len(found) > PHRASE_SCAN:
                return False
        wanted = words.phrase_text(phrase)
        for _, address in found:
            chunk = searcher.doc(address).get_first("chunk")
            if chunk is None:
                return False
            stored = json.loads(bytes(chunk))
            if words.holds_phrase(words.phrase_text(indexed_text(stored["meta"] or {}, stored["text"])), wanted):
                return False
        return True

    @property
    def chunks(self) -> int:
        """How many chunks the index holds (0 when there is no index to ask)."""
        return self._searcher.num_docs if self._searcher is not None else 0

    def never_uses(self, word: str) -> bool:
        """Whether no chunk holds ``word`` in any form: no term of the index begins with its stem less its last two
        letters (four at least), since the stemmer cuts some forms of one word apart ("autoscale": autoscal,
        "autoscaling": autosc). False when there is no index to ask."""
        searcher = self._searcher
        stems = words.terms([word])[0]
        if not stems or searcher is None:
            return False
        for stem in stems:
            query = tantivy.Query.regex_query(_schema(), "terms", re.escape(stem[: max(4, len(stem) - 2)]) + ".*")
            if searcher.search(query, 1, count=True).count:
                return False
        return True

    def share_mentioning(self, word: str) -> float:
        """The share of the collection's chunks that hold ``word`` (0..1; 0 when there is no index to ask):
        "Python" is in a fifth of a Python site's chunks, "Vue.js" in few."""
        terms = words.terms([word])[0]
        searcher = self._searcher
        if not terms or searcher is None or not searcher.num_docs:
            return 0.0
        return max(searcher.doc_freq("terms", t) for t in terms) / searcher.num_docs

    def _idf(self, term: str) -> float:
        count = self._searcher.num_docs
        df = self._searcher.doc_freq("terms", term)
        return float(math.log(1 + (count - df + 0.5) / (df + 0.5)))

    def embedding(self) -> tuple[int, int] | None:
        """(embedded, to embed) while an ingest embeds chunks this index already holds; None otherwise."""
        return embedding_progress(self.folder)

    def stored(self, ids: Sequence[str]) -> dict[str, tuple[str, dict]]:
        """The text and metadata of indexed chunks, by id (for chunks Chroma does not hold yet)."""
        searcher = self._searcher
        if searcher is None or not ids:
            return {}
        hits = searcher.search(tantivy.Query.term_set_query(_schema(), "id", list(ids)), len(ids), count=False).hits
        found = {}
        for _, address in hits:
            document = searcher.doc(address)
            if document.get_first("chunk") is not None:  # None in indexes written before chunks were stored
                chunk = json.loads(bytes(document.get_first("chunk")))
                found[document.get_first("id")] = (chunk["text"], chunk["meta"])
        return found

    def sources_with_prefix(self, prefix: str) -> list[str]:
        """Distinct sources that start with ``prefix`` (for dense-retrieval filters)."""
        if self._searcher is None:
            return []
        # Counted over live documents: the term dictionary keeps deleted ones' terms until segments merge.
        terms = self._searcher.terms_with_prefix("source", prefix, filter_query=tantivy.Query.all_query())
        return sorted(term for term, count in terms if count > 0)

    def ids(self) -> list[str]:
        """Every indexed chunk id (for checks; reads each stored document)."""
        searcher = self._searcher
        if searcher is None or not searcher.num_docs:
            return []
        hits = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False).hits
        return [searcher.doc(address)["id"][0] for _, address in hits]


def load(folder: Path) -> LexicalIndex | None:
    """Open a saved index, or None if there is none."""
    return LexicalIndex(folder) if (folder / "meta.json").exists() else None


class LexicalIndexCache:
    """One open index per collection for this process, brought up to date at each :meth:`get`."""

    def __init__(self, indexes_dir: Path) -> None:
        self._dir = indexes_dir
        self._cache: dict[str, LexicalIndex] = {}
        self._lock = threading.Lock()

    def get(self, collection: Collection) -> LexicalIndex:
        """The index of ``collection`` at its latest commit; rebuilt first if it does not match the
        collection and no ingest is writing it (an ingest in progress keeps it in step batch by batch)."""
        generation = int((collection.metadata or {}).get("generation", 0))
        folder = index_folder(self._dir, collection.name)
        with self._lock:
            if indexed_generation(folder) != generation:
                # A read-only data dir cannot be rebuilt into: answer from the index as it is.
                with contextlib.suppress(IngestLocked, OSError), ingest_lock(self._dir, collection.name):
                    if indexed_generation(folder) != generation:
                        rebuild(collection, self._dir)
            index = self._cache.get(collection.name)
            if index is None:
                index = self._cache[collection.name] = LexicalIndex(folder)
            else:
                index.refresh()
            return index
