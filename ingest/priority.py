"""An ingest yields the CPU to questions: it runs at a lower priority (Unix nice) than answering."""

from __future__ import annotations

import contextlib
import os


def lower_priority(increment: int) -> None:
    """Lower the calling thread's CPU priority by ``increment`` (on Linux nice is per thread, and threads it
    starts inherit it). Alone, a low-priority ingest runs at full speed; next to a question it gives way."""
    if increment > 0:
        with contextlib.suppress(OSError):  # a platform without nice: run at normal priority
            os.nice(increment)
