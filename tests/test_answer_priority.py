"""Answers come first (issue 17): an ingest into the same data dir pauses while a question is answered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from docchat.app.engine import Engine
from docchat.app.schema import Final, Retrieved
from docchat.components.embedding import Embedder
from docchat.core.answer_priority import AnswerGate, answering
from docchat.core.settings import Settings
from docchat.ingest.pipeline import IngestReport, ingest_paths
from tests.conftest import RecordingLLM, fsp_sample

PAGES = ["content/pages/05-deployment/22-wsgi-servers.markdown", "content/pages/05-deployment/23-gunicorn.markdown"]

HOLDER = """
import sys, time
from pathlib import Path
from docchat.core.answer_priority import answering
with answering(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_the_gate_waits_for_answers_in_other_threads_and_at_most_its_limit(tmp_path: Path) -> None:
    assert AnswerGate(tmp_path, most=5).wait() == 0.0  # nobody answers: no wait

    released = threading.Event()

    def answer_for(seconds: float) -> None:
        with answering(tmp_path):
            released.wait(seconds)

    answer = threading.Thread(target=answer_for, args=(0.5,))
    answer.start()
    time.sleep(0.1)
    waited = AnswerGate(tmp_path, most=5).wait()
    answer.join()
    assert 0.3 <= waited < 3

    answer = threading.Thread(target=answer_for, args=(30,))
    answer.start()
    time.sleep(0.1)
    try:
        waited = AnswerGate(tmp_path, most=0.3).wait()  # an endless answer: the ingest goes on after its limit
        assert 0.3 <= waited < 3
        assert AnswerGate(tmp_path, most=0).wait() == 0.0  # pausing switched off
    finally:
        released.set()
        answer.join()


def test_an_answer_in_another_process_pauses_and_a_killed_one_does_not(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert AnswerGate(tmp_path, most=0.3).wait() >= 0.3
        os.kill(holder.pid, signal.SIGKILL)  # a crash releases the lock with the process
        holder.wait(30)
        assert AnswerGate(tmp_path, most=5).wait() == 0.0
    finally:
        holder.kill()
        holder.wait(30)


def test_an_ingest_pauses_while_a_question_is_answered(
    settings: Settings, embedder: Embedder, llm, tmp_path: Path
) -> None:
    root = fsp_sample(tmp_path / "corpus", PAGES)
    reports: list[IngestReport] = []
    ingest = threading.Thread(target=lambda: reports.append(ingest_paths(settings, [root], embedder=embedder)))
    with answering(settings.indexes_dir):  # as Engine.stream does
        ingest.start()
        time.sleep(1.5)
        assert ingest.is_alive() and not reports  # waiting at the gate before the first file
    ingest.join(300)
    assert reports and reports[0].chunks_written > 0
    assert reports[0].paused_seconds >= 1.0
    assert "s paused for questions" in reports[0].summary()

    engine = Engine(settings, embedder=embedder, llm=RecordingLLM(llm))
    stream = engine.stream("What is Green Unicorn?")
    try:
        assert isinstance(next(stream), Retrieved)
        assert AnswerGate(settings.indexes_dir, most=0.2).wait() >= 0.2  # the engine holds the lock meanwhile
        assert any(isinstance(event, Final) for event in stream)
    finally:
        stream.close()
    assert AnswerGate(settings.indexes_dir, most=5).wait() == 0.0  # and lets go once it has answered


def test_a_data_dir_that_cannot_hold_the_lock_still_answers(tmp_path: Path) -> None:
    """A read-only data dir (no ingest can run there either): answering goes on without the lock."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    entered = False
    with answering(blocker / "indexes"):  # its folder cannot be created
        entered = True
    assert entered
