"""The UI's ingests run in a background thread, so the chat stays usable while files are embedded.

One ingest at a time per data dir, shared by the server's sessions (they share the ingest embedder).
A collection answers during its ingest: every file is indexed for keyword search before it is embedded.
The page polls the job (a fragment that reruns every second) and shows its progress, then its result.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from docchat.app import workspace
from docchat.components.embedding import Embedder
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings
from docchat.ingest.priority import lower_priority

log = logging.getLogger(__name__)
STAGES = {"files": "Reading files", "chunks": "Embedding chunks", "bm25": "Updating the keyword index"}


@dataclass
class IngestJob:
    """One running (or finished) ingest: where it is, then what it did (``result``)."""

    collection: str
    rejected: list[str] = field(default_factory=list)  # uploads refused before the ingest, shown with its result
    stage: str = "Starting"
    done: int = 0
    total: int = 0
    result: dict | None = None  # {"summary", "skipped", "rejected"} or {"error", "rejected"}, once finished

    def progress(self, stage: str, done: int, total: int) -> None:
        """The ingest's progress callback (called from its thread)."""
        self.stage, self.done, self.total = STAGES.get(stage, stage), done, total

    @property
    def fraction(self) -> float:
        """How far the current stage is, 0..1."""
        return min(self.done / self.total, 1.0) if self.total else 0.0

    @property
    def label(self) -> str:
        """The progress bar's text."""
        return f"{self.stage}: {self.done:,}/{self.total:,}" if self.total else f"{self.stage}…"


_jobs: dict[str, IngestJob] = {}  # data dir -> its latest job
_lock = threading.Lock()


def start(settings: Settings, collection: str, path: str, embedder: Embedder, rejected: list[str]) -> IngestJob:
    """Check the path and the collection name, then ingest in a background thread; DocchatError if
    either is wrong or another ingest of this data dir is still running."""
    target = workspace.ingest_target(path)
    workspace.with_collection(settings, collection)  # a bad name is refused now, not from the thread
    key = str(settings.store.data_dir)
    with _lock:
        running = _jobs.get(key)
        if running is not None and running.result is None:
            raise DocchatError(
                f"An ingest into {running.collection!r} is still running ({running.label}); add more when it ends."
            )
        job = _jobs[key] = IngestJob(collection, rejected)
    thread = threading.Thread(target=_run, args=(job, settings, target, embedder), name="docchat-ingest", daemon=True)
    thread.start()
    return job


def _run(job: IngestJob, settings: Settings, target: object, embedder: Embedder) -> None:
    lower_priority(settings.ingest.nice)  # this thread only: the page keeps answering at full speed
    try:
        report = workspace.ingest_into(settings, job.collection, str(target), embedder=embedder, progress=job.progress)
    except DocchatError as error:
        job.result = {"error": str(error), "rejected": job.rejected}
    except Exception as error:  # the page shows one line; the log has the traceback
        log.exception("ingesting %s failed", target)
        job.result = {"error": f"Ingest failed ({type(error).__name__}); the server log has the details.",
                      "rejected": job.rejected}  # fmt: skip
    else:
        job.result = {"summary": report.summary(), "rejected": job.rejected, "skipped": report.skipped}
