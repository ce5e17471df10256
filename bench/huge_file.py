"""Peak memory of ingesting one huge single-line text file (no newline, no sentence end).

    .venv/bin/python bench/huge_file.py              # the benchmark: 5 MB and 50 MB files, peak RSS and ratio
    .venv/bin/python bench/huge_file.py ROOT DATA    # ingest ROOT into DATA once, print one JSON line

Each ingest runs in its own process, so its ``ru_maxrss`` is its own peak. The embedder is a stand-in:
the real word-piece tokenizer (chunk sizes are exact) and random unit vectors. 50k chunks would take the
real model ~10 minutes to embed, and embedding memory is not what this measures (it is bounded by the
batch size). tests/test_hostile_input.py runs the same script to check what gets stored.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
WORDS = ["flask", "django", "request", "response", "server", "deploy", "python", "database", "query", "cache",
         "template", "static"]  # fmt: skip


def write_single_line(path: Path, megabytes: float, seed: int = 50) -> None:
    """A file of ``megabytes`` of random words and spaces: no newline, no sentence end."""
    rng = random.Random(seed)
    size = int(megabytes * 2**20)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        written = 0
        while written < size:
            piece = (" ".join(rng.choices(WORDS, k=20_000)) + " ")[: size - written]
            handle.write(piece)
            written += len(piece)


class StandInEmbedder:
    """The real MiniLM tokenizer and random unit vectors (see the module docstring)."""

    name, backend, dimension, max_tokens, batch_size = "stub-random-384", "stub", 384, 256, 64
    model_seconds, repeated = 0.0, 0  # the counters ingest reads from an Embedder

    def __init__(self) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        from docchat.components.embedding import resolve_model_path

        self._np = np
        self._tokenizer = Tokenizer.from_file(str(resolve_model_path("all-MiniLM-L6-v2") / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._rng = np.random.default_rng(0)

    def count_tokens(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def embed(self, texts: list[str]):
        vectors = self._rng.normal(size=(len(texts), 384)).astype(self._np.float32)
        return vectors / self._np.linalg.norm(vectors, axis=1, keepdims=True)


def ingest_once(root: Path, data_dir: Path) -> dict:
    """Ingest ``root`` into ``data_dir``; what was stored, the time and this process's peak RSS."""
    sys.path.insert(0, str(REPO))
    import docchat  # noqa: F401  (offline, no-telemetry environment first)
    from docchat.components.store import open_client
    from docchat.core.settings import Settings
    from docchat.ingest.pipeline import ingest_paths

    settings = Settings(data_dir=data_dir)
    started = time.perf_counter()
    report = ingest_paths(settings, [root], embedder=StandInEmbedder())
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    collection = open_client(settings).get_collection(settings.store.collection)
    sources: dict[str, int] = {}
    longest = offset = 0
    while True:  # a page at a time: one get of ~50k rows exceeds SQLite's variable limit
        rows = collection.get(include=["metadatas", "documents"], limit=5000, offset=offset)
        for meta, text in zip(rows["metadatas"], rows["documents"], strict=True):
            sources[meta["source"]] = sources.get(meta["source"], 0) + 1
            longest = max(longest, len(text))
        if len(rows["ids"]) < 5000:
            break
        offset += 5000
    return {"seconds": seconds, "peak_rss_mb": peak, "skipped": report.skipped, "chunks": sources,
            "longest_chunk": longest}  # fmt: skip


def run_child(root: Path, data_dir: Path) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), str(root), str(data_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench() -> None:
    sys.path.insert(0, str(REPO))
    from bench.machine import machine_line

    print(f"# {machine_line()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'file':>8} {'chunks':>8} {'seconds':>8} {'peak RSS MB':>12}")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for megabytes in (5, 50):
            root = Path(scratch) / f"root-{megabytes}"
            write_single_line(root / "single-line.txt", megabytes - 0.1)
            result = run_child(root, Path(scratch) / f"data-{megabytes}")
            results[megabytes] = result
            print(f"{megabytes:>6}MB {result['chunks']['single-line.txt']:>8,} {result['seconds']:>8.0f} "
                  f"{result['peak_rss_mb']:>12,.0f}")  # fmt: skip
    ratio = results[50]["peak_rss_mb"] / results[5]["peak_rss_mb"]
    print(f"peak RSS 50 MB / 5 MB: {ratio:.1f}x for 10x the text (flat would be ~1x)")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(ingest_once(Path(sys.argv[1]), Path(sys.argv[2]))))
    else:
        bench()
