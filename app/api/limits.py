"""Request body limits: ``api_max_upload_mb`` for uploads, ``api_max_request_mb`` for everything else.

A body whose declared ``Content-Length`` is over the limit is refused before it is read; one that grows past
the limit while it is read (chunked) is cut off. Either way the client gets a 413 in OpenAI's error shape.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docchat.app.api.errors import APIError

UPLOAD_PATH = re.compile(r"^/v1/collections/[^/]+/documents/?$")


MB = 2**20


def _message(megabytes: float, setting: str) -> str:
    return f"The request body is larger than this server's limit of {megabytes:g} MB ({setting})."


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body read so far passes the limit (FastAPI passes HTTPExceptions on)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyLimit:
    """ASGI middleware capping request bodies by route (limits in MB)."""

    def __init__(self, app: ASGIApp, *, request_mb: float, upload_mb: float) -> None:
        self.app = app
        self.request_mb, self.upload_mb = request_mb, upload_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if UPLOAD_PATH.match(scope["path"]):
            message = _message(self.upload_mb, "DOCCHAT_API_MAX_UPLOAD_MB")
            limit = int(self.upload_mb * MB)
        else:
            message = _message(self.request_mb, "DOCCHAT_API_MAX_REQUEST_MB")
            limit = int(self.request_mb * MB)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await APIError(413, message, code="request_too_large").response()(scope, receive, send)
            return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(message)
            return event

        await self.app(scope, receive_limited, send)
