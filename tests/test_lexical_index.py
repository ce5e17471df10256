"""The BM25 side index (docchat/components/bm25.py, tantivy) is kept in step by ingest, not rebuilt (issue #6).

Real embedded Chroma, the real embedding model and a real tantivy index. ``bm25.rebuild`` is replaced
by a function that fails where a test checks that nothing rebuilt the index: that is the only stand-in.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from docchat.components import bm25
from docchat.components.embedding import Embedder
from docchat.components.store import open_client, open_collection
from docchat.core.lock import ingest_lock
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import FSP, fsp_sample

PAGES = [
    "content/pages/04-web-development/02-django.markdown",
    "content/pages/04-web-development/03-flask.markdown",
    "content/pages/05-deployment/22-wsgi-servers.markdown",
]
ADDED = "content/pages/05-deployment/19-nginx.markdown"


def chroma_ids(settings: Settings, embedder: Embedder) -> set[str]:
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    return set(store.get(include=[])["ids"])


def current_index(settings: Settings, embedder: Embedder) -> bm25.LexicalIndex:
    """The index as a reader gets it, after checking no reader had to rebuild it."""
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    generation = int((store.metadata or {}).get("generation", 0))
    assert bm25.is_current(settings.indexes_dir, settings.store.collection, generation)
    return bm25.LexicalIndexCache(settings.indexes_dir).get(store)


def no_rebuild(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the BM25 index was rebuilt in full")


def test_ingest_updates_the_index_in_place(
    settings: Settings, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fsp_sample(tmp_path / "corpus", PAGES)
    ingest_paths(settings, [root], embedder=embedder)
    before = current_index(settings, embedder)
    assert set(before.ids()) == chroma_ids(settings, embedder)

    monkeypatch.setattr(bm25, "rebuild", no_rebuild)
    (root / ADDED).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FSP / ADDED, root / ADDED)  # a new file
    (root / PAGES[0]).unlink()  # a deleted one
    flask = root / PAGES[1]
    flask.write_text(flask.read_text() + "\n\nZyxwvut is an imaginary Flask extension.\n")  # an edited one
    report = ingest_paths(settings, [root], embedder=embedder)
    assert (report.added, report.updated, report.deleted) == (1, 1, 1)

    index = current_index(settings, embedder)
    ids = index.ids()
    assert len(ids) == len(set(ids)) and set(ids) == chroma_ids(settings, embedder)
    assert set(index.sources_with_prefix("")) == {PAGES[1], PAGES[2], ADDED}
    hit, _ = index.search("zyxwvut extension", 5)[0]
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    assert "Zyxwvut" in store.get(ids=[hit])["documents"][0]
    assert index.search("nginx", 5, index.sources_with_prefix(ADDED))
    # how much of the collection mentions a name: one edited chunk, most of them, none
    assert index.share_mentioning("Zyxwvut") == pytest.approx(1 / len(ids))
    assert index.share_mentioning("Python") > 0.5 and index.share_mentioning("Odoo") == 0.0
    assert not index.search("nginx", 5, index.sources_with_prefix(PAGES[0]))

    # A warm re-run changes nothing, so it does not even open the index for writing.
    state = (bm25.index_folder(settings.indexes_dir, settings.store.collection) / bm25.STATE_FILE).stat().st_mtime_ns
    assert ingest_paths(settings, [root], embedder=embedder).chunks_written == 0
    assert (
        bm25.index_folder(settings.indexes_dir, settings.store.collection) / bm25.STATE_FILE
    ).stat().st_mtime_ns == state


def test_a_reader_rebuilds_a_missing_or_unfinished_index_but_not_one_an_ingest_is_writing(
    settings: Settings, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_paths(settings, [fsp_sample(tmp_path / "corpus", PAGES)], embedder=embedder)
    want = chroma_ids(settings, embedder)
    folder = bm25.index_folder(settings.indexes_dir, settings.store.collection)
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)

    shutil.rmtree(folder)  # deleted by hand
    assert set(bm25.LexicalIndexCache(settings.indexes_dir).get(store).ids()) == want
    assert bm25.is_current(settings.indexes_dir, settings.store.collection, int(store.metadata["generation"]))

    bm25.IndexUpdater(folder)  # marked as being written, as a killed ingest leaves it
    assert bm25.indexed_generation(folder) is None
    rebuild = bm25.rebuild
    with ingest_lock(settings.indexes_dir, settings.store.collection):  # ... by an ingest that is still running
        monkeypatch.setattr(bm25, "rebuild", no_rebuild)
        assert set(bm25.LexicalIndexCache(settings.indexes_dir).get(store).ids()) == want  # used as it is
    monkeypatch.setattr(bm25, "rebuild", rebuild)
    assert set(bm25.LexicalIndexCache(settings.indexes_dir).get(store).ids()) == want  # no ingest: rebuilt
    assert bm25.indexed_generation(folder) == int(store.metadata["generation"])


def test_an_ingest_after_a_stale_index_rebuilds_it_once(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    root = fsp_sample(tmp_path / "corpus", PAGES)
    ingest_paths(settings, [root], embedder=embedder)
    folder = bm25.index_folder(settings.indexes_dir, settings.store.collection)
    bm25.IndexUpdater(folder).delete(["not-written-but-marked-unfinished"])
    (root / ADDED).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FSP / ADDED, root / ADDED)
    ingest_paths(settings, [root], embedder=embedder)
    assert set(current_index(settings, embedder).ids()) == chroma_ids(settings, embedder)


def test_an_index_written_with_older_terms_is_rebuilt(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    ingest_paths(settings, [fsp_sample(tmp_path / "corpus", PAGES)], embedder=embedder)
    folder = bm25.index_folder(settings.indexes_dir, settings.store.collection)
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    generation = int(store.metadata["generation"])
    state = folder / bm25.STATE_FILE
    state.write_text(json.dumps({"generation": generation}))  # as indexes before INDEX_FORMAT was recorded
    assert bm25.indexed_generation(folder) is None
    assert set(bm25.LexicalIndexCache(settings.indexes_dir).get(store).ids()) == chroma_ids(settings, embedder)
    assert json.loads(state.read_text()) == {"generation": generation, "format": bm25.INDEX_FORMAT}


def test_a_word_is_used_in_any_of_its_forms(tmp_path: Path) -> None:
    """The index tells a word the collection never uses ("guitar") from one it uses in another form, which the
    stemmer may cut apart ("autoscale" is stemmed autoscal, "autoscaling" autosc): what docchat's refusal of answers
    about a topic the documents never mention asks (``app/citations.py``, ``unmentioned_terms``)."""
    folder = tmp_path / "index.tantivy"
    updater = bm25.IndexUpdater(folder, reset=True)
    texts = ["Autoscaling adds servers under load.", "Learning to program is like playing a computer game."]
    updater.add(["a", "b"], [{"source": "a.md"}, {"source": "b.md"}], texts)
    updater.commit()
    updater.finish(1)
    index = bm25.LexicalIndex(folder)
    assert index.chunks == 2
    assert not index.never_uses("autoscale") and not index.never_uses("games") and not index.never_uses("Learn")
    assert index.never_uses("guitar") and index.never_uses("pizza")
    assert index.never_mentions("autoscale")  # the exact stem: not there


def test_a_phrase_is_told_from_its_words(tmp_path: Path) -> None:
    """The index tells a name of several words the collection never writes ("Global Interpreter Lock") from one it
    writes, in any case, with other punctuation, joined ("PEP8" for "PEP 8"), in the plural, or only in a page's
    title: what docchat's refusal of questions about such a name asks (``app/citations.py``,
    ``unmentioned_phrases``)."""
    folder = tmp_path / "index.tantivy"
    updater = bm25.IndexUpdater(folder, reset=True)
    texts = [
        "A global lock guards the interpreter state.",
        "Follow PEP8 and the REST-API endpoints guide.",
        "It lists the panels and their settings.",
    ]
    metas = [{"source": "a.md"}, {"source": "b.md"}, {"source": "c.md", "title": "Django Debug Toolbar"}]
    updater.add(["a", "b", "c"], metas, texts)
    updater.commit()
    updater.finish(1)
    index = bm25.LexicalIndex(folder)
    assert index.never_mentions_phrase("Global Interpreter Lock")  # every word is there, not in this order
    assert index.never_mentions_phrase("PEP 703") and index.never_mentions_phrase("Django Admin")
    assert not index.never_mentions_phrase("PEP 8") and not index.never_mentions_phrase("REST APIs")
    assert not index.never_mentions_phrase("global lock") and not index.never_mentions_phrase("Django Debug Toolbar")
