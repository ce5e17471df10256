"""A fake Ollama server for tests: it STANDS IN for Ollama, which cannot be installed on these machines.

A stdlib ``http.server`` in a daemon thread on 127.0.0.1 (a free port) speaking the parts of Ollama's HTTP
API that docchat's client stack (llama-index's ``Ollama`` -> the ``ollama`` python client -> httpx) uses:

- ``POST /api/chat``: HTTP/1.1 chunked ``application/x-ndjson`` stream, one chunk per word
  ``{"model", "created_at", "message": {"role": "assistant", "content": "tok"}, "done": false}``, then
  ``{"done": true, "done_reason": "stop"|"length", "total_duration", "eval_count", ...}``; or one JSON
  object when ``"stream": false``. ``options.num_predict`` caps the words sent (done_reason "length").
- ``GET /api/tags``, ``POST /api/show``, ``GET /api/version``, ``GET /`` ("Ollama is running").
- unknown models: 404 ``{"error": "model \\"x\\" not found, try pulling it first"}`` (as Ollama does);
  unknown paths: 404 ``404 page not found``.

Every request is recorded (method, path, parsed JSON body) so tests can assert what the client sent::

    with run_fake_ollama(models={"llama3.2:3b": "canned reply text"}) as url:
        Settings(llm_backend="ollama", ollama_url=url)...
        url.chats()[0]["messages"]   # url is a str with .requests / .chats()
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class RecordedRequest:
    """One request the fake server got."""

    method: str
    path: str
    body: Any = None  # parsed JSON, or the raw text if it was not JSON, or None if empty
    headers: dict[str, str] = field(default_factory=dict)


class FakeOllamaURL(str):
    """The fake server's base URL (a plain ``str`` to pass as ``ollama_url``) carrying what it received."""

    requests: list[RecordedRequest]

    def __new__(cls, url: str, requests: list[RecordedRequest]) -> Self:
        self = super().__new__(cls, url)
        self.requests = requests
        return self

    def chats(self) -> list[dict[str, Any]]:
        """Bodies of the ``/api/chat`` requests, oldest first."""
        return [r.body for r in list(self.requests) if r.path == "/api/chat"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call).

    The suite's one ``free_port``: tests import it from tests/conftest.py (which re-exports it); it lives here,
    in a stdlib-only module, so that bench/ scripts can use it without importing pytest or the models."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _full_name(model: str) -> str:
    """Ollama's name resolution: a model without a tag means ``:latest``."""
    return model if ":" in model else f"{model}:latest"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _details(name: str) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like Ollama's Go server
    server: _FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw
        self.server.record(RecordedRequest(self.command, self.path, body, dict(self.headers.items())))
        return body

    def _send(self, status: int, payload: Any, content_type: str = "application/json; charset=utf-8") -> None:
        data = (json.dumps(payload) if not isinstance(payload, str) else payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found_model(self, model: str) -> None:
        self._send(404, {"error": f'model "{model}" not found, try pulling it first'})

    def _unknown_path(self) -> None:
        self._send(404, "404 page not found", "text/plain")

    # -- routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._read_body()
        if self.path == "/":
            self._send(200, "Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/version":
            self._send(200, {"version": "0.0.0-fake"})
        elif self.path == "/api/tags":
            models = [
                {
                    "name": name,
                    "model": name,
                    "modified_at": _now(),
                    "size": 2_019_393_189,
                    "digest": hashlib.sha256(name.encode()).hexdigest(),
                    "details": _details(name),
                }
                for name in self.server.models
            ]
            self._send(200, {"models": models})
        else:
            self._unknown_path()

    def do_HEAD(self) -> None:
        self._read_body()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self._read_body()
        body = body if isinstance(body, dict) else {}
        if self.path == "/api/show":
            model = _full_name(str(body.get("model") or body.get("name") or ""))
            if model not in self.server.models:
                self._not_found_model(model)
                return
            self._send(
                200,
                {
                    "modelfile": f"FROM {model}",
                    "parameters": 'stop "<|eot_id|>"',
                    "template": "{{ .Prompt }}",
                    "details": _details(model),
                    "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                    "capabilities": ["completion", "tools"],
                    "modified_at": _now(),
                },
            )
        elif self.path == "/api/chat":
            self._chat(body)
        else:
            self._unknown_path()

    def _chat(self, body: dict[str, Any]) -> None:
        model = _full_name(str(body.get("model") or ""))
        if model not in self.server.models:
            self._not_found_model(str(body.get("model")))
            return
        if self.server.delay:
            time.sleep(self.server.delay)
        words = re.findall(r"\s*\S+\s*", self.server.models[model]) or [""]
        limit = (body.get("options") or {}).get("num_predict")
        done_reason = "stop"
        if isinstance(limit, int) and 0 <= limit < len(words):
            words, done_reason = words[:limit], "length"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        final = {
            "model": body.get("model"),
            "created_at": _now(),
            "done": True,
            "done_reason": done_reason,
            "total_duration": 123_456_789,
            "load_duration": 1_234_567,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 12_345_678,
            "eval_count": len(words),
            "eval_duration": 98_765_432,
        }
        if body.get("stream") is False:
            message = {"role": "assistant", "content": "".join(words)}
            self._send(200, {**final, "message": message})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for word in words:
            self._chunk(
                {
                    "model": body.get("model"),
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": word},
                    "done": False,
                }
            )
        self._chunk({**final, "message": {"role": "assistant", "content": ""}})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class _FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, models: dict[str, str], delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.models = {_full_name(k): v for k, v in models.items()}
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


@contextmanager
def run_fake_ollama(models: dict[str, str] | None = None, *, delay: float = 0.0) -> Iterator[FakeOllamaURL]:
    """Run a fake Ollama serving ``models`` ({tag: canned reply}); yields its URL (with ``.requests``).

    ``delay``: seconds to wait before answering each ``/api/chat`` (to test client timeouts).
    """
    if models is None:
        models = {"llama3.2:3b": "Hello from the fake Ollama."}
    server = _FakeServer(models, delay)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield FakeOllamaURL(f"http://{host}:{port}", server.requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
