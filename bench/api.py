"""API under concurrent clients: 1, 4 and 8 threads, each with the official openai client, against ``docchat serve``.

The server runs in its own process (``python -m docchat.cli.main serve`` on a free loopback port, with a random key)
over the Full Stack Python corpus ingested into ``bench/out/data``, collection ``bench-fsp`` (the store
bench/query.py uses; reused when present, only changes are ingested). Every client asks the same answerable
questions of eval/sets/fullstackpython.jsonl (10 by default), streamed, each client starting at a different
question, so concurrent requests ask different things. Per answer: time to the first token and to ``[DONE]``.
The 1-client run is the baseline, in the same run and against the same server.

Every answer is checked to belong to its own question: its last chunk's ``standalone_question`` must be the
question sent (no history, so it is never rewritten), its ``retrieved`` passages (retrieval is deterministic) the
ones the 1-client run got for that question, and each of its citations must name one of its own passages.

    .venv/bin/python bench/api.py [--corpus PATH] [--questions 10] [--clients 1,4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docchat  # noqa: E402,F401  (offline, no-telemetry environment first)
from bench.machine import machine_line, percentiles  # noqa: E402
from tests.fake_ollama import free_port  # noqa: E402  (the suite's one free_port; stdlib only)

COLLECTION = "bench-fsp"
START_TIMEOUT = 600.0  # seconds for the server to load the store, the embedder and the model


@dataclass
class Result:
    """One streamed answer as a client saw it."""

    question: str
    total: float
    first_token: float | None = None
    error: str | None = None
    standalone: str | None = None
    retrieved: tuple[tuple[str, int, int], ...] = ()
    cited: set[str] = field(default_factory=set)


def answerable_questions(count: int) -> list[str]:
    """The first ``count`` answerable questions of the Full Stack Python eval set."""
    lines = (REPO / "eval/sets/fullstackpython.jsonl").read_text().splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [item["question"] for item in items if item.get("kind") == "answerable"][:count]


def start_server(data_dir: Path, port: int, key: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``docchat serve`` in its own process; returns once /healthz answers (the engine is warm by then)."""
    import httpx

    env = {**os.environ, "DOCCHAT_DATA_DIR": str(data_dir), "DOCCHAT_COLLECTION": COLLECTION, "DOCCHAT_API_KEY": key}
    command = [sys.executable, "-m", "docchat.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"docchat serve exited ({process.returncode}); its log: {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"docchat serve did not start within {START_TIMEOUT:.0f} s; its log: {log_path}")


def model_card(base_url: str, key: str) -> dict:
    """The collection's entry in ``GET /v1/models`` (its LLM and size)."""
    import httpx

    models = httpx.get(f"{base_url}/models", headers={"Authorization": f"Bearer {key}"}, timeout=60).json()["data"]
    return next(model for model in models if model["id"] == COLLECTION)


def ask(client, question: str) -> Result:
    """Stream one answer; the last chunk carries docchat's extra fields."""
    import openai

    started = time.perf_counter()
    first: float | None = None
    final: dict | None = None
    try:
        stream = client.chat.completions.create(
            model=COLLECTION, messages=[{"role": "user", "content": question}], stream=True
        )
        for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
            extra = chunk.model_extra or {}
            if "citations" in extra:
                final = extra
    except openai.APIError as error:
        return Result(question, time.perf_counter() - started, error=f"{type(error).__name__}: {error}")
    total = time.perf_counter() - started
    if final is None:
        return Result(question, total, first, error="the stream ended without its final chunk")
    retrieved = tuple((p["source"], *p["lines"]) for p in final["retrieved"])
    cited = {c["source"] for c in final["citations"]}
    return Result(question, total, first, standalone=final["standalone_question"], retrieved=retrieved, cited=cited)


def run(clients: int, questions: list[str], base_url: str, key: str) -> tuple[list[Result], float]:
    """``clients`` threads, each asking every question once (client i starts at question i); results and wall s."""
    import openai

    barrier = threading.Barrier(clients)

    def client_thread(number: int) -> list[Result]:
        client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=900)
        start = number % len(questions)
        barrier.wait()
        return [ask(client, question) for question in questions[start:] + questions[:start]]

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [result for batch in pool.map(client_thread, range(clients)) for result in batch]
    return results, time.perf_counter() - started


def crossed(results: list[Result], baseline: dict[str, tuple[tuple[str, int, int], ...]]) -> list[str]:
    """Answers that do not belong to their own question (see the module docstring)."""
    problems = []
    for result in results:
        if result.error:
            continue
        if result.standalone != result.question:
            problems.append(f"{result.question!r}: answered {result.standalone!r}")
        elif result.question in baseline and result.retrieved != baseline[result.question]:
            problems.append(f"{result.question!r}: other passages than the 1-client run")
        elif not result.cited <= {source for source, _, _ in result.retrieved}:
            problems.append(f"{result.question!r}: cites {sorted(result.cited)} outside its own passages")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared/corpora/fullstackpython")
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench/out/data")
    parser.add_argument("--questions", type=int, default=10, help="answerable questions each client asks")
    parser.add_argument("--clients", default="1,4,8", help="comma-separated client counts (1 always runs first)")
    args = parser.parse_args()
    counts = sorted({1, *(int(n) for n in args.clients.split(",") if n.strip())})

    from bench.query import ensure_ingested
    from docchat.core.settings import Settings

    settings = Settings(data_dir=args.data_dir, collection=COLLECTION)
    print(f"machine: {machine_line()}")
    ensure_ingested(settings, args.corpus)
    questions = answerable_questions(args.questions)
    out = REPO / "bench/out"
    out.mkdir(parents=True, exist_ok=True)
    key, port = secrets.token_urlsafe(24), free_port()
    server = start_server(args.data_dir, port, key, out / "api-server.log")
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        card = model_card(base_url, key)
        print(f"server: docchat serve, llm {card['llm']}, {card['chunks']} chunks; {len(questions)} questions/client")
        rows: dict[int, dict] = {}
        baseline: dict[str, tuple[tuple[str, int, int], ...]] = {}
        for clients in counts:
            results, wall = run(clients, questions, base_url, key)
            if clients == 1:
                baseline = {r.question: r.retrieved for r in results if not r.error}
            answered = [r for r in results if not r.error]
            firsts = [r.first_token for r in answered if r.first_token is not None]
            rows[clients] = {
                "answers": len(results),
                "errors": [r.error for r in results if r.error],
                "crossed": crossed(results, baseline),
                "wall_s": wall,
                "answers_per_min": len(answered) / wall * 60,
                "first_token": percentiles(firsts) if firsts else None,
                "total": percentiles([r.total for r in answered]) if answered else None,
            }
    finally:
        server.terminate()
        server.wait(30)

    print(f"\n{'clients':>7} {'answers':>7} {'errors':>6} {'crossed':>7} {'wall s':>8} {'ans/min':>8} "
          f"{'1st tok p50':>11} {'p95':>7} {'total p50':>9} {'p95':>7}")  # fmt: skip
    for clients, row in rows.items():
        first = row["first_token"] or (float("nan"), float("nan"))
        total = row["total"] or (float("nan"), float("nan"))
        print(f"{clients:>7} {row['answers']:>7} {len(row['errors']):>6} {len(row['crossed']):>7} "
              f"{row['wall_s']:>8.1f} {row['answers_per_min']:>8.2f} {first[0]:>10.2f}s {first[1]:>6.2f}s "
              f"{total[0]:>8.2f}s {total[1]:>6.2f}s")  # fmt: skip
    base = rows[1]["answers_per_min"]
    for clients, row in rows.items():
        if clients != 1 and base:
            print(f"throughput with {clients} clients / 1 client: {row['answers_per_min'] / base:.2f}x")
    print("(the model generates one answer at a time; concurrency overlaps retrieval and citation checks only)")
    for clients, row in rows.items():
        for message in row["errors"][:3] + row["crossed"][:3]:
            print(f"  {clients} clients: {message}")
    result = {"machine": machine_line(), "questions": questions, "rows": rows}
    (out / "api.json").write_text(json.dumps(result, indent=2))
    if any(row["crossed"] for row in rows.values()):
        raise SystemExit("some answers did not belong to their own question")


if __name__ == "__main__":
    main()
