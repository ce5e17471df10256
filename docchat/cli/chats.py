"""``docchat chats ...`` (saved chats) and ``docchat feedback ...`` (thumbs up/down, and export as eval items).

``docchat feedback CHAT_ID TURN up|down`` and ``docchat feedback export --as-eval FILE`` share one name: the
``feedback`` group routes to its ``rate`` command whenever the first argument is not one of its commands.
(click-default-group does this for click, but typer now carries its own copy of click, which that package's
class cannot be combined with; :class:`FeedbackGroup` is the same idea in one method.)
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from typer.core import TyperGroup

from docchat.app.chats.store import Chat, ChatStore
from docchat.core.errors import DocchatError

ChatId = Annotated[str, typer.Argument(help="A chat id (`docchat chats list` shows them).", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]

chats_app = typer.Typer(help="Saved chats (UI, `docchat ask`, API): list, show, export, rename, delete.",
                        no_args_is_help=True)  # fmt: skip


class Format(StrEnum):
    md = "md"
    json = "json"


class Rating(StrEnum):
    up = "up"
    down = "down"


def _store() -> ChatStore:
    from docchat.cli.main import _settings

    return ChatStore.of(_settings())


def _saved_chat(chat_id: str) -> Chat:
    """The saved chat, or exit 2 with one line saying why not (no such chat, store unreadable)."""
    try:
        return _store().get(chat_id)
    except DocchatError as error:
        _fail(str(error))


def _fail(message: str, code: int = 2) -> None:
    from docchat.cli.main import _fail as fail

    fail(message, code)


def _out():
    from docchat.cli.main import out

    return out


def _console():
    from docchat.cli.main import console

    return console


@chats_app.command("list")
def chats_list(
    as_json: AsJson = False,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Only this collection's.")] = None,
) -> None:
    """List saved chats, most recent first: id, title (the first question), collection, turns, last update."""
    try:
        chats = _store().list_chats(collection)
    except DocchatError as error:
        _fail(str(error))
        return
    if as_json:
        print(json.dumps([chat.to_dict() for chat in chats], ensure_ascii=False, indent=2))
        return
    if not chats:
        _console().print("No saved chats yet: ask in the UI, with `docchat ask`, or through the API.")
        return
    table = Table("id", "title", "collection", "turns", "updated")
    table.columns[0].no_wrap = True
    for chat in chats:
        when = datetime.fromtimestamp(chat.updated).strftime("%Y-%m-%d %H:%M")
        table.add_row(chat.id, chat.title, chat.collection, str(chat.turns), when)
    _out().print(table)


@chats_app.command("show")
def chats_show(chat_id: ChatId, as_json: AsJson = False) -> None:
    """Show a chat: every question and answer with its sources (--json: the full answer records)."""
    from docchat.app.chats.export import to_json, to_markdown

    chat = _saved_chat(chat_id)
    if as_json:
        print(to_json(chat))
    else:
        _out().print(to_markdown(chat), markup=False, end="")


@chats_app.command("export")
def chats_export(
    chat_id: ChatId,
    format: Annotated[Format, typer.Option("--format", "-f", help="md: the conversation with its sources; json.")],
    to: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: print).")] = None,
) -> None:
    """Export a chat as Markdown (numbered sources under each answer: file, heading, lines or page) or JSON."""
    from docchat.app.chats.export import to_json, to_markdown

    chat = _saved_chat(chat_id)
    text = to_markdown(chat) if format is Format.md else to_json(chat) + "\n"
    if to is None:
        print(text, end="")
        return
    try:
        to.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"Cannot write {to}: {error.strerror or error}")
    _console().print(f"wrote {to}", highlight=False)


@chats_app.command("rename")
def chats_rename(chat_id: ChatId, title: Annotated[str, typer.Argument(help="The new title.")]) -> None:
    """Give a chat another title."""
    try:
        _store().rename(chat_id, title)
    except DocchatError as error:
        _fail(str(error))
    _console().print(f"renamed chat {chat_id}", highlight=False)


@chats_app.command("delete")
def chats_delete(chat_id: ChatId) -> None:
    """Delete a chat and its turns (feedback included)."""
    try:
        _store().delete(chat_id)
    except DocchatError as error:
        _fail(str(error))
    _console().print(f"deleted chat {chat_id}", highlight=False)


# -- feedback --------------------------------------------------------------------------------------------------------


class FeedbackGroup(TyperGroup):
    """A typer group whose first argument, when it names none of its commands (a chat id), goes to ``rate``."""

    default_command = "rate"

    def resolve_command(self, ctx, args: list[str]):  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [self.default_command, *args]
        return super().resolve_command(ctx, args)


feedback_app = typer.Typer(
    cls=FeedbackGroup,
    no_args_is_help=True,
    help="Feedback on answers: `docchat feedback CHAT_ID TURN up|down [--comment TEXT]`, and "
    "`docchat feedback export --as-eval FILE` (thumbs-down answers as eval items to fill in).",
)


@feedback_app.command("rate")
def feedback_rate(
    chat_id: ChatId,
    turn: Annotated[int, typer.Argument(help="Which answer of the chat (counting from 1).", min=1)],
    rating: Annotated[Rating, typer.Argument(help="up or down.")],
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="What was wrong (or right).")] = None,
) -> None:
    """Rate an answer of a saved chat (same as `docchat feedback CHAT_ID TURN up|down`)."""
    try:
        _store().set_feedback(chat_id, turn, rating.value, comment)
    except DocchatError as error:
        _fail(str(error))
    _console().print(f"chat {chat_id}, turn {turn}: {rating.value}", highlight=False)


@feedback_app.command("export")
def feedback_export(
    as_eval: Annotated[Path, typer.Option("--as-eval", help="The eval-set file (JSON Lines) to write.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Only this collection's.")] = None,
) -> None:
    """Write every thumbs-down answer as an eval item to review (items already in FILE are kept as they are)."""
    from docchat.eval.runner.feedback import export_as_eval

    try:
        result = export_as_eval(_store(), as_eval, collection=collection)
    except DocchatError as error:
        _fail(str(error))
        return
    _console().print(
        f"wrote {as_eval}: {result.added} new item(s), {result.kept} kept; {result.needs_review} still need a "
        "person (needs_review): fill in must_include_any, check kind and gold_sources, delete needs_review; "
        "then: docchat eval --set " + str(as_eval),
        highlight=False,
    )
