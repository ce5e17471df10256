"""The ``docchat`` command: thin typer commands over the library functions."""

from __future__ import annotations

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

app = typer.Typer(help="docchat: chat with your documents, locally, with checked citations.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Collection name.")]


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except Exception as error:  # pydantic ValidationError or a broken docchat.toml
        _fail(f"Invalid settings: {error}")
        raise  # unreachable


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to ingest (default: ./corpus).")] = None,
    collection: CollectionOpt = None,
    glob: Annotated[str | None, typer.Option("--glob", help="Only files whose path matches, e.g. '*.md'.")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the collection and embed everything again.")] = False,
) -> None:
    """Ingest documents into a collection: only new or changed files are embedded."""
    from ingest.embed import make_embedder
    from ingest.pipeline import ingest_paths

    settings = _settings(collection=collection)
    paths = paths or [Path("corpus")]
    try:
        with console.status("Loading the embedding model..."):
            embedder = make_embedder(settings)
        with Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        ) as bar:  # fmt: skip
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task("reading" if stage == "files" else "embedding", total=total)
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    sys.exit(main())
