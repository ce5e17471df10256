"""OpenAI's chat-completions wire format: the request model (validated by pydantic), the response and stream
chunk models with docchat's extra fields, and the converters from an :class:`~docchat.app.schema.Answer`.

Extra top-level fields on a completion (and on the last chunk of a stream): ``citations`` (the checked
citations), ``abstained``, ``mode``, ``notice``, ``standalone_question`` (what was retrieved for) and
``retrieved`` (the passages the model read, in their [n] order); a stream's last chunk also has
``final_answer``: the checked answer's text when it differs from the streamed text, else null. ``chat_id`` names
the saved chat the turn was stored in (null when chats are not saved); a request may name it in its own extra
field ``chat_id`` to continue that chat.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer
from pydantic_core import PydanticCustomError

from docchat.app.schema import Answer, Citation, Passage
from docchat.ingest.pipeline import IngestReport

# -- request ---------------------------------------------------------------------------------------------------


class TextPart(BaseModel):
    """One part of a message's content given as a list (only text parts are supported)."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One turn. System (or developer) messages are accepted and ignored: docchat has its own prompt."""

    model_config = ConfigDict(extra="allow")  # name, tool_calls, ...: accepted, not used

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """The message's text (list content joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``: ``model`` names the collection; other OpenAI options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="The collection to answer from (unset: the server's default).")
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation; the last one is the question.")
    stream: bool = False
    chat_id: str | None = Field(
        None,
        description="docchat's extra field: the saved chat to continue. Unset: the saved chat whose turns are the "
        "earlier messages, else a new chat.",
    )

    @field_validator("messages")
    @classmethod
    def _ends_with_a_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        last = messages[-1]
        if last.role != "user":
            raise PydanticCustomError(
                "last_message_not_user",
                "The last message must be the user's question (role 'user'), not role '{role}'.",
                {"role": last.role},
            )
        if not last.text().strip():
            raise PydanticCustomError("empty_question", "The last message (the question) has no text.")
        return messages

    def question(self) -> str:
        """The last message's text: the question to answer."""
        return self.messages[-1].text()

    def history(self) -> list[dict[str, str]]:
        """The user and assistant turns before the question (system and developer messages are left out)."""
        return [{"role": m.role, "content": m.text()} for m in self.messages[:-1] if m.role in ("user", "assistant")]


# -- response ----------------------------------------------------------------------------------------------------


class CitationOut(BaseModel):
    """A checked citation; ``page`` is the PDF page (``lines`` are then lines of that page's text), else null."""

    number: int
    source: str
    title: str
    heading: str
    lines: list[int]
    page: int | None
    quote: str


class PassageOut(BaseModel):
    """A passage the model read, numbered [1].. in this order."""

    source: str
    title: str
    heading: str
    lines: list[int]


class Usage(BaseModel):
    """Token counts where known: the engine does not report prompt tokens, so those are null."""

    prompt_tokens: int | None = None
    completion_tokens: int
    total_tokens: int | None = None


class AnswerFields(BaseModel):
    """docchat's extra top-level fields."""

    citations: list[CitationOut]
    abstained: bool
    mode: str
    notice: str
    standalone_question: str
    retrieved: list[PassageOut]
    chat_id: str | None = None


class Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class _Completion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ChatCompletion(AnswerFields, _Completion):
    """A ``chat.completion`` object, then docchat's extra fields."""


class Delta(BaseModel):
    """What a chunk adds; unset fields are left out, as OpenAI does."""

    role: Literal["assistant"] | None = None
    content: str | None = None

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One ``chat.completion.chunk`` of a stream."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]


class FinalChunk(AnswerFields, ChatCompletionChunk):
    """The stream's last chunk before ``[DONE]``: finish reason, usage, citations, the checked text if it changed."""

    usage: Usage
    final_answer: str | None


class ModelCard(BaseModel):
    """``GET /v1/models``: one model per collection."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "docchat"
    documents: int
    chunks: int
    embedder: str
    llm: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class CollectionOut(BaseModel):
    """``GET /v1/collections``: one collection (``last_ingest`` in Unix seconds, null if never)."""

    name: str
    documents: int
    chunks: int
    embedder: str
    last_ingest: float | None


class CollectionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CollectionOut]


class SkippedFile(BaseModel):
    source: str
    reason: str


class IngestSummary(BaseModel):
    """What the ingest did (the same facts ``docchat ingest`` prints)."""

    files_seen: int
    added: int
    updated: int
    deleted: int
    unchanged: int
    skipped: list[SkippedFile]
    chunks_written: int
    chunks_reused: int
    chunks_deleted: int
    seconds: float


class UploadResult(BaseModel):
    """``POST /v1/collections/{name}/documents``: files saved (sanitised names), files refused, the ingest."""

    collection: str
    saved: list[str]
    rejected: list[str]
    ingest: IngestSummary
    summary: str


# -- converters --------------------------------------------------------------------------------------------------


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    """``created``: Unix seconds."""
    return int(time.time())


def citation_out(citation: Citation) -> CitationOut:
    """The API form of a checked citation."""
    return CitationOut.model_validate(citation.to_dict())  # its other fields (passage, score, root) are left out


def passage_out(passage: Passage) -> PassageOut:
    return PassageOut(source=passage.source, title=passage.title, heading=passage.heading, lines=list(passage.lines))


def answer_fields(answer: Answer, chat_id: str | None = None) -> dict[str, Any]:
    """The extra fields of a completion (or final chunk) for ``answer``, saved in chat ``chat_id``."""
    return {
        "chat_id": chat_id,
        "citations": [citation_out(c) for c in answer.citations],
        "abstained": answer.abstained,
        "mode": answer.mode,
        "notice": answer.notice,
        "standalone_question": answer.standalone_question,
        "retrieved": [passage_out(p) for p in answer.retrieved],
    }


def completion(answer: Answer, model: str, pieces: int, chat_id: str | None = None) -> ChatCompletion:
    """A non-streaming response: the checked answer's text (with its [n] markers) and its citations."""
    return ChatCompletion(
        id=completion_id(),
        created=now(),
        model=model,
        choices=[Choice(message=Message(content=answer.answer))],
        usage=Usage(completion_tokens=pieces),
        **answer_fields(answer, chat_id),
    )


def chunk(chunk_id: str, created: int, model: str, delta: Delta) -> ChatCompletionChunk:
    """A chunk carrying ``delta``."""
    return ChatCompletionChunk(id=chunk_id, created=created, model=model, choices=[ChunkChoice(delta=delta)])


def final_chunk(
    chunk_id: str, created: int, model: str, answer: Answer, streamed: str, pieces: int, chat_id: str | None = None
) -> FinalChunk:
    """The last chunk; ``final_answer`` is the checked text if it differs from the streamed text (spacing aside)."""
    changed = " ".join(answer.answer.split()) != " ".join(streamed.split())
    return FinalChunk(
        id=chunk_id,
        created=created,
        model=model,
        choices=[ChunkChoice(delta=Delta(), finish_reason="stop")],
        usage=Usage(completion_tokens=pieces),
        final_answer=answer.answer if changed else None,
        **answer_fields(answer, chat_id),
    )


def sse(payload: BaseModel | dict[str, Any]) -> str:
    """One server-sent event: ``data: <json>`` and a blank line."""
    data = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


SSE_DONE = "data: [DONE]\n\n"


def ingest_summary(report: IngestReport) -> IngestSummary:
    """The API form of an ingest report."""
    skipped = [SkippedFile(source=source, reason=reason) for source, reason in report.skipped]
    return IngestSummary.model_validate({**asdict(report), "skipped": skipped, "seconds": round(report.seconds, 3)})
