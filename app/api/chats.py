"""Chats that come through ``/v1/chat/completions`` are saved like the UI's (docchat/app/chats/).

A request continues the chat it names in docchat's extra field ``chat_id``; else the saved chat of its collection
whose turns are exactly its earlier messages (question and answer pairs); else it starts a new chat holding those
earlier messages and this turn. The response names the chat in its extra field ``chat_id``. A chat database that
cannot be used is logged, and the answer is returned without ``chat_id``: answering never depends on saving.
"""

from __future__ import annotations

import logging
from typing import Any

from docchat.app.api import errors
from docchat.app.api.openai_format import ChatCompletionRequest
from docchat.app.chats.records import answer_record, history_pairs, imported_record
from docchat.app.chats.saving import save_turn
from docchat.app.chats.store import ChatStore
from docchat.app.engine import Engine
from docchat.app.schema import Answer
from docchat.core.errors import ChatNotFound, DocchatError
from docchat.core.settings import Settings

log = logging.getLogger("docchat.api")


class ChatSaver:
    """Saves one request's answer into its chat. Blocking (SQLite): call from the threadpool."""

    def __init__(self, settings: Settings, engine: Engine, collection: str, body: ChatCompletionRequest) -> None:
        self.store = ChatStore.of(settings) if settings.chats.save else None
        self.engine, self.collection = engine, collection
        self.chat_id = body.chat_id
        self.history = body.history()

    def check(self) -> None:
        """An explicit ``chat_id`` must name a saved chat of this collection: else an APIError (404 / 400)."""
        if self.chat_id is None or self.store is None:
            return
        try:
            chat = self.store.get(self.chat_id)
        except ChatNotFound as error:
            raise errors.APIError(404, str(error), param="chat_id", code="chat_not_found") from error
        except DocchatError as error:  # the database cannot be used: answer anyway, unsaved
            log.warning("%s", error)
            return
        if chat.summary.collection != self.collection:
            message = f"Chat {self.chat_id} belongs to model {chat.summary.collection!r}, not {self.collection!r}."
            raise errors.APIError(400, message, param="chat_id", code="chat_of_another_model")

    def save(self, answer: Answer, streamed: str | None = None) -> str | None:
        """Save ``answer`` (``streamed``: the text the client was sent token by token); the chat id, or None."""
        if self.store is None:
            return None
        try:
            record = answer_record(answer, self.engine, self.collection, streamed=streamed)
            if self.chat_id is not None:
                saved = save_turn(self.store, record, collection=self.collection, chat_id=self.chat_id,
                                  check_turns=False, origin="api")  # fmt: skip
                return saved.chat_id
            pairs = history_pairs(self.history) or []
            found = self.store.find_by_history(self.collection, pairs)
            earlier: list[dict[str, Any]]
            if found is not None:
                earlier = [turn.record for turn in self.store.get(found).turns]
            else:
                earlier = [imported_record(question, reply, self.collection) for question, reply in pairs]
            saved = save_turn(self.store, record, collection=self.collection, chat_id=found, earlier=earlier,
                              origin="api")  # fmt: skip
            return saved.chat_id
        except DocchatError as error:
            log.warning("the chat was not saved: %s", error)
            return None
