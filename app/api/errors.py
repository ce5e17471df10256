"""Every error in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, never a traceback.

Client mistakes are 4xx with a message saying what to fix; docchat's own user-facing errors keep their one
sentence; anything unexpected is a 500 with a generic message, its traceback only in the server log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docchat.components.llm.server import LLMUnavailable
from docchat.core.errors import CollectionNotFound, DocchatError, IngestLocked, ModelMismatch, StoreUnavailable

log = logging.getLogger("docchat.api")

GENERIC_MESSAGE = "The server failed to answer this request; its log has the details."
STATUS_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error body."""

    error: ErrorDetail


class APIError(Exception):
    """An error to answer with ``status`` and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers
        kind = type or ("server_error" if status >= 500 else "invalid_request_error")
        self.detail = ErrorDetail(message=message, type=kind, param=param, code=code)

    def response(self) -> JSONResponse:
        return JSONResponse(ErrorResponse(error=self.detail).model_dump(), self.status, headers=self.headers)


def from_docchat(error: DocchatError, *, default_status: int = 400) -> APIError:
    """The status and code for one of docchat's user-facing errors (its message is kept)."""
    if isinstance(error, CollectionNotFound):
        return APIError(404, str(error), param="model", code="model_not_found")
    if isinstance(error, IngestLocked):
        return APIError(409, str(error), code="ingest_running")
    if isinstance(error, ModelMismatch):
        return APIError(409, str(error), code="embedding_model_mismatch")
    if isinstance(error, StoreUnavailable):
        return APIError(503, str(error), code="store_unavailable")
    if isinstance(error, LLMUnavailable):
        return APIError(503, str(error), code="model_unavailable")
    return APIError(default_status, str(error))


def stream_error(error: BaseException) -> dict[str, Any]:
    """The ``data: {"error": ...}`` event for an error after a stream has started (logged if unexpected)."""
    if isinstance(error, DocchatError):
        detail = from_docchat(error, default_status=500).detail
    else:
        log.error("a streamed answer failed", exc_info=error)
        detail = APIError(500, GENERIC_MESSAGE).detail
    return ErrorResponse(error=detail).model_dump()


def _param(location: tuple[Any, ...]) -> str | None:
    """``("body", "messages", 0, "role")`` -> ``messages[0].role`` (the part of the request at fault)."""
    text = ""
    for part in location[1:]:  # the first part says where (body, path, query, header)
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or None


def validation_error(exc: RequestValidationError) -> APIError:
    """A 400 naming the first problem (and how many more there are)."""
    errors = list(exc.errors())
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "The request is not valid."}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return APIError(400, f"The request body is not valid JSON ({reason}).", code="invalid_json")
    param = _param(tuple(first.get("loc", ())))
    if param is None and first.get("type") == "missing":
        return APIError(400, "The request needs a JSON body.", code="missing")
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return APIError(400, message, param=param, code=str(first.get("type")))


def install(app: FastAPI) -> None:
    """Register the handlers: APIError, HTTP errors (404, 405, 413, ...), validation errors, docchat's errors."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, APIError)
        return exc.response()

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = STATUS_CODES.get(exc.status_code)
        return APIError(exc.status_code, str(exc.detail), code=code, headers=exc.headers).response()

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error(exc).response()

    async def on_docchat_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DocchatError)
        return from_docchat(exc).response()

    app.add_exception_handler(APIError, on_api_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(DocchatError, on_docchat_error)


class UnexpectedErrors:
    """ASGI middleware: an exception nobody handled becomes a 500 in OpenAI's shape, logged with its traceback.

    (Starlette's own handler for ``Exception`` would re-raise it after answering, so the server logged it twice.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:  # too late for a status: end the broken response as the server does
                raise
            await APIError(500, GENERIC_MESSAGE).response()(scope, receive, send)
