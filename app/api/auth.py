"""Bearer-token auth (``DOCCHAT_API_KEY``) for every route but ``/healthz``, and the start-up rule that refuses a
non-loopback address without a key."""

from __future__ import annotations

import ipaddress
import secrets

from starlette.types import ASGIApp, Receive, Scope, Send

from docchat.app.api.errors import APIError

OPEN_PATHS = frozenset({"/healthz"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # any other host name may resolve to a public address
        return False


def bind_refusal(host: str, api_key: str | None) -> str | None:
    """Why serving on ``host`` is refused (no key on a non-loopback address), or None if it is fine."""
    if api_key or is_loopback(host):
        return None
    return (
        f"Refusing to serve on {host} without an API key, as anyone who can reach it could use it: "
        "set DOCCHAT_API_KEY (clients send it as 'Authorization: Bearer <key>')."
    )


class BearerAuth:
    """ASGI middleware: requests need ``Authorization: Bearer <api_key>`` (compared in constant time).

    It runs before any body is read or parsed, so an unauthenticated client cannot make the server store an upload.
    With no key set (loopback only, see :func:`bind_refusal`), every request passes.
    """

    def __init__(self, app: ASGIApp, *, api_key: str | None) -> None:
        self.app = app
        self.expected = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
        scheme, _, token = header.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            error = APIError(
                401,
                "Missing API key: send it as the header 'Authorization: Bearer <key>' (the server's DOCCHAT_API_KEY).",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif not secrets.compare_digest(token.strip(), self.expected):
            error = APIError(401, "Incorrect API key.", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
        else:
            await self.app(scope, receive, send)
            return
        await error.response()(scope, receive, send)
