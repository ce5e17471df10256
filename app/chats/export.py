"""A saved chat as Markdown (the conversation, with the numbered sources under each answer) or as JSON."""

from __future__ import annotations

import json
from typing import Any

from docchat.app.chats.store import Chat, iso_time
from docchat.app.render import lines_label

RATINGS = {"up": "👍 helpful", "down": "👎 not helpful"}


def to_json(chat: Chat) -> str:
    """The chat and every turn's full answer record, as indented JSON."""
    return json.dumps(chat.to_dict(), ensure_ascii=False, indent=2)


def source_label(citation: dict[str, Any]) -> str:
    """``file — heading — lines 3-7`` (or ``p. 12``) of a saved citation."""
    lines = tuple(citation.get("lines") or (0, 0))
    where = lines_label(citation.get("span_unit", "line"), lines, citation.get("page")) if lines[0] else ""
    parts = [str(citation.get("source", "")), str(citation.get("heading") or ""), where]
    return " — ".join(part for part in parts if part)


def to_markdown(chat: Chat) -> str:
    """The conversation: each question as a heading, the answer, its numbered sources with their quotes."""
    summary = chat.summary
    lines = [
        f"# {summary.title}",
        "",
        f"Chat `{summary.id}` · collection `{summary.collection}` · {len(chat.turns)} turns · "
        f"updated {iso_time(summary.updated)}",
    ]
    for turn in chat.turns:
        record = turn.record
        lines += ["", f"## {turn.number}. {' '.join(turn.question.split())}", ""]
        if record.get("notice"):
            lines += [f"*{record['notice']}*", ""]
        lines.append(turn.answer)
        citations = record.get("citations") or []
        if citations:
            lines += ["", "Sources:", ""]
            for citation in citations:
                lines.append(f"{citation.get('number')}. {source_label(citation)}")
                quote = " ".join(str(citation.get("quote") or "").split())
                if quote:
                    lines.append(f"   > {quote}")
        if turn.rating or turn.comment:
            rating = RATINGS.get(turn.rating or "", "no rating")
            lines += ["", f"Feedback: {rating}" + (f" — {turn.comment}" if turn.comment else "")]
    return "\n".join(lines) + "\n"
