"""The answer record a saved turn keeps, built from an :class:`~docchat.app.schema.Answer`, and the way back.

A record is plain JSON: the question, the standalone question, the answer and its mode, the checked citations
with their quotes (``Citation.to_dict``), the checked sentences, a summary of every retrieved passage, the model
(``llm``), embedder and model-profile names, the collection, and the collection's **index version** at the time:
its ``generation`` (the stamp every ingest that changes the collection writes into its Chroma metadata, which
the BM25 side index is matched against, see docchat/components/bm25.py) with its chunk count.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

from docchat.app.engine import Engine
from docchat.app.schema import Answer, AnswerSentence, Citation, Mode, Passage
from docchat.components.llm.backends import llm_name
from docchat.core.errors import DocchatError


def index_version(engine: Engine, collection: str) -> dict[str, Any]:
    """``{"generation": int, "chunks": int}`` of ``collection`` now (empty if it cannot be read)."""
    try:
        handle = engine.collection(collection)
        return {"generation": int((handle.metadata or {}).get("generation", 0)), "chunks": handle.count()}
    except (DocchatError, ValueError, TypeError):
        return {}


def answer_record(
    answer: Answer, engine: Engine, collection: str, *, streamed: str | None = None, version: dict | None = None
) -> dict[str, Any]:
    """Everything a saved turn keeps about ``answer`` (JSON-ready).

    ``streamed``: the text a client was shown token by token, kept when it differs from the checked answer (an
    API client sends that text back as history). ``version``: the collection's index version, if known already.
    """
    settings = engine.settings
    record: dict[str, Any] = {
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "mode": answer.mode,
        "notice": answer.notice,
        "citations": [citation.to_dict() for citation in answer.citations],
        "sentences": [dataclasses.asdict(sentence) for sentence in answer.sentences],
        "retrieved": [passage.summary() | {"title": passage.title} for passage in answer.retrieved],
        "timings": {name: round(value, 4) for name, value in answer.timings.items()},
        "llm": answer.llm or llm_name(settings),
        "embedder": f"{engine.embedder.name} ({engine.embedder.backend})",
        "profile": engine.profile.name,
        "collection": collection,
        "index_version": version if version is not None else index_version(engine, collection),
    }
    if streamed is not None and " ".join(streamed.split()) != " ".join(answer.answer.split()):
        record["streamed"] = streamed
    return record


def imported_record(question: str, answer: str, collection: str) -> dict[str, Any]:
    """A turn docchat did not answer itself here (history sent by a client, or from a --history file)."""
    return {"question": question, "answer": answer, "mode": "imported", "collection": collection, "citations": []}


def answer_from_record(record: dict[str, Any]) -> Answer:
    """The :class:`Answer` a saved record describes, for showing it again (retrieved passages keep no text)."""
    return Answer(
        question=record.get("question", ""),
        answer=record.get("answer", ""),
        abstained=bool(record.get("abstained", False)),
        mode=record.get("mode") if record.get("mode") in get_args(Mode) else "generated",
        citations=[_citation(c) for c in record.get("citations", [])],
        retrieved=[_passage(p) for p in record.get("retrieved", [])],
        sentences=[_build(AnswerSentence, s) for s in record.get("sentences", [])],
        standalone_question=record.get("standalone_question", record.get("question", "")),
        timings=dict(record.get("timings", {})),
        llm=record.get("llm", ""),
        notice=record.get("notice", ""),
    )


def history_pairs(history: list[dict[str, str]]) -> list[tuple[str, str]] | None:
    """``[(question, answer), ...]`` of a user/assistant history, or None if it is not such alternating pairs."""
    if len(history) % 2:
        return None
    pairs = []
    for question, answer in zip(history[::2], history[1::2], strict=True):
        if question.get("role") != "user" or answer.get("role") != "assistant":
            return None
        pairs.append((str(question.get("content", "")), str(answer.get("content", ""))))
    return pairs


def _build(kind: type, data: dict[str, Any]) -> Any:
    """``kind(**data)`` with only the fields ``kind`` has (records may hold more, or fewer with defaults)."""
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{key: value for key, value in data.items() if key in names})


def _citation(data: dict[str, Any]) -> Citation:
    citation = _build(Citation, data)
    citation.lines = tuple(citation.lines)
    return citation


def _passage(data: dict[str, Any]) -> Passage:
    start, end = [*(data.get("lines") or []), 0, 0][:2]
    fields = {"id": "", "text": "", "title": data.get("title", ""), "start_line": start, "end_line": end}
    return _build(Passage, {**data, **fields})
