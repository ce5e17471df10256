"""Scale: docchat's store, BM25 side index and hybrid retrieval at 10k, 100k and 1M chunks (issue #6).

Grows one collection to each size with synthetic chunks in docchat's metadata shape (source, title,
heading, start_line, end_line, root, file_hash, chunk_count, chunk_index, span_unit, format): texts are
sentences sampled from the Full Stack Python corpus; vectors are real embeddings of a pool of such texts
plus noise (clustered like real data; embedding cost is not what is measured). At each size it prints:

- add: chunks/s of ``collection.add`` in max-batch pieces (for the chunks added since the last size);
- the whole-collection scans an ingest makes: ``iter_rows`` of every row's metadata (ingest counts
  documents with it at the end of every run) and of one root (ingest start), and ``list_collections``;
- BM25: a full ``docchat.components.bm25.rebuild`` of the tantivy side index from the stored chunks, in a fresh
  process (what repairing an index left unfinished by a killed ingest costs): seconds, peak RSS, size
  on disk. Ingest itself never does this on a healthy index: it updates the index in place;
- a fresh reader process (like the UI): time to open the store and the BM25 index, RSS after
  loading, then 50 real questions (real query embeddings): median and p95 of dense (Chroma query),
  BM25 search and fused (``docchat.app.retrieve.hybrid_search``) latency, and the first (cold) fused query;
- an incremental ``ingest_paths`` of 3 small files (new, or changed since the last run) into the big
  collection, in a fresh process: seconds, stages and peak RSS (what adding a file costs at that size);
- disk size of the data dir.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--data-dir bench/out/scale] [--fresh]

Timings mean something only on a quiet machine (the header prints the load average).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docchat  # noqa: E402,F401  (offline, no-telemetry environment first)
from bench.machine import machine_line, percentiles  # noqa: E402

FSP = REPO.parent / "shared" / "corpora" / "fullstackpython"
COLLECTION = "scale"
ROOT = "/bench/synthetic"  # every synthetic chunk's root: one big corpus folder
CHUNKS_PER_DOC = 20
POOL = 512  # real embeddings the synthetic vectors are drawn around
NOISE = 0.5  # noise norm relative to the unit pool vector: cosine to its pool vector ~0.9
TARGET_FUSED_MS = 300.0
SEED = 6


# -- synthetic data ---------------------------------------------------------------------------------------


def corpus_text() -> tuple[list[str], list[str], list[str]]:
    """Sentences, page titles and headings of the Full Stack Python corpus."""
    sentences: list[str] = []
    titles: list[str] = []
    headings: list[str] = []
    for path in sorted(FSP.rglob("*.markdown")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.lower().startswith("title:"):
                titles.append(line.split(":", 1)[1].strip())
            elif line.startswith("#"):
                headings.append(line.lstrip("#").strip())
        prose = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(prose.split())):
            if 30 <= len(sentence) <= 300 and not sentence.startswith(("title:", "#", "<", "```")):
                sentences.append(sentence)
    return sentences, [t for t in titles if t] or ["Untitled"], [h for h in headings if h] or [""]


class Synthetic:
    """Deterministic synthetic chunk ``i``: text, metadata, id, vector."""

    def __init__(self, sentences: list[str], titles: list[str], headings: list[str], pool):
        import numpy as np

        self.sentences, self.titles, self.headings, self.pool = sentences, titles, headings, pool
        self.np = np

    def text(self, rng: random.Random) -> str:
        parts, size = [], 0
        while size < 700:  # ~150-200 word-pieces, like docchat's 200-piece chunks
            sentence = rng.choice(self.sentences)
            parts.append(sentence)
            size += len(sentence) + 1
        return " ".join(parts)

    def batch(self, start: int, stop: int) -> dict:
        np = self.np
        rng = random.Random(SEED * 1_000_003 + start)
        ids, documents, metadatas = [], [], []
        for i in range(start, stop):
            doc, index = divmod(i, CHUNKS_PER_DOC)
            source = f"synthetic/{doc // 1000:04d}/doc-{doc:07d}.md"
            ids.append(hashlib.sha256(f"{source}\0{i}".encode()).hexdigest()[:32])
            documents.append(self.text(rng))
            metadatas.append({
                "source": source, "title": self.titles[doc % len(self.titles)],
                "heading": self.headings[(doc * 7 + index // 4) % len(self.headings)],
                "start_line": index * 10 + 1, "end_line": index * 10 + 9, "chunk_index": index,
                "chunk_count": CHUNKS_PER_DOC, "span_unit": "line", "format": "markdown", "root": ROOT,
                "file_hash": hashlib.sha256(source.encode()).hexdigest()[:32],
            })  # fmt: skip
        generator = np.random.default_rng(SEED + start)
        base = self.pool[generator.integers(0, len(self.pool), stop - start)]
        noise = generator.normal(size=base.shape).astype(np.float32) * (NOISE / np.sqrt(base.shape[1]))
        vectors = base + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return {"ids": ids, "documents": documents, "metadatas": metadatas, "embeddings": vectors}


def pool_vectors(data_dir: Path, embedder, synthetic: Synthetic):
    """Real embeddings of POOL synthetic texts, cached in the data dir."""
    import numpy as np

    cache = data_dir / f"pool-{POOL}.npy"
    if cache.exists():
        return np.load(cache)
    rng = random.Random(SEED)
    vectors = embedder.embed([synthetic.text(rng) for _ in range(POOL)])
    data_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def questions(count: int) -> list[str]:
    sets = [REPO / "eval/sets/fullstackpython.jsonl", REPO / "eval/sets/seed.jsonl"]
    items = [json.loads(line) for path in sets for line in path.read_text().splitlines() if line.strip()]
    return [item["question"] for item in items][:count]


# -- measurements -----------------------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """This process's resident set size now."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would carry over the bench parent's peak across exec)."""
    return _status_mb("VmHWM")


def disk_mb(path: Path) -> float:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed meanwhile
                total += os.stat(os.path.join(folder, name)).st_blocks * 512
    return total / 2**20


def count_rows(iter_rows, collection, where: dict | None) -> int:
    return sum(1 for _ in iter_rows(collection, where=where))


def timed(function, *args, **kwargs) -> tuple[object, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def probe(data_dir: Path, collection_name: str, queries_file: Path) -> dict:
    """In a fresh process: load the store and the BM25 index as a reader would, then time retrieval."""
    import numpy as np

    from docchat.app.retrieve import hybrid_search
    from docchat.components.bm25 import LexicalIndexCache
    from docchat.components.store import open_client
    from docchat.core.settings import Settings

    payload = json.loads(queries_file.read_text())
    texts, vectors = payload["questions"], np.asarray(payload["vectors"], dtype=np.float32)
    settings = Settings(data_dir=data_dir, collection=collection_name)
    baseline = rss_mb()
    started = time.perf_counter()
    collection = open_client(settings).get_collection(collection_name)
    opened = time.perf_counter() - started
    lexical, load_bm25 = timed(LexicalIndexCache(settings.indexes_dir).get, collection)
    rebuilt = lexical.generation != int((collection.metadata or {}).get("generation", 0))
    _, first_fused = timed(hybrid_search, collection, lexical, texts[0], vectors[0], candidates=30, limit=15)
    loaded_rss = rss_mb()
    dense, lex, fused, count = [], [], [], []
    for text, vector in zip(texts, vectors, strict=True):
        _, seconds = timed(collection.query, query_embeddings=[vector.tolist()], n_results=30,
                           include=["documents", "metadatas", "distances"])  # fmt: skip
        dense.append(seconds)
        _, seconds = timed(lexical.search, text, 30)
        lex.append(seconds)
        _, seconds = timed(hybrid_search, collection, lexical, text, vector, candidates=30, limit=15)
        fused.append(seconds)
        _, seconds = timed(collection.count)
        count.append(seconds)
    return {
        "open_s": opened, "load_bm25_s": load_bm25, "bm25_rebuilt_by_reader": rebuilt,
        "rss_peak_mb": peak_rss_mb(),
        "first_fused_s": first_fused, "rss_baseline_mb": baseline, "rss_loaded_mb": loaded_rss,
        "rss_after_queries_mb": rss_mb(), "dense": percentiles(dense), "bm25": percentiles(lex),
        "fused": percentiles(fused), "count": percentiles(count),
    }  # fmt: skip


def rebuild_index(data_dir: Path) -> dict:
    """In a fresh process: rebuild the collection's BM25 index from its chunks."""
    from docchat.components import bm25
    from docchat.components.store import open_client
    from docchat.core.settings import Settings

    settings = Settings(data_dir=data_dir, collection=COLLECTION)
    collection = open_client(settings).get_collection(COLLECTION)
    baseline = peak_rss_mb()
    _, seconds = timed(bm25.rebuild, collection, settings.indexes_dir)
    folder = bm25.index_folder(settings.indexes_dir, COLLECTION)
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": baseline, "disk_mb": disk_mb(folder)}


def ingest_small(data_dir: Path, root: Path) -> dict:
    """In a fresh process: ``ingest_paths`` of a small folder into the big collection."""
    from docchat.components.embedding import make_embedder
    from docchat.core.settings import Settings
    from docchat.ingest.pipeline import ingest_paths

    settings = Settings(data_dir=data_dir, collection=COLLECTION)
    embedder = make_embedder(settings)
    stages: dict[str, float] = {}
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        stages.setdefault(stage, time.perf_counter() - started)

    baseline = peak_rss_mb()
    report, seconds = timed(ingest_paths, settings, [root], embedder=embedder, progress=progress)
    return {"seconds": seconds, "stages": stages, "chunks": report.chunks_written, "files": report.added +
            report.updated, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": baseline}  # fmt: skip


def in_fresh_process(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True, text=True, cwd=REPO, timeout=7200,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def small_folder(base: Path, size: int) -> Path:
    """Three small Markdown files (a folder per size), each with a line unique to this run: new or changed."""
    root = base / f"incremental-{size}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    pages = sorted(FSP.rglob("*.markdown"))[:3]
    for number, page in enumerate(pages):
        text = page.read_text(encoding="utf-8") + f"\n\nBench run {time.time_ns()}.\n"
        (root / f"new-{number}.markdown").write_text(text, encoding="utf-8")
    return root


def grow(collection, synthetic: Synthetic, target: int, max_batch: int) -> tuple[int, float]:
    """Add chunks until the collection holds ``target`` synthetic ones; (chunks added, seconds in add)."""
    from docchat.components.store import update_metadata

    start = collection.count()
    spent = 0.0
    for begin in range(start, target, max_batch):
        batch = synthetic.batch(begin, min(target, begin + max_batch))
        _, seconds = timed(collection.add, **batch)
        spent += seconds
        print(f"  add {begin + len(batch['ids']):>9,} / {target:,}  ({len(batch['ids']) / seconds:,.0f} chunks/s)",
              end="\r", file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)
    update_metadata(collection, generation=time.time_ns(), documents=target // CHUNKS_PER_DOC)
    return target - start, spent


def measure(args: argparse.Namespace) -> None:
    from docchat.components.embedding import make_embedder
    from docchat.components.store import iter_rows, list_collections, open_client, open_collection
    from docchat.core.settings import Settings

    data_dir = args.data_dir.resolve()
    if args.fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
    load = os.getloadavg()
    print(f"# docchat scale bench: {machine_line()}")
    print(f"# load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (noisy above ~2.5); data dir {data_dir}")
    settings = Settings(data_dir=data_dir, collection=COLLECTION)
    embedder = make_embedder(settings)
    sentences, titles, headings = corpus_text()
    synthetic = Synthetic(sentences, titles, headings, None)
    synthetic.pool = pool_vectors(data_dir, embedder, synthetic)
    qs = questions(args.queries)
    queries_file = data_dir / "queries.json"
    queries_file.write_text(json.dumps({"questions": qs, "vectors": embedder.embed(qs).tolist()}))
    print(f"# {len(sentences):,} corpus sentences, {POOL} pool embeddings, {len(qs)} questions")

    client = open_client(settings)
    collection = open_collection(client, COLLECTION, embedder.name, embedder.dimension, create=True)
    max_batch = client.get_max_batch_size()
    rows = []
    for size in args.sizes:
        print(f"== {size:,} chunks", flush=True)
        added, add_s = grow(collection, synthetic, size, max_batch)
        row: dict = {"size": collection.count(), "added": added, "add_per_s": added / add_s if add_s else None}
        _, row["scan_all_s"] = timed(count_rows, iter_rows, collection, None)
        _, row["scan_root_s"] = timed(count_rows, iter_rows, collection, {"root": ROOT})
        _, row["list_collections_s"] = timed(list_collections, client)
        row |= {f"rebuild_{k}": v for k, v in in_fresh_process("--rebuild-index", "--data-dir", str(data_dir)).items()}
        probe_args = ("--probe", "--data-dir", str(data_dir), "--queries-file", str(queries_file))
        row |= {f"probe_{k}": v for k, v in in_fresh_process(*probe_args).items()}
        ingest_args = ("--ingest", str(small_folder(data_dir, size)), "--data-dir", str(data_dir))
        row |= {f"ingest_{k}": v for k, v in in_fresh_process(*ingest_args).items()}
        row["disk_mb"] = disk_mb(data_dir)
        rows.append(row)
        print_row(row)
        (data_dir / "scale.json").write_text(json.dumps(rows, indent=2, default=float))
        collection = client.get_collection(COLLECTION)
    print_table(rows)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if seconds < 10 else f"{seconds * 1000:,.0f}"


def print_row(row: dict) -> None:
    dense, lex, fused = row["probe_dense"], row["probe_bm25"], row["probe_fused"]
    print(
        f"  add {row['add_per_s'] or 0:,.0f} chunks/s | scan all rows {row['scan_all_s']:.1f} s, one root "
        f"{row['scan_root_s']:.1f} s, list_collections {row['list_collections_s'] * 1000:.0f} ms | BM25 full "
        f"rebuild {row['rebuild_seconds']:.1f} s, peak RSS {row['rebuild_peak_rss_mb']:,.0f} MB, "
        f"{row['rebuild_disk_mb']:.0f} MB on disk\n"
        f"  reader: open {row['probe_open_s']:.1f} s, load BM25 {row['probe_load_bm25_s']:.1f} s, first fused "
        f"{row['probe_first_fused_s']:.1f} s, RSS loaded {row['probe_rss_loaded_mb']:.0f} MB | median/p95 ms: "
        f"dense {ms(dense[0])}/{ms(dense[1])}, BM25 {ms(lex[0])}/{ms(lex[1])}, fused {ms(fused[0])}/{ms(fused[1])} "
        f"(count() {ms(row['probe_count'][0])})\n"
        f"  incremental ingest of {row['ingest_files']} files ({row['ingest_chunks']} chunks): "
        f"{row['ingest_seconds']:.1f} s, peak RSS {row['ingest_peak_rss_mb']:,.0f} MB (stages at "
        f"{row['ingest_stages']}) | disk {row['disk_mb']:,.0f} MB",
        flush=True,
    )


def print_table(rows: list[dict]) -> None:
    header = ["chunks", "add chunks/s", "BM25 rebuild s / MB", "dense med/p95 ms", "BM25 med/p95 ms",
              "fused med/p95 ms", "reader load s", "reader RSS MB", "scan all rows s", "+3 files ingest s / MB",
              "disk MB"]  # fmt: skip
    print("\n| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        load = row["probe_open_s"] + row["probe_load_bm25_s"] + row["probe_first_fused_s"]
        cells = [
            f"{row['size']:,}", f"{row['add_per_s'] or 0:,.0f}",
            f"{row['rebuild_seconds']:.1f} / {row['rebuild_peak_rss_mb']:,.0f}",
            "/".join(ms(v) for v in row["probe_dense"]), "/".join(ms(v) for v in row["probe_bm25"]),
            "/".join(ms(v) for v in row["probe_fused"]), f"{load:.1f}", f"{row['probe_rss_loaded_mb']:,.0f}",
            f"{row['scan_all_s']:.1f}", f"{row['ingest_seconds']:.1f} / {row['ingest_peak_rss_mb']:,.0f}",
            f"{row['disk_mb']:,.0f}",
        ]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    fused = rows[-1]["probe_fused"][0] * 1000
    verdict = "meets" if fused < TARGET_FUSED_MS else "misses"
    size = rows[-1]["size"]
    print(f"\nfused median at {size:,} chunks: {fused:.0f} ms ({verdict} the {TARGET_FUSED_MS:.0f} ms target)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="Comma-separated collection sizes.")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench" / "out" / "scale")
    parser.add_argument("--queries", type=int, default=50, help="Questions timed at each size.")
    parser.add_argument("--fresh", action="store_true", help="Delete the data dir first.")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rebuild-index", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ingest", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.data_dir, COLLECTION, args.queries_file)))
        return
    if args.rebuild_index:
        print(json.dumps(rebuild_index(args.data_dir)))
        return
    if args.ingest:
        print(json.dumps(ingest_small(args.data_dir, args.ingest)))
        return
    args.sizes = sorted(int(size.replace("_", "")) for size in args.sizes.split(","))
    measure(args)


if __name__ == "__main__":
    main()
