"""The embedded model's process: llama.cpp's OpenAI-compatible server, started and supervised by docchat.

The model never runs inside the UI's (or any API server's) process: a llama.cpp crash (SIGILL on an
unsupported instruction, SIGKILL from the OOM killer) ends only this child. ``LlamaServer`` starts
``python -m llama_cpp.server`` on a free loopback port, waits until it answers, and restarts it on the
next request after it died; ``exit_reason()`` says how it ended. The child dies with its parent
(``PR_SET_PDEATHSIG``, in ``child.py``), and its log goes to a file so a failed start can be explained.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from docchat.core.errors import DocchatError

log = logging.getLogger(__name__)


class LLMUnavailable(DocchatError):
    """The LLM cannot answer; the message is ONE clear sentence telling the user what to do."""


class ModelCrashed(LLMUnavailable):
    """The model process died while answering; it is restarted for the next question."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def describe_exit(code: int) -> str:
    """Words for a child's exit status, e.g. ``killed by signal 9, SIGKILL``."""
    if code < 0:
        number = -code
        with contextlib.suppress(ValueError):
            return f"killed by signal {number}, {signal.Signals(number).name}"
        return f"killed by signal {number}"
    return f"exited with status {code}"


class LlamaServer:
    """One supervised ``llama_cpp.server`` child serving one GGUF model on 127.0.0.1.

    Thread-safe: the first caller of ``base_url()`` starts the child, later callers share it; after
    the child dies, the next ``base_url()`` starts a new one. Generation is serialised by the server
    itself (``interrupt_requests`` off, so a new request waits instead of cutting another one short).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int,
        n_threads: int,
        n_threads_batch: int,
        log_file: Path,
        flash_attention: bool,
        start_timeout: float = 120.0,
    ) -> None:
        self.model_path = model_path
        self.n_ctx, self.n_threads, self.n_threads_batch = n_ctx, n_threads, n_threads_batch
        self.flash_attention = flash_attention
        self.log_file = log_file
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._url = ""
        self.restarts = 0  # how many times a dead child was replaced
        self.stops = 0  # how many times stop() was called
        # Linux's PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a child
        # forked by a short-lived thread (a Streamlit script run, a restart thread) would be killed with it. So
        # every child is forked by this one long-lived thread.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docchat-model-spawner")

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def exit_reason(self) -> str | None:
        """How the child ended (None while it runs or before it started)."""
        process = self._process
        if process is None or process.poll() is None:
            return None
        return describe_exit(process.returncode)

    def wait_exit(self, timeout: float) -> str | None:
        """After a broken connection: how the child ended, waiting up to ``timeout`` s for it (None: alive)."""
        process = self._process
        if process is None:
            return None
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return describe_exit(process.returncode)

    def base_url(self) -> str:
        """The server's OpenAI base URL (``http://127.0.0.1:PORT/v1``), starting the child if needed."""
        with self._lock:
            self._ensure_running()
            return self._url

    def revive(self, stops: int) -> None:
        """Restart a child that died, unless :meth:`stop` was called since ``stops`` (its count then) was read: a
        restart after a crash must not outlive a caller that has stopped the server (``docchat models check``)."""
        with self._lock:
            if self.stops == stops:
                self._ensure_running()

    def _ensure_running(self) -> None:
        """Start the child, or a new one if it died (call with the lock held)."""
        if self._process is not None and self._process.poll() is None:
            return
        if self._process is not None:
            log.warning("the model process %s; restarting it", self.exit_reason())
            self.restarts += 1
        self._start()

    def _command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "docchat.components.llm.child", str(os.getpid()),
            "--model", str(self.model_path),  # always a local file: nothing is downloaded
            "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads_batch),
            # llama_cpp.server computes (and copies out) the logits of every prompt token unless told not to: a
            # fifth of the time to read a prompt, for logprobs that docchat never asks for
            "--logits_all", "False",
            "--flash_attn", str(self.flash_attention),
            "--interrupt_requests", "False",  # a second request waits; it never cuts the first short
            "--verbose", "False",
        ]  # fmt: skip

    def _start(self) -> None:
        """Start the child and wait until it answers (call with the lock held)."""
        port = free_port()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log_out:
            self._process = self._spawner.submit(
                subprocess.Popen,
                self._command(port),
                stdin=subprocess.DEVNULL,
                stdout=log_out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            ).result()
        self._url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LLMUnavailable(
                    f"The local model process {self.exit_reason()} while loading {self.model_path.name}; "
                    f"see {self.log_file}, and run `docchat models check` to test the model and llama.cpp build."
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self._url}/models", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        self._terminate()
        raise LLMUnavailable(f"The local model did not start within {self.start_timeout:g} s; see {self.log_file}.")

    def stop(self) -> None:
        """Stop the child (if running, or once a start under way is done) and wait for it."""
        with self._lock:
            self.stops += 1
            self._terminate()

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
