"""What every benchmark shares: the machine line (figures are always quoted with where they ran), and
median / p95."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path


def machine_line() -> str:
    """``N cores, CPU model, RAM, Python`` for the header of a benchmark's output."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {ram:.0f} GiB RAM, Python {platform.python_version()}"


def percentiles(values: list[float]) -> tuple[float, float]:
    """(median, p95) of ``values``."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95
