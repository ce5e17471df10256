"""Load a question set (JSON Lines, format in eval/README.md): valid items, and the malformed lines by number."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

KINDS = ("answerable", "multihop", "followup", "unanswerable")


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
    try:
        item = Item.model_validate({key: value for key, value in data.items() if key != "line"})
    except ValidationError as error:
        item_id = data.get("id") if isinstance(data.get("id"), str) and data["id"].strip() else None
        raise _Malformed(_describe(error, item_id)) from None
    return item.model_copy(update={"line": line})


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("is empty")
    return text


_Text = Annotated[str, AfterValidator(_not_blank)]


class Item(BaseModel):
    """One graded question, as its JSON line (unknown fields ignored; no type coercion).

    ``turns`` is the whole conversation when the question is asked mid-chat (a followup, or an
    off-topic turn); ``line`` is the item's line in its set file.
    """

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    id: _Text
    kind: str
    question: _Text
    reference_answer: str
    must_include_any: list[Annotated[list[_Text], Field(min_length=1)]]
    gold_sources: list[_Text]
    turns: Annotated[list[_Text], Field(min_length=2)] | None = None
    needs_review: bool = False  # set by `docchat feedback export --as-eval` until a person has filled the item in
    line: int = 0

    @property
    def answerable(self) -> bool:
        """True for every kind but ``unanswerable`` (the corpus holds the answer)."""
        return self.kind != "unanswerable"

    @property
    def conversation(self) -> list[str]:
        """The user turns to send, in order; the answer to the last one is graded."""
        return self.turns or [self.question]

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (use one of {', '.join(KINDS)})")
        return kind

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        if self.needs_review:
            raise ValueError(
                "still marked needs_review: fill in must_include_any and reference_answer, check kind and "
                "gold_sources, then delete needs_review"
            )
        if self.kind != "unanswerable" and not self.must_include_any:
            raise ValueError(f"an item of kind {self.kind} needs at least one must_include_any keyword group")
        if self.kind == "unanswerable" and (self.must_include_any or self.gold_sources):
            raise ValueError("an unanswerable item needs empty must_include_any and gold_sources")
        if self.kind != "unanswerable" and not self.gold_sources:
            raise ValueError(f"an item of kind {self.kind} needs at least one gold source")
        if self.kind == "followup" and self.turns is None:  # any kind may have turns (an off-topic turn mid-chat)
            raise ValueError("turns must be a list of at least 2 non-empty strings")
        if self.turns is not None and self.turns[-1].strip() != self.question.strip():
            raise ValueError("the last of turns must be the question")
        return self


def _describe(error: ValidationError, item_id: str | None) -> str:
    """The first problem pydantic found, as one line: ``ID: field 'x' ...``."""
    problem = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in problem["loc"][:1])
    if problem["type"] == "missing":
        message = f"missing field {field!r}"
    elif problem["type"] == "value_error":
        cause = problem.get("ctx", {}).get("error")
        message = f"field {field!r}: {cause}" if field else str(cause)  # no field: a rule across fields
    else:
        message = f"field {field!r}: {problem['msg'][:1].lower()}{problem['msg'][1:]}"
    return f"{item_id}: {message}" if item_id and field != "id" else message
