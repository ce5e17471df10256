"""Saving an answered turn: continue the chat it belongs to, or start one. Shared by the UI, the CLI and the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docchat.app.chats.store import ChatChanged, ChatStore
from docchat.core.errors import ChatNotFound


@dataclass(frozen=True)
class Saved:
    """Where a turn was saved. ``forked``: the chat had been continued (or deleted) elsewhere meanwhile, so this
    conversation went on as a new chat holding its own turns."""

    chat_id: str
    turn: int
    forked: bool = False


def save_turn(
    store: ChatStore,
    record: dict[str, Any],
    *,
    collection: str,
    chat_id: str | None = None,
    earlier: Sequence[dict[str, Any]] = (),
    check_turns: bool = True,
    origin: str = "ui",
) -> Saved:
    """Save ``record`` as the next turn of ``chat_id``, or as the last turn of a new chat.

    ``earlier``: the records of the turns the conversation held before this one (what the engine was given as
    history). With ``check_turns``, the chat is continued only if it still holds exactly that many turns; if
    another session added turns (or deleted the chat) meanwhile, a new chat is started with ``earlier`` and
    ``record``, so two conversations never write into each other. Raises ChatStoreUnavailable.
    """
    if chat_id is not None:
        try:
            number = store.append(chat_id, record, expect_turns=len(earlier) if check_turns else None)
            return Saved(chat_id, number)
        except (ChatChanged, ChatNotFound):
            pass
    summary = store.create(collection, [*earlier, record], origin=origin)
    return Saved(summary.id, summary.turns, forked=chat_id is not None)
