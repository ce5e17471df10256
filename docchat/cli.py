"""The ``docchat`` command: thin typer commands over the library functions."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from docchat.errors import DocchatError
from docchat.settings import Settings, load_settings

app = typer.Typer(
    help="docchat: chat with your documents, locally, with checked citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # a one-line error stays one line in logs
out = Console(highlight=False, soft_wrap=True)

STAGES = {"files": "reading", "chunks": "embedding", "bm25": "indexing"}
CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")]


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as error:  # pydantic ValidationError or a broken docchat.toml
        first = str(error).strip().splitlines()
        _fail(f"Invalid settings: {' '.join(first[:3])}")
        raise  # unreachable: _fail exits


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: ./corpus).")] = None,
    collection: CollectionOpt = None,
    glob: Annotated[str | None, typer.Option("--glob", help="Only paths matching, e.g. '*.md'.")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the collection and re-embed all.")] = False,
) -> None:
    """Ingest documents into a collection: only new or changed files are embedded."""
    from ingest.embed import make_embedder
    from ingest.pipeline import ingest_paths

    settings = _settings(collection=collection)
    paths = paths or [Path("corpus")]
    try:
        with console.status("Loading the embedding model..."):
            embedder = make_embedder(settings)
        columns = (TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            report = ingest_paths(settings, paths, embedder=embedder, pattern=glob, rebuild=rebuild, progress=progress)
    except DocchatError as error:
        _fail(str(error))
        return
    for source, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {source}: {reason}", highlight=False)
    console.print(
        f"[bold]{report.collection}[/]: {report.files_seen} files seen, {report.added} added, "
        f"{report.updated} updated, {report.deleted} deleted, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {report.chunks_written} chunks embedded, "
        f"{report.chunks_deleted} removed; {report.seconds:.1f} s",
        highlight=False,
    )
    if report.failed:
        raise typer.Exit(1)


@app.command()
def collections() -> None:
    """List collections: documents, chunks, embedding model, last ingest."""
    from docchat.store import list_collections, open_client

    settings = _settings()
    try:
        infos = list_collections(open_client(settings))
    except DocchatError as error:
        _fail(str(error))
        return
    if not infos:
        console.print("No collections yet; create one with: docchat ingest PATH")
        return
    table = Table("name", "documents", "chunks", "embedding model", "last ingest")
    for info in infos:
        when = datetime.fromtimestamp(info.last_ingest).strftime("%Y-%m-%d %H:%M") if info.last_ingest else "-"
        table.add_row(info.name, str(info.documents), str(info.chunks), info.embed_model, when)
    out.print(table)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: CollectionOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of streaming.")] = False,
    history: Annotated[
        Path | None, typer.Option("--history", help='JSON file: [{"role": "user", "content": ...}, ...]')
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages to retrieve and cite.")] = None,
    source_prefix: Annotated[str | None, typer.Option("--source", help="Only sources under this path.")] = None,
) -> None:
    """Answer a question from the collection, with checked citations."""
    from app.engine import Engine
    from app.render import render_sources
    from app.schema import Final, Token

    settings = _settings(collection=collection, top_k=top_k)
    turns = _read_history(history) if history else []
    engine = Engine(settings)
    answer = None
    try:
        for event in engine.stream(question, turns, source_prefix=source_prefix):
            if isinstance(event, Token) and not as_json:
                out.print(event.text, end="", soft_wrap=True, markup=False)
            elif isinstance(event, Final):
                answer = event.answer
    except DocchatError as error:
        _fail(str(error))
        return
    if answer is None:  # pragma: no cover - the engine always ends with Final
        _fail("No answer was produced.")
        return
    if as_json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    out.print(render_sources(answer, streamed=answer.mode != "abstained"), markup=False)


@app.command("settings")
def show_settings() -> None:
    """Show every setting: its environment variable, current value and meaning."""
    settings = _settings()
    table = Table("env var", "value", "meaning")
    for name, field in type(settings).model_fields.items():
        table.add_row(f"DOCCHAT_{name.upper()}", str(getattr(settings, name)), field.description or "")
    out.print(table)


def _read_history(path: Path) -> list[dict[str, str]]:
    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        _fail(f"Cannot read history file {path}: {error}")
    if not isinstance(turns, list):
        _fail(f"History file {path} must hold a JSON list of turns.")
    return turns


@app.command("eval")
def eval_command(
    set_file: Annotated[Path, typer.Option("--set", help="Question set (JSON Lines, see eval/README.md).")],
    collection: CollectionOpt = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Ingest this folder first (incremental).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default eval/out/<set>-<time>).")
    ] = None,
    compare: Annotated[Path | None, typer.Option("--compare", help="Another run's summary.json to compare.")] = None,
    judge: Annotated[bool, typer.Option("--judge", help="LLM-as-judge faithfulness (Ollama backend).")] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N items.")] = None,
    calibrate: Annotated[
        bool, typer.Option("--calibrate", help="Retrieval only, no LLM: sweep min_relevance thresholds.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep the items already in --out DIR/results.jsonl; run the rest.")
    ] = False,
) -> None:
    """Score retrieval, answers, citations and refusals on a question set; write results and a report."""
    from eval.runner.run import evaluate

    settings = _settings(collection=collection)
    if not set_file.is_file():
        _fail(f"No such question set: {set_file}")
    if resume and out_dir is None:
        _fail("--resume needs --out DIR: the folder of the run to finish.")
    try:
        run = evaluate(settings, set_file, corpus=corpus, out_dir=out_dir, compare=compare, judge=judge,
                       limit=limit, calibrate=calibrate, resume=resume, console=console)  # fmt: skip
    except DocchatError as error:
        _fail(str(error))
        return
    metrics = run.summary["metrics"]["all"]
    shown = ("hit_at_1", "hit_at_5", "mrr") if calibrate else (
        "hit_at_1", "hit_at_5", "mrr", "answer_correctness", "citation_precision", "citation_recall",
        "refusal_precision", "refusal_recall", "faithfulness", "latency_total_median", "latency_total_p95",
    )  # fmt: skip
    table = Table("metric", "all items")
    for name in shown:
        value = metrics.get(name)
        if value is not None or name != "faithfulness":
            table.add_row(name, "-" if value is None else f"{value:.3f}")
    out.print(table)
    for warning in run.summary.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    written = "calibration.md" if calibrate else "report.md"
    console.print(f"wrote {run.out_dir}/ ({written}, summary.json, ...)", highlight=False)


@app.command()
def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8501,
    collection: CollectionOpt = None,
) -> None:
    """Start the chat UI (Streamlit, headless, no telemetry) on http://HOST:PORT."""
    from app.ui.launch import launch

    _settings(collection=collection)  # fail here, not in the page, on invalid settings or collection name
    console.print(f"docchat UI on http://{host}:{port} (Ctrl-C stops it)", highlight=False)
    raise typer.Exit(launch(host, port, collection))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    sys.exit(main())
