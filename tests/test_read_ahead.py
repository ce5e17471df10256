"""Answering while an ingest embeds (issue 17): a cold ingest indexes every chunk for BM25 before it
embeds, and questions asked meanwhile find the chunks Chroma does not hold yet, saying so."""

from __future__ import annotations

import threading
from pathlib import Path

from docchat.app.engine import Engine
from docchat.components import bm25
from docchat.components.embedding import Embedder
from docchat.core.settings import Settings
from docchat.ingest.pipeline import IngestReport, ingest_paths
from tests.conftest import GatedEmbedder, RecordingLLM, fsp_sample

PAGES = [
    "content/pages/04-web-development/02-django.markdown",
    "content/pages/04-web-development/03-flask.markdown",
    "content/pages/05-deployment/22-wsgi-servers.markdown",
]
QUESTION = "Which WSGI servers does the page list, such as Green Unicorn?"


def test_questions_during_a_cold_ingest_use_every_chunk_read(
    settings: Settings, embedder: Embedder, llm, tmp_path: Path
) -> None:
    root = fsp_sample(tmp_path / "corpus", PAGES)
    gated = GatedEmbedder(embedder)
    reports: list[IngestReport] = []
    ingest = threading.Thread(target=lambda: reports.append(ingest_paths(settings, [root], embedder=gated)))
    ingest.start()
    try:
        assert gated.waiting.wait(300), "the ingest never started embedding"
        engine = Engine(settings, embedder=embedder, llm=RecordingLLM(llm))
        assert engine.collection().count() == 0  # nothing is embedded yet ...
        folder = bm25.index_folder(settings.indexes_dir, settings.store.collection)
        indexed = bm25.LexicalIndex(folder).ids()
        assert len(indexed) > 20 and bm25.embedding_progress(folder) == (0, len(indexed))  # ... but all is indexed

        passages = engine.retrieve(QUESTION)
        assert passages[0].source == PAGES[2] and "Green Unicorn" in passages[0].text
        assert all(p.similarity > 0 for p in passages)  # scored against the question by embedding them now
        answer = engine.ask(QUESTION)
        assert answer.retrieved and not answer.abstained
        assert answer.notice.startswith("This collection is still being ingested (0 of the ")
    finally:
        gated.gate.set()
        ingest.join(300)
    assert reports and reports[0].chunks_written == len(indexed)

    answer = Engine(settings, embedder=embedder, llm=RecordingLLM(llm)).ask(QUESTION)
    assert "still being ingested" not in answer.notice
    assert bm25.embedding_progress(bm25.index_folder(settings.indexes_dir, settings.store.collection)) is None


def test_progress_is_recorded_batch_by_batch(tmp_path: Path) -> None:
    folder = tmp_path / "c.tantivy"
    updater = bm25.IndexUpdater(folder)
    updater.add(["a"], [{"source": "x.md"}], ["some text"])
    updater.commit()
    assert bm25.embedding_progress(folder) is None  # indexed, embedding not started
    updater.embedding(256, 1000)
    assert bm25.LexicalIndex(folder).embedding() == (256, 1000)
    updater.finish(7)
    assert bm25.embedding_progress(folder) is None and bm25.indexed_generation(folder) == 7
