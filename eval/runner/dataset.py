"""Load a question set (JSON Lines, format in eval/README.md): valid items, and the malformed lines by number."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("answerable", "multihop", "followup", "unanswerable")


@dataclass(frozen=True)
class Item:
    """One graded question. ``turns`` is the whole conversation (``[question]`` unless a followup)."""

    id: str
    kind: str
    question: str
    reference_answer: str
    must_include_any: list[list[str]]
    gold_sources: list[str]
    turns: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def answerable(self) -> bool:
        """True for every kind but ``unanswerable`` (the corpus holds the answer)."""
        return self.kind != "unanswerable"

    @property
    def conversation(self) -> list[str]:
        """The user turns to send, in order; the answer to the last one is graded."""
        return self.turns or [self.question]


@dataclass(frozen=True)
class LineError:
    """A line that was skipped, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class QuestionSet:
    """The items that parsed, and the lines that did not."""

    path: Path
    items: list[Item]
    errors: list[LineError]

    def by_kind(self) -> dict[str, int]:
        """Item count per kind (every kind listed, in KINDS order)."""
        return {kind: sum(item.kind == kind for item in self.items) for kind in KINDS}


class _Malformed(ValueError):
    pass


def load_set(path: Path | str) -> QuestionSet:
    """Parse a set; a malformed line is recorded in ``errors`` (with its 1-based number) and skipped.

    Unknown fields are ignored. Duplicate ids and blank lines are reported too (the first of two
    equal ids is kept).
    """
    path = Path(path)
    items: list[Item] = []
    errors: list[LineError] = []
    seen: set[str] = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():  # a trailing newline or two is not a blank line inside the set
        lines.pop()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            errors.append(LineError(number, "blank line (not allowed)"))
            continue
        try:
            item = parse_item(text, number)
        except _Malformed as error:
            errors.append(LineError(number, str(error)))
            continue
        if item.id in seen:
            errors.append(LineError(number, f"duplicate id {item.id!r}"))
            continue
        seen.add(item.id)
        items.append(item)
    return QuestionSet(path, items, errors)


def parse_item(text: str, line: int = 0) -> Item:
    """One line of a set as an Item; ``_Malformed`` (a ValueError) says what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Malformed(f"invalid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(data, dict):
        raise _Malformed(f"expected a JSON object, got {type(data).__name__}")
    item_id = _text(data, "id")
    kind = _text(data, "kind")
    if kind not in KINDS:
        raise _Malformed(f"{item_id}: unknown kind {kind!r} (use one of {', '.join(KINDS)})")
    question = _text(data, "question", item_id)
    reference = _field(data, "reference_answer", str, item_id)
    groups = _field(data, "must_include_any", list, item_id)
    if not all(isinstance(g, list) and g and all(isinstance(k, str) and k.strip() for k in g) for g in groups):
        raise _Malformed(f"{item_id}: must_include_any must be a list of non-empty lists of non-empty strings")
    gold = _field(data, "gold_sources", list, item_id)
    if not all(isinstance(s, str) and s.strip() for s in gold):
        raise _Malformed(f"{item_id}: gold_sources must be a list of non-empty strings")
    if kind == "unanswerable" and (groups or gold):
        raise _Malformed(f"{item_id}: an unanswerable item needs empty must_include_any and gold_sources")
    if kind != "unanswerable" and not gold:
        raise _Malformed(f"{item_id}: a {kind} item needs at least one gold source")
    turns: list[str] = []
    if kind == "followup" or "turns" in data:  # any kind may be asked mid-conversation (e.g. an off-topic turn)
        turns = data.get("turns")  # type: ignore[assignment]
        if not isinstance(turns, list) or len(turns) < 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise _Malformed(f"{item_id}: turns must be a list of at least 2 non-empty strings")
        if turns[-1].strip() != question.strip():
            raise _Malformed(f"{item_id}: the last of turns must be the question")
    return Item(item_id, kind, question, reference, groups, gold, list(turns), line)


def _field(data: dict[str, Any], name: str, kind: type, item_id: str | None = None) -> Any:
    prefix = f"{item_id}: " if item_id else ""
    if name not in data:
        raise _Malformed(f"{prefix}missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind):
        raise _Malformed(f"{prefix}field {name!r} must be a {'string' if kind is str else kind.__name__}")
    return value


def _text(data: dict[str, Any], name: str, item_id: str | None = None) -> str:
    value = _field(data, name, str, item_id)
    if not value.strip():
        raise _Malformed(f"{f'{item_id}: ' if item_id else ''}field {name!r} is empty")
    return value
