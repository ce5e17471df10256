"""Test-only fault injection for ingest (tests/test_faults.py): SIGKILL this process at a chosen point.

Driven by the ``test_crash_at`` setting (``DOCCHAT_TEST_CRASH_AT``): ``embed:N`` (after the N-th batch is embedded,
before it is written), ``write:N`` (after the N-th batch is written) or ``bm25`` (before the BM25 index is marked
current or rebuilt). Unset, as in all normal use, it does nothing.
"""

from __future__ import annotations

import os
import signal


class CrashPoints:
    """Counts the points an ingest passes and kills the process at the one ``spec`` names."""

    def __init__(self, spec: str | None = None) -> None:
        stage, _, nth = (spec or "").partition(":")
        self._stage, self._nth = stage, int(nth or 1)
        self._passed = 0

    def reached(self, stage: str) -> None:
        """The ingest is at ``stage``: SIGKILL if this is the point asked for."""
        if stage != self._stage:
            return
        self._passed += 1
        if self._passed >= self._nth:
            os.kill(os.getpid(), signal.SIGKILL)
