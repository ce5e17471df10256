"""Tests for the chat backends: the real SmolLM2 GGUF in its supervised llama.cpp process, the OpenAI-compatible
backend against that same real server, and llama-index's Ollama client against a fake Ollama (no Ollama here).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from docchat.components.llm.backends import LocalLlamaChat, build_llm
from docchat.components.llm.catalog import resolve_model_path
from docchat.components.llm.server import LLMUnavailable
from docchat.core.settings import Settings

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


def llama_settings(tmp: Path, **overrides: object) -> Settings:
    args: dict[str, object] = {
        "data_dir": tmp,
        "llm_backend": "llamacpp",
        "llm_model": "smollm2-135m",
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


# -- llama.cpp, in its own process -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm(tmp_path_factory: pytest.TempPathFactory) -> LocalLlamaChat:
    llm = build_llm(llama_settings(tmp_path_factory.mktemp("llm")))
    assert isinstance(llm, LocalLlamaChat)
    llm.warm()
    return llm


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_streams_several_deltas_from_a_child_process(smollm: LocalLlamaChat) -> None:
    import os

    stream = smollm.stream_chat([SYSTEM, QUESTION])
    deltas = list(stream)
    assert len(deltas) >= 5
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip()
    assert smollm.name == "llamacpp:smollm2-135m"  # llm_name: the catalog name, not the file's
    assert smollm.server.pid is not None and smollm.server.pid != os.getpid()


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_complete_returns_text_and_respects_max_tokens(smollm: LocalLlamaChat) -> None:
    full = smollm.complete([SYSTEM, QUESTION])
    short = smollm.complete([SYSTEM, QUESTION], max_tokens=4)
    assert full.strip() and short.strip()
    assert len(short.split()) <= 4
    assert full.startswith(short)  # greedy decoding: the short answer is the long one's prefix
    assert full == "".join(smollm.stream_chat([SYSTEM, QUESTION]))


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_rejects_malformed_messages(smollm: LocalLlamaChat) -> None:
    with pytest.raises(ValueError):
        smollm.stream_chat([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError):
        smollm.stream_chat([])
    with pytest.raises(ValueError):
        smollm.complete([QUESTION], max_tokens=0)  # llama.cpp would read 0 as "no limit"


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_two_threads_streaming_at_once_are_serialised(smollm: LocalLlamaChat) -> None:
    questions = [
        {"role": "user", "content": "Explain in a paragraph how a bicycle works."},
        {"role": "user", "content": "What is the capital of France? Describe that city in a paragraph."},
    ]
    barrier = threading.Barrier(2)

    def worker(question: dict[str, str]) -> list[tuple[float, str]]:
        stream = smollm.stream_chat([SYSTEM, question], max_tokens=150)
        barrier.wait()  # both threads ask for their first delta at the same moment
        return [(time.perf_counter(), delta) for delta in stream]

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(worker, q) for q in questions]]
    # Each thread gets a whole answer of its own (the prefix cache may change a greedy answer's wording
    # slightly, depending on the previous prompt, so the texts are not compared with a sequential run).
    texts = ["".join(d for _, d in r) for r in results]
    assert all(text.strip() for text in texts)
    assert "Paris" in texts[1] and "Paris" not in texts[0]
    # The model process generates one answer at a time. Timestamps are taken here, in the client: while the
    # second prompt is read, the model process holds both cores and the first thread may see its last deltas
    # late (72 ms once in CI). So the test counts the first answer's deltas seen after the second answer
    # began. Generated at the same time, that was 64 of 66 (tried with two model processes); one after the
    # other, only those still waiting to be read.
    first, second = sorted(results, key=lambda r: r[0][0])
    assert min(len(first), len(second)) >= 30  # long answers, so a few late deltas are a small share of either
    late = sum(t > second[0][0] for t, _ in first)
    assert late <= len(first) // 2, f"{late} of {len(first)} deltas of the first answer came after the second began"


@pytest.mark.slow  # runs the real SmolLM2 model
def test_llamacpp_abandoned_stream_frees_the_model_at_once(tmp_path: Path) -> None:
    llm = build_llm(llama_settings(tmp_path, llm_max_tokens=1500, llm_context=2048))
    long_task = [{"role": "user", "content": "Count from 1 to 1000, one number per line."}]
    stream = llm.stream_chat(long_task)
    assert next(stream)
    stream.close()  # type: ignore[attr-defined]
    # Had the server kept generating the 1500 tokens (about 12 s on 2 cores), its process would keep burning CPU.
    assert llm.server.pid is not None
    time.sleep(0.5)  # let the server notice the closed connection
    assert _cpu_seconds(llm.server.pid, over=2.0) < 0.5, "the model process kept generating after the client left"
    assert llm.complete([QUESTION], max_tokens=4).strip()


def _cpu_seconds(pid: int, over: float) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` uses during the next ``over`` seconds."""

    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    before = used()
    time.sleep(over)
    return used() - before


@pytest.mark.parametrize("kind", ["missing", "directory", "not-gguf"])
def test_bad_model_path_is_llm_unavailable_at_build(tmp_path: Path, kind: str) -> None:
    paths = {"missing": tmp_path / "nope.gguf", "directory": tmp_path, "not-gguf": tmp_path / "notes.gguf"}
    path = paths[kind]
    if kind == "not-gguf":
        path.write_text("this is not a model")
    with pytest.raises(LLMUnavailable) as err:
        build_llm(llama_settings(tmp_path, llm_model_path=path))
    message = str(err.value)
    assert "DOCCHAT_LLM_MODEL_PATH" in message and str(path) in message
    assert_one_sentence(message)


def test_truncated_gguf_fails_on_first_use_naming_the_log(tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    with resolve_model_path(llama_settings(tmp_path)).open("rb") as f:
        path.write_bytes(f.read(1 << 20))  # valid GGUF magic, missing tensors
    llm = build_llm(llama_settings(tmp_path / "data", llm_model_path=path))
    stream = llm.stream_chat([QUESTION])
    with pytest.raises(LLMUnavailable) as err:
        next(stream)
    message = str(err.value)
    assert "truncated.gguf" in message and "model-server.log" in message and "docchat models check" in message
    assert "exited with status" in message
    assert_one_sentence(message)


# -- any OpenAI-compatible server (here: the real llama.cpp server of the embedded model) --------------------


@pytest.mark.slow  # runs the real SmolLM2 model
def test_openai_backend_talks_to_a_real_openai_compatible_server(smollm: LocalLlamaChat, tmp_path: Path) -> None:
    url = smollm.server.base_url()
    llm = build_llm(Settings(data_dir=tmp_path, llm_backend="openai", openai_url=url, openai_model="any",
                             llm_max_tokens=48, llm_temperature=0.0))  # fmt: skip
    assert llm.name == "openai:any"
    deltas = list(llm.stream_chat([SYSTEM, QUESTION]))
    assert len(deltas) >= 5
    assert "".join(deltas).strip()
    assert 1 <= len(llm.complete([SYSTEM, QUESTION], max_tokens=3).split()) <= 3


def test_openai_backend_unreachable_server_is_one_sentence(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = build_llm(Settings(data_dir=tmp_path, llm_backend="openai", openai_url=url))
    with pytest.raises(LLMUnavailable) as err:
        list(llm.stream_chat([QUESTION]))
    message = str(err.value)
    assert url in message and "DOCCHAT_OPENAI_URL" in message
    assert_one_sentence(message)


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
    with pytest.raises(LLMUnavailable) as err:
        list(llm.stream_chat([QUESTION]))
    assert isinstance(err.value.__cause__, httpx.ConnectError)  # refused at once, no retries
    message = str(err.value)
    assert url in message and "ollama serve" in message and "DOCCHAT_OLLAMA_URL" in message
    assert_one_sentence(message)


def test_ollama_hanging_connect_is_bounded() -> None:
    """A server whose listen backlog is full drops new SYNs: connecting hangs until the connect timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(server.getsockname())
            llm = build_llm(ollama_settings(url, llm_timeout=2.0, llm_connect_timeout=0.5))
            with pytest.raises(LLMUnavailable) as err:
                next(llm.stream_chat([QUESTION]))
        finally:
            for filler in fillers:
                filler.close()
    if not isinstance(err.value.__cause__, httpx.ConnectTimeout):
        pytest.skip(f"could not make connecting hang here ({err.value.__cause__!r})")
    assert f"Cannot reach Ollama at {url}" in str(err.value)  # the connect timeout (0.5 s) fired, not llm_timeout


def test_ollama_slow_answer_is_bounded_by_llm_timeout() -> None:
    with run_fake_ollama(models={"llama3.2:3b": CANNED}, delay=2.0) as url:
        llm = build_llm(ollama_settings(url, llm_timeout=0.3))
        with pytest.raises(LLMUnavailable) as err:
            list(llm.stream_chat([QUESTION]))
    assert isinstance(err.value.__cause__, httpx.ReadTimeout)  # without the timeout the answer comes after 2 s
    assert "DOCCHAT_LLM_TIMEOUT" in str(err.value) and url in str(err.value)
    assert_one_sentence(str(err.value))
