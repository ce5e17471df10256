"""``embed_backend=auto``: time each embedding backend on this CPU once, keep the fastest that stays faithful.

onnx-int8, onnx-fp32 and torch run the same weights at speeds that depend on the CPU (int8 is about 2x torch on
AMD EPYC, barely faster on an Intel Xeon with AMX). The first time a data dir needs an embedder, each backend
embeds the same small sample; the fastest whose vectors stay within cosine ``MIN_COSINE`` of torch's (the
model as shipped) is chosen. The choice and the figures are written to
``<data_dir>/models/<model>/backend-choice.json`` with the CPU they were measured on, and read back while the
CPU is the same. ``docchat settings`` shows them; setting ``DOCCHAT_EMBED_BACKEND`` skips all of this.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from docchat.core.settings import Settings

CHOICE_FILE = "backend-choice.json"
MIN_COSINE = 0.99  # every sample vector of a backend must be at least this close to torch's
SAMPLE_TEXTS = 32
_SAMPLE_SENTENCES = (
    "Web frameworks route requests to handlers and render templates with the data of a database.",
    "A task queue runs slow work, such as sending email or resizing images, outside the request cycle.",
    "Deploying a Python application means choosing a server, a WSGI container and a reverse proxy.",
    "Static site generators turn Markdown files into HTML pages that any web server can host cheaply.",
    "Relational databases keep data in tables; an ORM maps those rows to objects in application code.",
    "Monitoring collects logs, metrics and traces so that errors are found before the users report them.",
)
_CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
_lock = threading.Lock()


@dataclass
class BackendChoice:
    """The backend chosen for this CPU, and what each backend measured."""

    chosen: str
    cpu: str
    measured: str
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # backend -> word_pieces_per_s, min_cosine

    def summary(self) -> str:
        """One line: ``auto: onnx-int8 (onnx-int8 8,900 word-pieces/s, ...; measured ...)``."""
        rates = ", ".join(
            f"{name} {values['word_pieces_per_s']:,.0f} word-pieces/s (cosine to torch ≥ {values['min_cosine']:.4f})"
            for name, values in sorted(self.figures.items(), key=lambda item: -item[1]["word_pieces_per_s"])
        )
        return f"auto: {self.chosen} ({rates}; measured {self.measured} on {self.cpu})"


def cpu_signature() -> str:
    """CPU model and the instruction-set flags that change which backend is fastest."""
    model, flags = "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    present = [flag for flag in _CPU_FLAGS if flag in flags]
    return f"{model}, {os.cpu_count()} cores, {' '.join(present) or 'no AVX2'}"


def choice_path(settings: Settings) -> Path:
    """Where the choice for ``settings.embedding.model`` is recorded."""
    from docchat.components.embedding import folder_name

    return settings.models_dir / folder_name(settings.embedding.model) / CHOICE_FILE


def recorded_choice(settings: Settings) -> BackendChoice | None:
    """The choice recorded for this CPU, if any (None when absent, unreadable or made on another CPU)."""
    try:
        data = json.loads(choice_path(settings).read_text())
        choice = BackendChoice(**data)
    except (OSError, ValueError, TypeError):
        return None
    return choice if choice.cpu == cpu_signature() else None


def choose_backend(settings: Settings) -> BackendChoice:
    """The recorded choice for this CPU, or a new measurement (written to the data dir; seconds)."""
    with _lock:
        choice = recorded_choice(settings)
        if choice is None:
            choice = measure(settings)
            path = choice_path(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text(json.dumps(asdict(choice), indent=2))
            os.replace(scratch, path)
        return choice


def sample_texts(count: int = SAMPLE_TEXTS) -> list[str]:
    """Chunk-sized English texts (about 150-200 word-pieces each), all different."""
    texts = []
    for index in range(count):
        rotated = _SAMPLE_SENTENCES[index % 6 :] + _SAMPLE_SENTENCES[: index % 6]
        texts.append(f"Section {index + 1}. " + " ".join(rotated * 2))
    return texts


def measure(settings: Settings, texts: list[str] | None = None) -> BackendChoice:
    """Embed ``texts`` with every backend (ingest threads), timing the second pass; choose as described above."""
    from docchat.components.embedding import BACKENDS, Embedder

    texts = texts or sample_texts()
    figures: dict[str, dict[str, float]] = {}
    vectors: dict[str, np.ndarray] = {}
    word_pieces = 0  # the same for every backend: one tokenizer
    for backend in BACKENDS:
        embedder = Embedder(
            settings.embedding.model,
            backend,
            settings.models_dir,
            threads=settings.embedding.threads,
            batch_size=settings.embedding.batch_size,
            remember=0,
        )  # fmt: skip  (every text computed)
        word_pieces = word_pieces or sum(len(embedder.count_tokens(text)) for text in texts)
        embedder.embed(texts[:4])  # warm-up: first-call allocations are not the backend's speed
        started = time.perf_counter()
        vectors[backend] = embedder.embed(texts)
        seconds = time.perf_counter() - started
        figures[backend] = {"word_pieces_per_s": round(word_pieces / max(seconds, 1e-9), 1)}
    for backend, values in vectors.items():
        figures[backend]["min_cosine"] = round(float(np.min(np.sum(values * vectors["torch"], axis=1))), 5)
    faithful = [name for name in BACKENDS if figures[name]["min_cosine"] >= MIN_COSINE]
    chosen = max(faithful, key=lambda name: figures[name]["word_pieces_per_s"])
    measured = datetime.now().isoformat(timespec="seconds")
    return BackendChoice(chosen=chosen, cpu=cpu_signature(), measured=measured, figures=figures)
