"""Thumbs-down answers into the eval set: ``docchat feedback export --as-eval FILE``.

Each answer rated "down" becomes one item in the eval-set format (eval/README.md): the question (and ``turns``,
the chat's questions up to it, when it was not the first), a guessed ``kind``, the cited sources as candidate
``gold_sources``, an empty ``must_include_any`` and ``reference_answer`` for a person to fill in, and
``needs_review: true``. The answer given, the comment and where it came from are extra fields (the runner ignores
them). ``docchat eval`` refuses an item while it is still marked ``needs_review`` (see dataset.py).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docchat.app.chats.store import Chat, ChatStore, Turn, iso_time
from docchat.core.errors import DocchatError

REVIEW_HINT = (
    "Fill in must_include_any (keyword groups a right answer must contain) and reference_answer, check kind and "
    "gold_sources, then delete needs_review."
)
# A comment saying the documents do not hold the answer: the item is probably a question docchat should refuse.
_ABSENT = re.compile(
    r"not (in|covered by|mentioned in|stated in) the (doc|document|source|corpus|text)|should (have )?(refuse|say)|"
    r"made (it )?up|invent|hallucinat|no such|does not (say|mention)|doesn't (say|mention)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ExportResult:
    """What ``export_as_eval`` wrote: items added, items kept from the file as they were, items still to review."""

    added: int
    kept: int
    needs_review: int


def item_id(chat_id: str, turn: int) -> str:
    return f"fb-{chat_id}-{turn}"


def guess_kind(turn: Turn, earlier: list[Turn]) -> str:
    """unanswerable (the comment says the documents lack it), followup (the question was rewritten using earlier
    turns), multihop (the answer cites two places), else answerable. A guess: the person reviewing decides."""
    record = turn.record
    if _ABSENT.search(turn.comment or ""):
        return "unanswerable"
    standalone = " ".join(str(record.get("standalone_question") or turn.question).split())
    if earlier and standalone != " ".join(turn.question.split()):
        return "followup"
    places = {(c.get("source"), c.get("heading")) for c in record.get("citations") or []}
    return "multihop" if len(places) >= 2 else "answerable"


def candidate_sources(turn: Turn) -> list[str]:
    """The sources the answer cited; for an answer that cited none, the sources of the passages it retrieved."""
    record = turn.record
    cited = [str(c["source"]) for c in record.get("citations") or [] if c.get("source")]
    found = cited or [str(p["source"]) for p in record.get("retrieved") or [] if p.get("source")][:3]
    return list(dict.fromkeys(found))


def feedback_item(chat: Chat, turn: Turn) -> dict[str, Any]:
    """The eval item for one thumbs-down turn of ``chat``."""
    earlier = [t for t in chat.turns if t.number < turn.number]
    kind = guess_kind(turn, earlier)
    sources = candidate_sources(turn)
    item: dict[str, Any] = {
        "id": item_id(chat.id, turn.number),
        "kind": kind,
        "question": turn.question,
        "reference_answer": "",
        "must_include_any": [],
        "gold_sources": [] if kind == "unanswerable" else sources,
        "needs_review": True,
        "review": REVIEW_HINT,
        "answer_given": turn.answer,
        "feedback_comment": turn.comment,
        "answer_mode": turn.record.get("mode"),
        "cited_sources": sources,
        "from_chat": {
            "chat_id": chat.id,
            "turn": turn.number,
            "collection": chat.summary.collection,
            "llm": turn.record.get("llm"),
            "index_version": turn.record.get("index_version"),
            "asked": iso_time(turn.created),
        },
    }
    if earlier:
        item["turns"] = [t.question for t in earlier] + [turn.question]
    return item


def export_as_eval(store: ChatStore, path: Path, *, collection: str | None = None) -> ExportResult:
    """Write every thumbs-down answer (of ``collection``, or all) to ``path`` as eval items.

    Items already in ``path`` (by id) are kept exactly as they are, so running the export again adds the new
    thumbs-down answers without losing what a person has filled in. Raises DocchatError.
    """
    kept_lines: list[str] = []
    kept_ids: set[str] = set()
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise DocchatError(f"Cannot read {path}: {error.strerror or error}") from error
        for line in text.splitlines():
            if not line.strip():
                continue
            kept_lines.append(line)
            with contextlib.suppress(ValueError, AttributeError):  # a broken line is kept; `docchat eval` names it
                kept_ids.add(str(json.loads(line).get("id")))
    new_items = [
        feedback_item(chat, turn)
        for chat in store.rated("down", collection)
        for turn in chat.turns
        if turn.rating == "down" and item_id(chat.id, turn.number) not in kept_ids
    ]
    lines = kept_lines + [json.dumps(item, ensure_ascii=False) for item in new_items]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    except OSError as error:
        raise DocchatError(f"Cannot write {path}: {error.strerror or error}") from error
    pending = sum(1 for line in lines if _needs_review(line))
    return ExportResult(added=len(new_items), kept=len(kept_lines), needs_review=pending)


def _needs_review(line: str) -> bool:
    try:
        return bool(json.loads(line).get("needs_review"))
    except (ValueError, AttributeError):
        return False
