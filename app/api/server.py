"""The API app: ``create_app(settings, engine)`` -> FastAPI, and ``run_server`` for ``docchat serve``.

One :class:`~docchat.app.engine.Engine` per process, warmed at start-up, answers every request (it is thread-safe):
blocking engine calls run in the threadpool, so requests are served concurrently while the model process
generates one answer at a time. The engine's events are pulled one at a time; between two of them the
client's connection is checked, and when the client has gone the engine's generator is closed at once,
which closes the model's HTTP stream so the model stops generating for nobody. Every answered turn is saved as a
chat (docchat/app/api/chats.py).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing, asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from docchat.app import workspace
from docchat.app.api import errors
from docchat.app.api.auth import BearerAuth
from docchat.app.api.chats import ChatSaver
from docchat.app.api.limits import BodyLimit
from docchat.app.api.openai_format import (
    SSE_DONE,
    ChatCompletionRequest,
    CollectionList,
    CollectionOut,
    Delta,
    ModelCard,
    ModelList,
    UploadResult,
    chunk,
    completion,
    completion_id,
    final_chunk,
    ingest_summary,
    now,
    sse,
)
from docchat.app.engine import Engine
from docchat.app.schema import Answer, Event, Final, Token
from docchat.components.embedding import Embedder, make_embedder
from docchat.components.llm.backends import llm_in_use
from docchat.components.store import list_collections
from docchat.core.errors import CollectionNotFound, DocchatError
from docchat.core.settings import Settings

log = logging.getLogger("docchat.api")

CLIENT_GONE = 499  # nginx's "client closed request": logged, never received by anyone
_WARMED: weakref.WeakSet[Engine] = weakref.WeakSet()


def warm(engine: Engine) -> list[str]:
    """Warm ``engine`` once (store, embedder, model); returns the LLM's problems, raises if the store fails."""
    if engine in _WARMED:
        return []
    problems = engine.warm()
    _WARMED.add(engine)
    return problems


class _IngestEmbedder:
    """The embedder for uploads (all cores, as ``docchat ingest``), loaded on the first upload."""

    def __init__(self, settings: Settings, embedder: Embedder | None) -> None:
        self.settings, self.embedder = settings, embedder
        self.lock = threading.Lock()

    def get(self) -> Embedder:
        with self.lock:
            if self.embedder is None:
                self.embedder = make_embedder(self.settings)
            return self.embedder


def create_app(settings: Settings, engine: Engine | None = None, *, ingest_embedder: Embedder | None = None) -> FastAPI:
    """The API over ``engine`` (default: a new Engine for ``settings``), warmed when the server starts."""
    engine = engine or Engine(settings)
    uploads = _IngestEmbedder(settings, ingest_embedder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for problem in await run_in_threadpool(warm, engine):
            log.warning("%s", problem)
        yield

    app = FastAPI(title="docchat", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    app.add_middleware(BodyLimit, request_mb=settings.api.max_request_mb, upload_mb=settings.api.max_upload_mb)
    app.add_middleware(BearerAuth, api_key=settings.api.key)  # before any body is read
    app.add_middleware(errors.UnexpectedErrors)  # outermost

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness (no auth): the server is up and its engine was warmed."""
        return {"status": "ok"}

    v1 = APIRouter(prefix="/v1")

    @v1.get("/models")
    async def models() -> ModelList:
        """One model per collection: its id is the collection's name."""
        llm = " ".join(llm_in_use(settings))
        cards = [
            ModelCard(id=info.name, created=int(info.last_ingest or 0), documents=info.documents,
                      chunks=info.chunks, embedder=info.embed_model, llm=llm)
            for info in await run_in_threadpool(lambda: list_collections(engine.client))
        ]  # fmt: skip
        return ModelList(data=cards)

    @v1.get("/collections")
    async def collections() -> CollectionList:
        """Every collection: documents, chunks, embedding model, last ingest (Unix seconds)."""
        rows = [
            CollectionOut(name=info.name, documents=info.documents, chunks=info.chunks,
                          embedder=info.embed_model, last_ingest=info.last_ingest)
            for info in await run_in_threadpool(lambda: list_collections(engine.client))
        ]  # fmt: skip
        return CollectionList(data=rows)

    @v1.post("/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        """Answer the last user message from collection ``model``, earlier turns as history."""
        name = body.model or settings.store.collection
        try:
            await run_in_threadpool(engine.collection, name)  # an unknown collection: 404 before any work
        except CollectionNotFound as error:
            message = f"The model {name!r} does not exist: models are docchat collections (GET /v1/models lists them)."
            raise errors.APIError(404, message, param="model", code="model_not_found") from error
        saver = ChatSaver(settings, engine, name, body)
        await run_in_threadpool(saver.check)  # an unknown chat_id: 404 before any work
        events = pull(request, engine.stream(body.question(), body.history(), collection=name))
        if body.stream:
            return await _streaming(events, name, saver)
        return await _complete(events, name, saver)

    @v1.post("/collections/{name}/documents")
    async def upload(name: str, files: list[UploadFile] = File(description="One or more files.")) -> UploadResult:
        """Save the files under ``<data_dir>/uploads/<name>/`` (names sanitised) and ingest that folder."""
        try:
            folder = workspace.uploads_dir(workspace.with_collection(settings, name))
        except DocchatError as error:
            raise errors.APIError(400, str(error), param="name", code="invalid_collection_name") from error
        saved, rejected = [], []
        for file in files:
            data = await file.read()
            try:
                saved.append((await run_in_threadpool(workspace.save_upload, folder, file.filename or "", data)).name)
            except DocchatError as error:
                rejected.append(str(error))
            except OSError:
                log.exception("saving upload %r failed", file.filename)
                rejected.append(f"Cannot add {file.filename!r}: the server could not store it.")
        if not saved:
            raise errors.APIError(400, "No file could be added: " + " ".join(rejected), param="files")
        try:
            embedder = await run_in_threadpool(uploads.get)
            report = await run_in_threadpool(workspace.ingest_into, settings, name, folder, embedder=embedder)
        except DocchatError as error:
            raise errors.from_docchat(error, default_status=500) from error
        return UploadResult(collection=report.collection, saved=saved, rejected=rejected,
                            ingest=ingest_summary(report), summary=report.summary())  # fmt: skip

    app.include_router(v1)
    return app


async def pull(request: Request, events: Iterator[Event]) -> AsyncGenerator[Event, None]:
    """The engine's events, each pulled in the threadpool, until the client goes away (checked between events).

    The engine's generator is always closed, also when the client left or the request was cancelled: that closes
    the model's HTTP stream, so the model process stops generating this answer and serves the next one.
    """
    try:
        while not await request.is_disconnected():
            event = await run_in_threadpool(next, events, None)
            if event is None:
                return
            yield event
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(events.close)  # type: ignore[attr-defined]


async def _complete(events: AsyncGenerator[Event, None], model: str, saver: ChatSaver) -> Response:
    """A ``chat.completion`` with the checked answer (the engine's Final), saved in its chat."""
    answer: Answer | None = None
    pieces = 0
    async with aclosing(events):
        async for event in events:
            if isinstance(event, Token):
                pieces += 1
            elif isinstance(event, Final):
                answer = event.answer
    if answer is None:
        return Response(status_code=CLIENT_GONE)
    chat_id = await run_in_threadpool(saver.save, answer)
    return JSONResponse(completion(answer, model, pieces, chat_id).model_dump(mode="json"))


async def _streaming(events: AsyncGenerator[Event, None], model: str, saver: ChatSaver) -> Response:
    """SSE ``chat.completion.chunk``s. Retrieval happens before the response starts, so its errors are a 4xx/5xx."""
    try:
        await anext(events)  # Retrieved
    except StopAsyncIteration:
        return Response(status_code=CLIENT_GONE)
    except BaseException:
        await events.aclose()
        raise
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return _ClosingStreamingResponse(_chunks(events, model, saver), media_type="text/event-stream", headers=headers)


async def _chunks(events: AsyncGenerator[Event, None], model: str, saver: ChatSaver) -> AsyncGenerator[str, None]:
    """The role chunk, one chunk per model token as it comes, the final chunk (citations, usage, ``chat_id``, and
    ``final_answer`` if the checked text differs from the streamed one), then ``[DONE]``. An error after
    the stream started is sent as ``data: {"error": ...}``, as OpenAI does."""
    chunk_id, created = completion_id(), now()
    pieces: list[str] = []
    answer: Answer | None = None
    async with aclosing(events):
        yield sse(chunk(chunk_id, created, model, Delta(role="assistant", content="")))
        try:
            async for event in events:
                if isinstance(event, Token):
                    pieces.append(event.text)
                    yield sse(chunk(chunk_id, created, model, Delta(content=event.text)))
                elif isinstance(event, Final):
                    answer = event.answer
        except Exception as error:
            yield sse(errors.stream_error(error))
            yield SSE_DONE
            return
        if answer is None:  # the client went away
            return
        streamed = "".join(pieces)
        if not streamed.strip():  # no model text (an abstention before the model): the answer is the text
            streamed = answer.answer
            yield sse(chunk(chunk_id, created, model, Delta(content=streamed)))
        chat_id = await run_in_threadpool(saver.save, answer, streamed)
        yield sse(final_chunk(chunk_id, created, model, answer, streamed, len(pieces), chat_id))
        yield SSE_DONE


class _ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that always closes its body generator at once (not when it is garbage-collected),
    also when the client went away mid-stream."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[union-attr]


def run_server(settings: Settings, host: str, port: int) -> None:
    """Build and warm the engine, then serve until stopped (Ctrl-C, SIGTERM).

    Raises DocchatError (one sentence) if the store or the embedder cannot start; a model that cannot start is
    logged as a warning and reported again on every question (retrieval still works).
    """
    import uvicorn

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:  %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    engine = Engine(settings)
    for problem in warm(engine):
        log.warning("%s", problem)
    app = create_app(settings, engine)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, timeout_graceful_shutdown=10)
