"""What every benchmark shares: the machine line (figures are always quoted with where they ran), and
median / p95."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from docchat.eval.runner.metrics import percentile


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
    """(median, p95) of ``values``, by the eval's one percentile definition (linear interpolation)."""
    return percentile(values, 50), percentile(values, 95)
