"""The chat store: one SQLite file (stdlib ``sqlite3``) holding every saved chat and its turns.

- WAL mode, so readers (the sidebar, ``docchat chats list``) never wait for a writer, and a busy timeout, so two
  writers (two browser sessions, the API's threads, a CLI) queue instead of failing.
- A schema version (``PRAGMA user_version``) and a migration path: :data:`MIGRATIONS` lists the steps in order;
  opening a file of version ``v`` applies steps ``v+1..`` in one transaction. A file from a newer docchat is refused.
- One connection per operation, opened and closed in the calling thread (``sqlite3`` connections are never shared
  between threads). Appending a turn reads the last turn number and inserts in one ``BEGIN IMMEDIATE``
  transaction, so concurrent writers never reuse a number or write into each other's chats.
- Every SQLite failure becomes :class:`ChatStoreUnavailable` with one sentence (read-only, locked, damaged file);
  callers show it and go on answering without saving.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from docchat.components.store import folder_is_read_only
from docchat.core.errors import ChatNotFound, ChatStoreUnavailable, DocchatError
from docchat.core.settings import Settings

Rating = Literal["up", "down"]
BUSY_TIMEOUT = 5.0  # seconds a write waits for another writer before the database counts as locked
TITLE_CHARS = 80

# Step i turns a version-i file into version i+1 (version 0: a new, empty file). Append steps; never edit one.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: chats and their turns; each turn keeps its full answer record as JSON
        """CREATE TABLE chats (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            collection TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL
        )""",
        """CREATE TABLE turns (
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            record TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (chat_id, number)
        )""",
        "CREATE INDEX chats_by_collection ON chats (collection, updated)",
    ),
    (  # 2: where a chat came from (ui, cli, api), and feedback on each answer
        "ALTER TABLE chats ADD COLUMN origin TEXT NOT NULL DEFAULT 'ui'",
        "ALTER TABLE turns ADD COLUMN rating TEXT CHECK (rating IN ('up', 'down'))",
        "ALTER TABLE turns ADD COLUMN comment TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE turns ADD COLUMN rated REAL",
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


class ChatChanged(DocchatError):
    """The chat got more turns meanwhile (another session or client continued it)."""


@dataclass(frozen=True)
class ChatSummary:
    """One chat as a list shows it."""

    id: str
    title: str
    collection: str
    origin: str
    created: float
    updated: float
    turns: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 (UTC)."""
        return {**asdict(self), "created": iso_time(self.created), "updated": iso_time(self.updated)}


@dataclass(frozen=True)
class Turn:
    """One question and its answer record, with the user's feedback (if any). ``number`` counts from 1."""

    number: int
    question: str
    answer: str
    record: dict[str, Any]
    created: float
    rating: Rating | None = None
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.number,
            "created": iso_time(self.created),
            **self.record,
            "question": self.question,
            "answer": self.answer,
            "feedback": {"rating": self.rating, "comment": self.comment} if self.rating or self.comment else None,
        }


@dataclass(frozen=True)
class Chat:
    """A chat with all its turns, in order."""

    summary: ChatSummary
    turns: list[Turn] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.summary.id

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary.to_dict(), "turns": len(self.turns), "messages": [t.to_dict() for t in self.turns]}


def iso_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def new_chat_id() -> str:
    """A short random id (12 hex digits)."""
    return secrets.token_hex(6)


def title_of(question: str) -> str:
    """A chat's title: its first question on one line, cut at :data:`TITLE_CHARS` characters."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


class ChatStore:
    """The saved chats in one SQLite file. Cheap to create; safe to use from any thread."""

    def __init__(self, path: Path, *, timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.timeout = timeout

    @classmethod
    def of(cls, settings: Settings) -> ChatStore:
        """The store at ``settings.chats_path``."""
        return cls(settings.chats_path)

    # -- connections -----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, *, create: bool = True) -> Iterator[sqlite3.Connection]:
        """A fresh connection (autocommit; transactions are explicit), migrated to :data:`SCHEMA_VERSION`."""
        connection = None
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA foreign_keys = ON")
            self._use_wal(connection)
            self._migrate(connection)
            yield connection
        except sqlite3.Error as error:
            raise self._unavailable(error) from error
        except OSError as error:  # the folder cannot be created
            raise self._unavailable(error) from error
        finally:
            if connection is not None:
                connection.close()

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """Switch the file to WAL mode (once: the file keeps it). Connections that switch a new file at the same time
        get "locked" at once, without the busy timeout, so this step is retried (tenacity) for up to the timeout."""
        retrying = Retrying(
            retry=retry_if_exception(_is_locked),
            stop=stop_after_delay(self.timeout),
            wait=wait_random(0.005, 0.05),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    connection.execute("PRAGMA journal_mode = WAL")

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Apply the missing :data:`MIGRATIONS` steps in one transaction (checked on every connection: a file moved
        aside and started afresh is migrated too; reading the version is one header read)."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            with _transaction(connection):
                version = connection.execute("PRAGMA user_version").fetchone()[0]  # another writer may have done it
                for step in MIGRATIONS[version:]:
                    for statement in step:
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version > SCHEMA_VERSION:
            raise ChatStoreUnavailable(
                f"The chat database {self.path} was written by a newer docchat (schema version {version}; this "
                f"one knows up to {SCHEMA_VERSION}), so chats are not saved; upgrade docchat or set "
                "DOCCHAT_CHATS_DB to another file."
            )

    def version(self) -> int:
        """The file's schema version (0 if there is no file yet)."""
        if not self.path.exists():
            return 0
        with self._connect() as connection:
            return connection.execute("PRAGMA user_version").fetchone()[0]

    def _unavailable(self, error: BaseException) -> ChatStoreUnavailable:
        """One sentence for the user: read-only, locked, damaged, or the error itself."""
        text = str(error).lower()
        where = f"The chat database {self.path}"
        if "readonly" in text or "read-only" in text or folder_is_read_only(self.path.parent) is True:
            return ChatStoreUnavailable(
                f"{where} is read-only, so chats are not saved; make it writable or set DOCCHAT_CHATS_DB to a "
                "writable file."
            )
        if "locked" in text or "busy" in text:
            return ChatStoreUnavailable(
                f"{where} is locked by another program (waited {self.timeout:g} s), so this was not saved; try "
                "again when it is free."
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return ChatStoreUnavailable(
                f"{where} is damaged ({error}), so chats are not saved; move it aside to start afresh: "
                f"mv {self.path} {self.path}.damaged"
            )
        return ChatStoreUnavailable(f"Cannot use {where[4:]}: {error}; chats are not saved.")

    # -- reading ---------------------------------------------------------------------------------------------------

    def list_chats(self, collection: str | None = None) -> list[ChatSummary]:
        """Chats (of ``collection``, or all), most recently updated first. No file yet: none."""
        if not self.path.exists():
            return []
        query = f"{_SUMMARY} {'WHERE c.collection = ?' if collection else ''} ORDER BY c.updated DESC, c.rowid DESC"
        with self._connect() as connection:
            rows = connection.execute(query, (collection,) if collection else ()).fetchall()
        return [_summary(row) for row in rows]

    def get(self, chat_id: str) -> Chat:
        """The chat with all its turns; :class:`ChatNotFound` if there is none."""
        if not self.path.exists():
            raise _not_found(chat_id)
        with self._connect() as connection:
            row = connection.execute(f"{_SUMMARY} WHERE c.id = ?", (chat_id,)).fetchone()
            if row is None:
                raise _not_found(chat_id)
            turns = connection.execute(f"{_TURN} WHERE chat_id = ? ORDER BY number", (chat_id,)).fetchall()
        return Chat(_summary(row), [_turn(t) for t in turns])

    def find_by_history(self, collection: str, pairs: Sequence[tuple[str, str]]) -> str | None:
        """The most recent chat of ``collection`` whose turns are exactly ``pairs`` (question, answer), or None.

        Questions must be equal; answers equal apart from spacing (to the saved answer, or to the text that was
        streamed when it differed). A chat that has gone on past these turns does not match.
        """
        if not pairs or not self.path.exists():
            return None
        query = (
            "SELECT c.id FROM chats c JOIN turns t ON t.chat_id = c.id AND t.number = 1 "
            "WHERE c.collection = ? AND t.question = ? "
            "AND (SELECT MAX(number) FROM turns WHERE chat_id = c.id) = ? ORDER BY c.updated DESC"
        )
        with self._connect() as connection:
            candidates = [row[0] for row in connection.execute(query, (collection, pairs[0][0], len(pairs)))]
        for chat_id in candidates:
            with contextlib.suppress(ChatNotFound):
                turns = self.get(chat_id).turns
                if all(_same_turn(turn, q, a) for turn, (q, a) in zip(turns, pairs, strict=True)):
                    return chat_id
        return None

    def rated(self, rating: Rating, collection: str | None = None) -> list[Chat]:
        """Every chat (of ``collection``, or all) with at least one answer rated ``rating``, oldest first."""
        if not self.path.exists():
            return []
        query = "SELECT DISTINCT t.chat_id FROM turns t JOIN chats c ON c.id = t.chat_id WHERE t.rating = ?"
        query += " AND c.collection = ?" if collection else ""
        with self._connect() as connection:
            ids = [row[0] for row in connection.execute(query, (rating, collection) if collection else (rating,))]
        chats = [self.get(chat_id) for chat_id in ids]
        return sorted(chats, key=lambda chat: (chat.summary.created, chat.id))

    # -- writing ---------------------------------------------------------------------------------------------------

    def create(self, collection: str, records: Sequence[dict[str, Any]], *, origin: str = "ui") -> ChatSummary:
        """A new chat of ``collection`` holding ``records`` (answer records, see records.py) as its turns."""
        if not records:
            raise ValueError("a chat starts with at least one turn")
        chat_id, now = new_chat_id(), time.time()
        with self._connect() as connection, _transaction(connection):
            connection.execute(
                "INSERT INTO chats (id, title, collection, created, updated, origin) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, title_of(records[0]["question"]), collection, now, now, origin),
            )
            for number, record in enumerate(records, start=1):
                _insert_turn(connection, chat_id, number, record, now)
        return ChatSummary(chat_id, title_of(records[0]["question"]), collection, origin, now, now, len(records))

    def append(self, chat_id: str, record: dict[str, Any], *, expect_turns: int | None = None) -> int:
        """Add ``record`` as the chat's next turn; returns its number.

        ``expect_turns``: the number of turns the caller's conversation holds; if the chat has another number
        (someone else continued it meanwhile), nothing is written and :class:`ChatChanged` is raised.
        """
        now = time.time()
        with self._connect() as connection, _transaction(connection):
            if connection.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone() is None:
                raise _not_found(chat_id)
            count = connection.execute("SELECT COALESCE(MAX(number), 0) FROM turns WHERE chat_id = ?", (chat_id,))
            turns = count.fetchone()[0]
            if expect_turns is not None and turns != expect_turns:
                raise ChatChanged(f"Chat {chat_id} has {turns} turns now, not {expect_turns}.")
            _insert_turn(connection, chat_id, turns + 1, record, now)
            connection.execute("UPDATE chats SET updated = ? WHERE id = ?", (now, chat_id))
        return turns + 1

    def rename(self, chat_id: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise DocchatError("A chat's title cannot be empty.")
        self._change("UPDATE chats SET title = ? WHERE id = ?", (title[:200], chat_id), chat_id)

    def delete(self, chat_id: str) -> None:
        """Delete the chat and its turns."""
        self._change("DELETE FROM chats WHERE id = ?", (chat_id,), chat_id)

    def set_feedback(self, chat_id: str, number: int, rating: Rating | None, comment: str | None = None) -> None:
        """Record thumbs up/down (None: clear it) and, if given, a comment on turn ``number`` (from 1)."""
        if rating not in ("up", "down", None):
            raise DocchatError(f"Feedback is 'up' or 'down', not {rating!r}.")
        with self._connect() as connection, _transaction(connection):
            if connection.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone() is None:
                raise _not_found(chat_id)
            sql = "UPDATE turns SET rating = ?, rated = ?, comment = COALESCE(?, comment) "
            sql += " WHERE chat_id = ? AND number = ?"
            changed = connection.execute(sql, (rating, time.time(), comment, chat_id, number)).rowcount
            if not changed:
                turns = connection.execute("SELECT COUNT(*) FROM turns WHERE chat_id = ?", (chat_id,)).fetchone()[0]
                raise DocchatError(f"Chat {chat_id} has no turn {number}: it has {turns} (turns count from 1).")

    def _change(self, sql: str, values: tuple[Any, ...], chat_id: str) -> None:
        if not self.path.exists():
            raise _not_found(chat_id)
        with self._connect() as connection, _transaction(connection):
            if connection.execute(sql, values).rowcount == 0:
                raise _not_found(chat_id)


# -- SQL helpers ---------------------------------------------------------------------------------------------------

_SUMMARY = (
    "SELECT c.id, c.title, c.collection, c.origin, c.created, c.updated, "
    "(SELECT COUNT(*) FROM turns t WHERE t.chat_id = c.id) AS turns FROM chats c"
)
_TURN = "SELECT number, question, answer, record, created, rating, comment FROM turns"


def _is_locked(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error).lower()


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (take the write lock first, waiting up to the busy timeout) ... ``COMMIT``."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _insert_turn(connection: sqlite3.Connection, chat_id: str, number: int, record: dict[str, Any], now: float) -> None:
    connection.execute(
        "INSERT INTO turns (chat_id, number, question, answer, record, created) VALUES (?, ?, ?, ?, ?, ?)",
        (chat_id, number, record["question"], record["answer"], json.dumps(record, ensure_ascii=False), now),
    )


def _summary(row: sqlite3.Row) -> ChatSummary:
    return ChatSummary(row["id"], row["title"], row["collection"], row["origin"], row["created"], row["updated"],
                       row["turns"])  # fmt: skip


def _turn(row: sqlite3.Row) -> Turn:
    return Turn(row["number"], row["question"], row["answer"], json.loads(row["record"]), row["created"],
                row["rating"], row["comment"])  # fmt: skip


def _same_turn(turn: Turn, question: str, answer: str) -> bool:
    said = " ".join(answer.split())
    shown = {" ".join(turn.answer.split()), " ".join(str(turn.record.get("streamed") or "").split())}
    return turn.question == question and said in shown


def _not_found(chat_id: str) -> ChatNotFound:
    return ChatNotFound(f"No saved chat {chat_id!r}; `docchat chats list` shows the saved chats.")
