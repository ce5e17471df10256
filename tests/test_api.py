"""``docchat serve``: the OpenAI-compatible API over HTTP on a loopback port, driven by the official ``openai`` client.

Real store (the default corpus), real MiniLM, real SmolLM2 in llama.cpp's server process; uvicorn serves the app
from a background thread of this process. Raw requests the openai client cannot send go through httpx. The LLM
is wrapped only to record how each of its streams ended (read to the end, or closed early).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient

from docchat.app.api.server import create_app
from docchat.app.engine import Engine
from docchat.components.llm.backends import build_llm
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS, REPO, is_user_setting
from tests.fake_ollama import free_port

KEY = "test-key-0123456789"
COLLAB = "Which government agency built Collab?"
ERROR_FIELDS = {"message", "type", "param", "code"}
CITATION_FIELDS = {"number", "source", "title", "heading", "lines", "page", "quote"}
LIMIT_MB = 0.05  # request and upload limits of the test server (about 52 KB)
ZORBLAX = "# Zorblax\n\nThe zorblax protocol was designed by Ada Quillfeather in 1987 for lighthouse telegraphy.\n"


class RecordingLLM:
    """The real LLM; records, for each answer stream, whether it ran to its end or was closed early."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.profile = inner, inner.name, inner.profile
        self.ends: list[tuple[str, float]] = []  # ("finished" | "closed", monotonic time)

    def stream_chat(self, messages, max_tokens=None):
        stream = self.inner.stream_chat(messages, max_tokens)
        finished = False
        try:
            yield from stream
            finished = True
        finally:
            stream.close()
            self.ends.append(("finished" if finished else "closed", time.monotonic()))

    def complete(self, messages, max_tokens=None):
        return self.inner.complete(messages, max_tokens)

    def warm(self) -> None:
        self.inner.warm()


@dataclass
class Served:
    url: str
    port: int
    settings: Settings
    engine: Engine
    llm: RecordingLLM
    root: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Served]:
    """The API over the default corpus, with a key and small limits, on a free loopback port."""
    root = tmp_path_factory.mktemp("api")
    settings = Settings(data_dir=root / "data", api_key=KEY, api_max_request_mb=LIMIT_MB, api_max_upload_mb=LIMIT_MB)
    report = ingest_paths(settings, [CORPUS], embedder=embedder)
    assert report.chunks_written > 0 and not report.failed
    llm = RecordingLLM(build_llm(settings))
    engine = Engine(settings, embedder=embedder, llm=llm)
    app = create_app(settings, engine, ingest_embedder=embedder)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="docchat-api-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 180  # start-up warms the engine (store, embedder, model)
    while not server.started:
        assert thread.is_alive(), "the API server stopped during start-up"
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", port, settings, engine, llm, root)
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=KEY, max_retries=0, timeout=240)


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    """``response`` is ``status`` with exactly OpenAI's error shape; returns the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_FIELDS, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in response.text
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]


def assert_citations(extra: dict, text: str) -> None:
    """Checked citations in the documented shape, one naming the Collab passage, each marker in ``text``."""
    citations = extra["citations"]
    assert citations, extra
    for citation in citations:
        assert set(citation) == CITATION_FIELDS
        assert citation["page"] is None  # a text file: lines, not pages
        assert f"[{citation['number']}]" in text, (citation, text)
    assert any(c["source"] == "full-stack-python.txt" and "Collab" in c["quote"] for c in citations), citations


# -- models, collections, health --------------------------------------------------------------------------------


def test_models_are_the_collections(client: openai.OpenAI, served: Served) -> None:
    models = client.models.list().data
    [model] = [m for m in models if m.id == "default"]
    assert model.object == "model"
    extra = model.model_extra or {}
    assert extra["documents"] == 1 and extra["chunks"] > 0
    assert extra["embedder"] == "all-MiniLM-L6-v2"
    assert "smollm2-135m" in extra["llm"]
    listed = httpx.get(f"{served.url}/v1/collections", headers=auth()).json()
    assert "default" in {row["name"] for row in listed["data"]}


def test_healthz_needs_no_key_and_the_compose_healthcheck_passes(served: Served) -> None:
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["api"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]

    def run(port: int) -> int:
        code = command[3].replace(":8000/", f":{port}/")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode

    assert run(served.port) == 0
    assert run(free_port()) != 0


# -- answers ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_completion_keeps_checked_citations(client: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": COLLAB}]
    response = client.chat.completions.create(model="default", messages=messages)
    assert response.object == "chat.completion" and response.model == "default"
    text = response.choices[0].message.content or ""
    assert response.choices[0].finish_reason == "stop"
    extra = response.model_extra or {}
    assert extra["abstained"] is False
    assert extra["standalone_question"] == COLLAB
    assert extra["retrieved"][0]["source"] == "full-stack-python.txt"
    assert_citations(extra, text)
    assert re.search(r"\[\d+\]", text)  # the text keeps its markers
    assert response.usage is not None and response.usage.prompt_tokens is None  # unknown: not invented
    if extra["mode"] == "generated":
        assert response.usage.completion_tokens > 0


@pytest.mark.slow
def test_streaming_completion_sends_tokens_then_the_citations(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="default", messages=[user(COLLAB)], stream=True)
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed.strip()
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    extra = last.model_extra or {}
    assert extra["abstained"] is False
    final = extra["final_answer"]  # the checked text, only when it differs from the streamed one
    assert final is None or " ".join(final.split()) != " ".join(streamed.split())
    assert_citations(extra, final if final is not None else streamed)
    assert last.usage is not None and last.usage.completion_tokens > 0


def test_streamed_abstention_sends_the_refusal_and_done(served: Served) -> None:
    """Off-topic: abstained before the model; the refusal is the streamed text, the stream ends with [DONE]."""
    body = {"model": "default", "stream": True, "messages": [user("What is the capital of Peru?")]}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, headers=auth(), timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "do not cover" in text
    assert chunks[-1]["abstained"] is True and chunks[-1]["citations"] == [] and chunks[-1]["final_answer"] is None


@pytest.mark.slow
def test_follow_up_uses_the_history(client: openai.OpenAI) -> None:
    messages = [
        {"role": "user", "content": COLLAB},
        {"role": "assistant", "content": "The Consumer Financial Protection Bureau (CFPB) built Collab [1]."},
        {"role": "user", "content": "Is it still in use?"},
    ]
    response = client.chat.completions.create(model="default", messages=messages)
    extra = response.model_extra or {}
    assert "Collab" in extra["standalone_question"]  # retrieved with the earlier question's subject
    assert extra["retrieved"][0]["heading"].endswith("Government agencies")
    assert (response.choices[0].message.content or "").strip()


@pytest.mark.slow
def test_a_client_that_leaves_mid_stream_frees_the_model(client: openai.OpenAI, served: Served) -> None:
    question = "Explain in detail what Collab is, who built it and who uses it."
    ends_before = len(served.llm.ends)
    stream = client.chat.completions.create(model="default", messages=[user(question)], stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    # while that answer is being generated, other requests are served
    assert httpx.get(f"{served.url}/v1/models", headers=auth(), timeout=60).status_code == 200
    assert len(served.llm.ends) == ends_before, "the answer was already over: /v1/models did not overlap it"
    stream.close()
    closed_at = time.monotonic()
    deadline = closed_at + 10
    while len(served.llm.ends) == ends_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(served.llm.ends) > ends_before, "the model stream was not closed after the client left"
    how, _ = served.llm.ends[ends_before]
    assert how == "closed", "the answer was generated to its end for nobody"
    response = client.chat.completions.create(model="default", messages=[user(COLLAB)])  # the model is free
    assert (response.choices[0].message.content or "").strip()


# -- auth and bad input ------------------------------------------------------------------------------------------


def test_missing_and_wrong_keys_are_refused(served: Served) -> None:
    error = assert_error(httpx.get(f"{served.url}/v1/models"), 401)
    assert error["code"] == "invalid_api_key" and "Authorization: Bearer" in error["message"]
    assert_error(httpx.get(f"{served.url}/v1/models", headers=auth("wrong-key")), 401)
    basic = {"Authorization": f"Basic {KEY}"}  # the key, but not as a bearer token
    assert_error(httpx.post(f"{served.url}/v1/chat/completions", content=b"{", headers=basic), 401)
    wrong = openai.OpenAI(base_url=f"{served.url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.chat.completions.create(model="default", messages=[user(COLLAB)])
    assert raised.value.status_code == 401 and raised.value.code == "invalid_api_key"


BAD_REQUESTS = {
    "bad JSON": (b'{"model": "default", "messages": [', 400, None),
    "no body": (b"", 400, None),
    "not an object": ([user("hi")], 400, None),
    "empty message list": ({"model": "default", "messages": []}, 400, "messages"),
    "no messages": ({"model": "default"}, 400, "messages"),
    "wrong role": ({"model": "default", "messages": [{"role": "robot", "content": "hi"}]}, 400, "messages[0].role"),
    "last message from the assistant": (
        {"model": "default", "messages": [user(COLLAB), {"role": "assistant", "content": "CFPB."}]},
        400,
        "messages",
    ),
    "empty question": ({"model": "default", "messages": [user("  ")]}, 400, "messages"),
    "content not text": ({"model": "default", "messages": [{"role": "user", "content": 42}]}, 400, None),
    "unknown collection": ({"model": "no-such-collection", "messages": [user(COLLAB)]}, 404, "model"),
    "oversized body": ({"model": "default", "messages": [user("word " * 20_000)]}, 413, None),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_get_a_4xx_in_openai_shape(served: Served, case: str) -> None:
    body, status, param = BAD_REQUESTS[case]
    url = f"{served.url}/v1/chat/completions"
    headers = {**auth(), "Content-Type": "application/json"}
    if isinstance(body, bytes):
        response = httpx.post(url, content=body, headers=headers, timeout=60)
    else:
        response = httpx.post(url, json=body, headers=auth(), timeout=60)
    assert_error(response, status, param)


def test_a_chunked_body_over_the_limit_is_cut_off(served: Served) -> None:
    """No Content-Length to refuse up front: the body is counted while it is read."""

    def body(size: int) -> Iterator[bytes]:
        yield b'{"model": "default", "messages": [{"role": "user", "content": "'
        yield from (b"word " * 1000 for _ in range(size // 5000))
        yield b'"}]}'

    url = f"{served.url}/v1/chat/completions"
    headers = {**auth(), "Content-Type": "application/json"}
    error = assert_error(httpx.post(url, content=body(200_000), headers=headers, timeout=60), 413)
    assert "DOCCHAT_API_MAX_REQUEST_MB" in error["message"] and "word" not in error["message"]


def test_unknown_collection_through_the_openai_client(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="no-such-collection", messages=[user(COLLAB)], stream=True)
    assert raised.value.code == "model_not_found"


def test_unexpected_errors_are_a_generic_500(tmp_path: Path) -> None:
    class BrokenEngine:
        def warm(self) -> list[str]:
            return []

        @property
        def client(self):
            raise RuntimeError("secret internal detail")

    app = create_app(Settings(data_dir=tmp_path / "data", api_key=KEY), BrokenEngine())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/v1/models", headers=auth())
    error = assert_error(response, 500)
    assert error["type"] == "server_error" and "secret" not in response.text


# -- uploads -------------------------------------------------------------------------------------------------------


def files_outside(root: Path, data: Path) -> set[Path]:
    return {p for p in root.rglob("*") if data not in p.parents and p != data}


def test_upload_ingests_sanitised_files_into_the_collection(served: Served) -> None:
    data = served.settings.store.data_dir
    outside_before = files_outside(served.root, data)
    files = [
        ("files", ("zorblax.md", ZORBLAX.encode(), "text/markdown")),
        ("files", ("../../evil.md", b"# Evil\n\nThis file tried to climb out of its folder.\n", "text/markdown")),
        ("files", (".hidden.md", b"# Hidden\n\nA dotfile name.\n", "text/markdown")),
        ("files", ("tool.exe", b"MZ", "application/octet-stream")),
    ]
    response = httpx.post(f"{served.url}/v1/collections/uploaded/documents", files=files, headers=auth(), timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["collection"] == "uploaded"
    assert sorted(result["saved"]) == ["evil.md", "hidden.md", "zorblax.md"]
    assert len(result["rejected"]) == 1 and "tool.exe" in result["rejected"][0]
    assert result["ingest"]["added"] == 3 and result["ingest"]["chunks_written"] >= 3
    folder = data / "uploads" / "uploaded"
    assert sorted(p.name for p in folder.iterdir()) == ["evil.md", "hidden.md", "zorblax.md"]
    assert files_outside(served.root, data) == outside_before  # nothing written outside the data dir
    assert list(served.root.rglob("evil.md")) == [folder / "evil.md"]
    passages = served.engine.retrieve("Who designed the zorblax protocol?", collection="uploaded")
    assert passages[0].source == "zorblax.md" and "Ada Quillfeather" in passages[0].text
    models = httpx.get(f"{served.url}/v1/models", headers=auth()).json()["data"]
    assert {"default", "uploaded"} <= {m["id"] for m in models}


def test_upload_refusals(served: Served) -> None:
    url = f"{served.url}/v1/collections/uploaded/documents"
    big = ("files", ("big.md", b"# Big\n\n" + b"word " * 20_000, "text/markdown"))
    assert_error(httpx.post(url, files=[big], headers=auth(), timeout=60), 413)
    assert not (served.settings.store.data_dir / "uploads" / "uploaded" / "big.md").exists()
    only_bad = [("files", ("tool.exe", b"MZ", "application/octet-stream"))]
    assert_error(httpx.post(url, files=only_bad, headers=auth(), timeout=60), 400, "files")
    assert_error(httpx.post(url, headers=auth(), timeout=60), 400)  # no files at all
    small = [("files", ("a.md", b"# A\n\nA small file.\n", "text/markdown"))]
    bad_name = f"{served.url}/v1/collections/x/documents"  # too short to be a collection name
    assert_error(httpx.post(bad_name, files=small, headers=auth(), timeout=60), 400, "name")
    assert_error(httpx.post(url, files=small, timeout=60), 401)
    assert not (served.settings.store.data_dir / "uploads" / "x").exists()


# -- start-up ------------------------------------------------------------------------------------------------------


def test_non_loopback_bind_without_a_key_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not is_user_setting(k)}
    env["DOCCHAT_DATA_DIR"] = str(tmp_path / "data")
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "docchat.cli.main", "serve", "--host", "0.0.0.0", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "set DOCCHAT_API_KEY" in lines[0], result.stderr
    assert "docchat API on" not in result.stderr + result.stdout  # no server was started
    assert not (tmp_path / "data").exists()
