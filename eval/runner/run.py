"""Run a question set through the answer engine (``Engine.ask``, the function the UI and CLI use) and
write results.jsonl, summary.json, report.md and report.png.

Followups replay their turns in one conversation: turn 1 with no history, turn 2 with
``[user turn 1, assistant answer 1]``, and so on; only the last answer is graded (and timed).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docchat.core.errors import CollectionNotFound, DocchatError, ModelMismatch, StoreUnavailable
from docchat.core.settings import Settings
from docchat.eval.runner.dataset import Item, QuestionSet, load_set
from docchat.eval.runner.metrics import aggregate_by_kind, score_item

if TYPE_CHECKING:
    from rich.console import Console

    from docchat.app.engine import Engine
    from docchat.app.schema import Answer, Passage
    from docchat.eval.runner.judge import FaithfulnessJudge

SCHEMA = 1
# Errors that would fail every item the same way: stop the run instead of recording each one.
FATAL = (CollectionNotFound, ModelMismatch, StoreUnavailable)
SAME_ERRORS_TO_STOP = 3


@dataclass
class EvalRun:
    """What ``evaluate`` wrote."""

    out_dir: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    set_errors: list[str] = field(default_factory=list)


# -- one item ----------------------------------------------------------------------------------------------


def run_item(
    engine: Engine, item: Item, *, collection: str | None = None, judge: FaithfulnessJudge | None = None
) -> dict[str, Any]:
    """Ask the item's turns in one conversation and return the graded record (see ``record``)."""
    history: list[dict[str, str]] = []
    earlier = 0.0
    try:
        for turn in item.conversation[:-1]:
            previous = engine.ask(turn, history, collection=collection)
            earlier += previous.timings.get("total", 0.0)
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": previous.answer}]
        answer = engine.ask(item.conversation[-1], history, collection=collection)
    except FATAL:
        raise
    except Exception as error:  # one failing item (e.g. the LLM timed out) is recorded; the run goes on
        return error_record(item, error)
    result = record(item, answer)
    if earlier:
        result["timings"]["earlier_turns"] = round(earlier, 4)
    if judge is not None and not answer.abstained:
        result["judge"] = judge.judge(answer.question, answer.answer, [p.text for p in answer.retrieved])
    return result


def record(item: Item, answer: Answer) -> dict[str, Any]:
    """The results.jsonl line for an item and the engine's answer to its (last) question."""
    citations = [{"source": c.source, "heading": c.heading, "lines": list(c.lines)} for c in answer.citations]
    retrieved = [p.source for p in answer.retrieved]
    scores = score_item(
        item,
        answer=answer.answer,
        abstained=answer.abstained,
        citation_sources=[c["source"] for c in citations],
        retrieved_sources=retrieved,
    )
    return {
        "id": item.id,
        "kind": item.kind,
        "question": item.question,
        **({"turns": item.turns} if item.turns else {}),
        "standalone_question": answer.standalone_question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "mode": answer.mode,
        "notice": answer.notice,
        "citations": citations,
        "retrieved": retrieved,
        **relevance_fields(answer.retrieved),
        "gold_sources": item.gold_sources,
        "scores": scores,
        "timings": {key: round(value, 4) for key, value in answer.timings.items()},
    }


def relevance_fields(passages: Sequence[Passage]) -> dict[str, Any]:
    """Per-passage cosine similarity and relevance (rank order), and the best relevance (the gate's input)."""
    from docchat.app.citations import best_relevance

    return {
        "similarities": [round(p.similarity, 4) for p in passages],
        "relevances": [round(p.relevance, 4) for p in passages],
        "best_relevance": round(best_relevance(list(passages)), 4),
    }


def error_record(item: Item, error: Exception) -> dict[str, Any]:
    """A record for an item the engine failed on: scored as refused nothing, retrieved nothing, wrong."""
    scores = score_item(item, answer="", abstained=False, citation_sources=[], retrieved_sources=[])
    scores["correct"] = False
    return {
        "id": item.id,
        "kind": item.kind,
        "question": item.question,
        **({"turns": item.turns} if item.turns else {}),
        "answer": "",
        "abstained": False,
        "mode": "error",
        "citations": [],
        "retrieved": [],
        "similarities": [],
        "relevances": [],
        "best_relevance": None,
        "gold_sources": item.gold_sources,
        "scores": scores,
        "timings": {},
        "error": f"{type(error).__name__}: {error}",
    }


def retrieve_item(engine: Engine, item: Item, *, collection: str | None = None) -> dict[str, Any]:
    """Retrieval only (no LLM): the standalone question the engine would search for, and what it finds.

    Followups use the heuristic rewrite (the previous user turn is prepended when the question refers
    back), which is what the engine does with a tiny LLM (``condense=auto``); an LLM rewrite may differ.
    """
    from docchat.app.citations import nothing_relevant
    from docchat.app.condense import heuristic_standalone

    history: list[dict[str, str]] = []
    for turn in item.conversation[:-1]:
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": ""}]
    query = heuristic_standalone(item.conversation[-1], history) if history else item.conversation[-1]
    started = time.perf_counter()
    passages = engine.retrieve(query, collection=collection)  # each with its closest sentence scored, for the gate
    seconds = time.perf_counter() - started
    retrieved = [p.source for p in passages]
    fields = relevance_fields(passages)
    refused = nothing_relevant(passages, engine.settings.retrieval.min_relevance)  # the engine's gate, before any LLM
    scores = score_item(item, answer="", abstained=refused, citation_sources=[], retrieved_sources=retrieved)
    return {
        "id": item.id,
        "kind": item.kind,
        "question": item.question,
        "standalone_question": query,
        "abstained": refused,
        "mode": "retrieval",
        "retrieved": retrieved,
        **fields,
        "gold_sources": item.gold_sources,
        "scores": scores,
        "timings": {"retrieve": round(seconds, 4)},
    }


# -- the whole run -----------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, OS and Python version of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def code_version() -> dict[str, Any]:
    """The git commit of the code that ran, and the files changed since it (read-only git calls)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True,
            timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "changed": []}
    if commit.returncode:
        return {"commit": None, "changed": []}
    return {"commit": commit.stdout.strip(), "changed": [line[3:] for line in status.stdout.splitlines()]}


def build_summary(
    records: Sequence[dict[str, Any]],
    *,
    settings: Settings,
    question_set: QuestionSet,
    corpus: Path | None,
    collection_info: dict[str, Any],
    judge_name: str | None,
    started: datetime,
    seconds: float,
    mode: str = "full",
) -> dict[str, Any]:
    """summary.json: metrics (all items and per kind), what was run, on what, and where."""
    from docchat.components.llm.backends import llm_name

    kinds = {kind: sum(r["kind"] == kind for r in records) for kind in question_set.by_kind()}
    metrics = aggregate_by_kind(records)
    if mode == "retrieval":  # no answers: only the retrieval metrics and the gate's refusals mean anything
        for values in [metrics["all"], *metrics["by_kind"].values()]:
            values.update(answer_correctness=None, citation_precision=None, citation_recall=None, citations=None)
    warnings = []
    if settings.retrieval.top_k < 5:
        warnings.append(
            f"top_k is {settings.retrieval.top_k}: hit@5 only sees the top {settings.retrieval.top_k} passages."
        )
    if metrics["all"]["errors"]:
        warnings.append(f"{metrics['all']['errors']} item(s) failed with an error (scored as wrong).")
    if question_set.errors:
        warnings.append(f"{len(question_set.errors)} malformed line(s) in the set were skipped.")
    return {
        "schema": SCHEMA,
        "mode": mode,
        "set": _display_path(question_set.path),
        "corpus": _display_path(corpus) if corpus else None,
        "collection": collection_info,
        "date": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": machine_info(),
        "code": code_version(),
        "models": {
            "embed_model": settings.embedding.model,
            "embed_backend": _embed_backend(settings),
            "llm": llm_name(settings) if mode == "full" else None,
            "judge": judge_name,
        },
        "settings": settings.flat_dump(),
        "counts": {
            "items": len(records),
            "by_kind": kinds,
            "malformed_lines": len(question_set.errors),
            "errors": metrics["all"]["errors"],
        },
        "set_errors": [str(error) for error in question_set.errors],
        "warnings": warnings,
        "metrics": metrics,
    }


def _display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when it is in it or next to it (portable baselines)."""
    resolved = Path(path).resolve()
    relative = Path(os.path.relpath(resolved, Path.cwd().resolve()))
    return relative.as_posix() if relative.parts[:2] != ("..", "..") else str(resolved)


def default_out_dir(set_path: Path, suffix: str = "") -> Path:
    """``eval/out/<set stem>[-suffix]-<timestamp>/``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("eval") / "out" / f"{set_path.stem}{suffix}-{stamp}"


def ingest_corpus(settings: Settings, corpus: Path, console: Console | None) -> Any:
    """Ingest ``corpus`` into ``settings.store.collection`` (incremental: unchanged files are not re-embedded)."""
    from docchat.components.embedding import make_embedder
    from docchat.ingest.pipeline import ingest_paths

    embedder = make_embedder(settings)
    if console is None:
        return ingest_paths(settings, [corpus], embedder=embedder)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    stages = {"files": "reading", "chunks": "embedding", "bm25": "indexing"}
    columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stages.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        return ingest_paths(settings, [corpus], embedder=embedder, progress=progress)


def collection_info(engine: Engine, name: str) -> dict[str, Any]:
    """Name, chunk and document counts of the collection (raises CollectionNotFound if it is missing)."""
    collection = engine.collection(name)
    meta = collection.metadata or {}
    return {"name": name, "chunks": collection.count(), "documents": meta.get("documents")}


def run_items(
    items: Sequence[Item],
    step: Callable[[Item], dict[str, Any]],
    console: Console | None,
    label: str,
) -> list[dict[str, Any]]:
    """``step`` over every item, with a rich progress bar on ``console`` (None: quiet).

    Stops (DocchatError) when ``SAME_ERRORS_TO_STOP`` items in a row fail with the same error, which
    means every item would (no model file, no Ollama server, ...).
    """
    if console is None:
        records = []
        for item in items:
            records.append(step(item))
            _check_errors(records)
        return records
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
    )
    records: list[dict[str, Any]] = []
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=len(items), current="")
        for number, item in enumerate(items, start=1):
            bar.update(task, current=item.id)
            started = time.perf_counter()
            records.append(step(item))
            _check_errors(records)
            bar.advance(task)
            if not console.is_terminal:  # a log file (nohup): one line per item instead of a live bar
                console.print(f"{label} {number}/{len(items)} {item.id} ({time.perf_counter() - started:.1f} s)")
        bar.update(task, current="done")
    return records


def _check_errors(records: Sequence[dict[str, Any]]) -> None:
    last = [r.get("error") for r in records[-SAME_ERRORS_TO_STOP:]]
    if len(last) == SAME_ERRORS_TO_STOP and last[0] and all(error == last[0] for error in last):
        raise DocchatError(f"Stopped: {SAME_ERRORS_TO_STOP} items in a row failed with {last[0]}")


def evaluate(
    settings: Settings,
    set_path: Path,
    *,
    corpus: Path | None = None,
    out_dir: Path | None = None,
    compare: Path | None = None,
    judge: bool = False,
    limit: int | None = None,
    calibrate: bool = False,
    resume: bool = False,
    console: Console | None = None,
    engine: Engine | None = None,
) -> EvalRun:
    """The whole run: [ingest corpus] -> every item through the engine -> files in ``out_dir``.

    ``calibrate``: retrieval only (no LLM): writes retrieval.jsonl and calibration.{json,md} with the
    refusal sweep over ``min_relevance`` thresholds, and retrieval metrics.
    ``resume``: keep the items ``out_dir/results.jsonl`` already holds (from an interrupted run with the
    same settings; items that failed with an error are run again) and run only the others.
    """
    from docchat.app.engine import Engine
    from docchat.eval.runner import report

    question_set = load_set(set_path)
    if console is not None:
        for error in question_set.errors:
            console.print(f"[yellow]skipped[/] {set_path}: {error}", highlight=False)
    items = question_set.items[:limit] if limit else question_set.items
    if not items:
        raise DocchatError(f"{set_path} has no valid items to run.")
    other = report.load_summary(compare) if compare else None
    judge_impl = None
    if judge and not calibrate:
        from docchat.eval.runner.judge import make_judge

        judge_impl = make_judge(settings)  # raises JudgeUnavailable before any work is done
    started_at, started = datetime.now(), time.perf_counter()
    if corpus is not None:
        ingested = ingest_corpus(settings, corpus, console)
        if console is not None:
            console.print(
                f"ingested {corpus}: {ingested.files_seen} files, {ingested.added} added, {ingested.updated} "
                f"updated, {ingested.unchanged} unchanged, {len(ingested.skipped)} skipped "
                f"({ingested.seconds:.1f} s)",
                highlight=False,
            )
    engine = engine or Engine(settings)
    name = settings.store.collection
    info = collection_info(engine, name)
    if not info["chunks"]:
        raise DocchatError(f"Collection {name!r} is empty; pass --corpus PATH to ingest the documents first.")
    out_dir = out_dir or default_out_dir(set_path, "-calibration" if calibrate else "")
    out_dir.mkdir(parents=True, exist_ok=True)

    if calibrate:
        with _JsonLines(out_dir / "retrieval.jsonl") as sink:
            step = sink.wrap(lambda item: retrieve_item(engine, item, collection=name))
            records = run_items(items, step, console, "retrieving")
        summary = build_summary(
            records, settings=settings, question_set=question_set, corpus=corpus, collection_info=info,
            judge_name=None, started=started_at, seconds=time.perf_counter() - started, mode="retrieval",
        )  # fmt: skip
        report.write_calibration(out_dir, summary, records)
        return EvalRun(out_dir, summary, records, [str(e) for e in question_set.errors])

    done = _finished(out_dir / "results.jsonl", {item.id for item in items}) if resume else {}
    if done and console is not None:
        console.print(f"resuming: {len(done)} item(s) already in {out_dir / 'results.jsonl'}", highlight=False)
    with _JsonLines(out_dir / "results.jsonl", list(done.values())) as sink:  # item by item: can be watched
        step = sink.wrap(lambda item: run_item(engine, item, collection=name, judge=judge_impl), done)
        records = run_items(items, step, console, "answering")
    summary = build_summary(
        records, settings=settings, question_set=question_set, corpus=corpus, collection_info=info,
        judge_name=judge_impl.name if judge_impl else None, started=started_at,
        seconds=time.perf_counter() - started,
    )  # fmt: skip
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report.write_report(out_dir, summary, records, other=other, other_path=compare)
    return EvalRun(out_dir, summary, records, [str(e) for e in question_set.errors])


class _JsonLines:
    """A JSON Lines file written and flushed one record at a time (starting with ``kept`` records)."""

    def __init__(self, path: Path, kept: Sequence[dict[str, Any]] = ()) -> None:
        self.path = path
        self.kept = list(kept)

    def __enter__(self) -> _JsonLines:
        self._handle = self.path.open("w", encoding="utf-8")
        for row in self.kept:
            self.write(row)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def write(self, row: dict[str, Any]) -> None:
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()

    def wrap(
        self, step: Callable[[Item], dict[str, Any]], done: dict[str, dict[str, Any]] | None = None
    ) -> Callable[[Item], dict[str, Any]]:
        """``step`` that also writes its record; items in ``done`` are not run again (already written)."""

        def written(item: Item) -> dict[str, Any]:
            if done and item.id in done:
                return done[item.id]
            row = step(item)
            self.write(row)
            return row

        return written


def _finished(path: Path, ids: set[str]) -> dict[str, dict[str, Any]]:
    """Records of an earlier run in ``path`` for these ids, without errors (unreadable lines are dropped)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(text)
        except ValueError:
            continue  # a line cut short when the run was killed
        if isinstance(row, dict) and row.get("id") in ids and not row.get("error") and "scores" in row:
            done[row["id"]] = row
    return done


def _embed_backend(settings: Settings) -> str:
    """The embedding backend that ran: the setting, or ``auto:<chosen>`` with the backend auto chose."""
    if settings.embedding.backend != "auto":
        return settings.embedding.backend
    from docchat.components.embedding_choice import recorded_choice

    choice = recorded_choice(settings)
    return f"auto:{choice.chosen}" if choice else "auto"
