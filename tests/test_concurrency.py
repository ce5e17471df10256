"""Several users at once: concurrent questions on one engine, concurrent ingests, ingest while answering.

Real store, real MiniLM, real SmolLM2 (llama.cpp serialises generation with a lock: one model object,
one answer at a time; retrieval and citation checks run in parallel).
"""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from docchat.app.engine import Engine
from docchat.core.errors import IngestLocked
from docchat.core.lock import ingest_lock
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, isolated_settings

QUESTIONS = {
    "Which government agency built Collab?": "Government agencies",
    "What does Netflix use Python for?": "Large tech companies",
    "How much of YouTube's code is written in Python?": "YouTube",
    "What is Odoo?": "Business Applications",
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Settings, Path]:
    root = tmp_path_factory.mktemp("conc")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = isolated_settings(root / "data")
    ingest_paths(settings, [corpus], embedder=embedder)
    return settings, corpus


def test_four_concurrent_questions_each_get_their_own_complete_answer(shared, embedder, llm) -> None:
    settings, _ = shared
    engine = Engine(settings, embedder=embedder, llm=llm)
    barrier = threading.Barrier(len(QUESTIONS))

    def ask(question: str):
        barrier.wait()  # all four start together
        return engine.ask(question)

    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        answers = dict(zip(QUESTIONS, pool.map(ask, QUESTIONS), strict=True))
    for question, answer in answers.items():
        assert answer.question == question
        assert not answer.abstained
        assert answer.answer.strip()
        assert QUESTIONS[question] in answer.retrieved[0].heading, (question, answer.retrieved[0].heading)
        assert answer.citations, question
        for citation in answer.citations:  # every citation belongs to this answer's own passages
            assert citation.passage in {p.text for p in answer.retrieved}
            assert citation.quote.strip("“”") in citation.passage
        assert {"retrieve", "total"} <= set(answer.timings)


def test_second_ingest_into_the_same_collection_is_refused_while_one_runs(shared, embedder) -> None:
    settings, corpus = shared
    # hold the lock as a running ingest does
    with (
        ingest_lock(settings.indexes_dir, settings.store.collection),
        pytest.raises(IngestLocked, match="already running"),
    ):
        ingest_paths(settings, [corpus], embedder=embedder)
    report = ingest_paths(settings, [corpus], embedder=embedder)  # free again: works, nothing to do
    assert report.chunks_written == 0 and report.unchanged == 1


def test_two_ingests_at_once_leave_no_duplicates(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "extra.md").write_text("# Extra\n\nSanic is a Python web framework built on uvloop.\n")
    settings = isolated_settings(tmp_path / "data")
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(ingest_paths(settings, [corpus], embedder=embedder))
        except IngestLocked as error:
            outcomes.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any(not isinstance(o, IngestLocked) for o in outcomes)
    clean = isolated_settings(tmp_path / "clean")
    ingest_paths(clean, [corpus], embedder=embedder)
    engine, reference = Engine(settings, embedder=embedder), Engine(clean, embedder=embedder)
    ids = engine.collection().get(include=[])["ids"]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(reference.collection().get(include=[])["ids"])


def test_new_chunks_are_seen_on_the_next_question(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = isolated_settings(tmp_path / "data")
    ingest_paths(settings, [corpus], embedder=embedder)
    engine = Engine(settings, embedder=embedder)  # a long-lived engine, as in the UI
    question = "Which framework is built on uvloop for fast HTTP responses?"
    assert all(p.source != "sanic.md" for p in engine.retrieve(question))
    (corpus / "sanic.md").write_text(
        "# Sanic\n\nSanic is a Python web framework built on uvloop and designed for fast HTTP responses "
        "via asynchronous request handling.\n"
    )
    ingest_paths(settings, [corpus], embedder=embedder)  # as another process would, while the UI runs
    passages = engine.retrieve(question)
    assert passages[0].source == "sanic.md"
    assert passages[0].bm25_rank == 1  # the BM25 side index was refreshed too, not only Chroma
