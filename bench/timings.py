"""How long docchat takes to fail when its Chroma server is stopped, silent or lost, against the same calls
to a server that is up (the baseline, in the same run).

tests/test_chroma_server.py checks what happens in these cases (a one-line message naming the server and the
setting, a non-zero exit, never a hang); the seconds it takes are measured here, not asserted in tests. Each
case runs ``--repeat`` times in this process (the CLI through typer's CliRunner, as the tests run it); one row
per case: the configured timeout, median and max seconds, and the start of the error message.

    .venv/bin/python bench/timings.py [--repeat 3] [--data-dir bench/out/timings]

The fault-making servers (``chroma run`` on a free port, a port that accepts and never answers, a proxy that can
be frozen mid-session) are defined here and used by tests/test_chroma_server.py too.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.fake_ollama import free_port  # noqa: E402  (stdlib only: the suite's one free_port)

CHROMA = Path(sys.executable).parent / "chroma"
START_TIMEOUT = 60.0  # seconds for `chroma run` to answer its heartbeat


# -- servers that are up, stopped, silent or frozen ------------------------------------------------------------


class ChromaDidNotStart(RuntimeError):
    """`chroma run` exited or did not answer its heartbeat in time (the message holds its log's tail)."""


@dataclass
class ChromaServer:
    """A `chroma run` process on a free loopback port."""

    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_chroma(folder: Path, start_timeout: float = START_TIMEOUT) -> ChromaServer:
    """Start `chroma run --path folder/db` and wait (bounded) until its heartbeat answers."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "chroma.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(folder / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = ChromaServer(f"http://127.0.0.1:{port}", port, process, log)
    deadline = time.monotonic() + start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise ChromaDidNotStart(f"chroma run exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(server.url + "/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    tail = log.read_text(errors="replace")[-2000:]
    raise ChromaDidNotStart(f"chroma run did not answer within {start_timeout:g} s:\n{tail}")


class SilentServer:
    """A loopback port that accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.listener.close()


class FreezableProxy:
    """A loopback TCP proxy to a server that can be told to stop answering (connections stay open)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn = self.listener.accept()[0]
            except OSError:
                continue
            self.sockets.append(conn)
            if self.frozen.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            self.sockets.append(upstream)
            for src, dst in ((conn, upstream), (upstream, conn)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.2)
        while not self.closed.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if not self.frozen.is_set():
                dst.sendall(data)  # frozen: swallowed, nothing comes back

    def close(self) -> None:
        self.closed.set()
        for thread in self.threads:
            thread.join(5)
        for sock in [*self.sockets, self.listener]:
            sock.close()


# -- the measurements --------------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    timeout: str
    seconds: list[float]
    outcome: str


def timed(call: Callable[[], object]) -> tuple[float, str]:
    """Seconds ``call`` took, and what it gave: its result or the error's first line."""
    started = time.perf_counter()
    try:
        outcome = str(call())
    except Exception as error:  # the failures are what is measured
        outcome = f"{type(error).__name__}: {error}"
    return time.perf_counter() - started, " ".join(outcome.split())


def cli(args: list[str], env: dict[str, str]) -> Callable[[], str]:
    """The ``docchat`` CLI in this process; its exit code and output."""
    from typer.testing import CliRunner

    from docchat.cli.main import app

    def run() -> str:
        result = CliRunner().invoke(app, args, env=env)
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        return f"exit {result.exit_code}" + "".join(f": {line}" for line in errors[:1])

    return run


def measure(rows: list[Row], case: str, timeout: str, call: Callable[[], object], repeat: int) -> None:
    runs = [timed(call) for _ in range(repeat)]
    rows.append(Row(case, timeout, [seconds for seconds, _ in runs], runs[-1][1]))
    print(f"  {case}: {statistics.median(rows[-1].seconds):.2f} s", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=REPO / "bench/out/timings", help="holds the ONNX export")
    args = parser.parse_args()

    import docchat  # noqa: F401  (offline, no-telemetry environment first)
    from bench.machine import machine_line
    from docchat.components.store import open_client
    from docchat.core.settings import Settings

    for key in [key for key in os.environ if key.startswith("DOCCHAT_")]:
        del os.environ[key]  # the developer's DOCCHAT_* settings do not apply here
    corpus = REPO / "corpus"
    data_dir = args.data_dir / "data"
    print(f"machine: {machine_line()}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="docchat-timings-") as scratch:
        server = start_chroma(Path(scratch) / "chroma")
        up = {"DOCCHAT_CHROMA_URL": server.url, "DOCCHAT_DATA_DIR": str(data_dir), "DOCCHAT_CHROMA_TIMEOUT": "3"}
        try:
            print("baseline: the server is up", file=sys.stderr)
            cli(["ingest", str(corpus)], up)()  # the ONNX export (first run only) and the collection
            measure(rows, "up: docchat collections", "3 s", cli(["collections"], up), args.repeat)
            measure(rows, "up: docchat ingest (unchanged)", "3 s", cli(["ingest", str(corpus)], up), args.repeat)
            client = open_client(Settings(data_dir=data_dir, chroma_url=server.url, chroma_timeout=3.0))
            measure(rows, "up: list_collections", "3 s", client.list_collections, args.repeat)
            proxy = FreezableProxy(server.port)
            proxied = Settings(data_dir=data_dir, chroma_url=f"http://127.0.0.1:{proxy.port}", chroma_timeout=0.5)
            frozen = open_client(proxied)
            frozen.list_collections()
            proxy.frozen.set()
            case = "frozen mid-session: list_collections"
            measure(rows, case, "6 x 0.5 s", frozen.list_collections, args.repeat)
            proxy.close()
        finally:
            server.stop()
        measure(rows, "stopped: docchat collections", "3 s", cli(["collections"], up), args.repeat)
        measure(rows, "stopped: docchat ingest", "3 s", cli(["ingest", str(corpus)], up), args.repeat)
        measure(rows, "lost (client made while up): list_collections", "3 s", client.list_collections, args.repeat)
        silent = SilentServer()
        try:
            quiet = {**up, "DOCCHAT_CHROMA_URL": f"http://127.0.0.1:{silent.port}", "DOCCHAT_CHROMA_TIMEOUT": "1"}
            settings = Settings(data_dir=data_dir, chroma_url=quiet["DOCCHAT_CHROMA_URL"], chroma_timeout=1.0)
            measure(rows, "silent: open_client", "1 s", lambda: open_client(settings), args.repeat)
            measure(rows, "silent: docchat collections", "1 s", cli(["collections"], quiet), args.repeat)
        finally:
            silent.close()

    print(f"\n{args.repeat} runs each, in this process. timeout: DOCCHAT_CHROMA_TIMEOUT, which bounds connecting and")
    print("the heartbeat; a request after the heartbeat may take 6 times as long (docchat.components.store)\n")
    print(f"| {'case':<46} | {'timeout':>9} | median s | max s | outcome |")
    print(f"|{'-' * 48}|{'-' * 11}|----------|-------|---------|")
    for row in rows:
        print(f"| {row.case:<46} | {row.timeout:>9} | {statistics.median(row.seconds):8.2f} | "
              f"{max(row.seconds):5.2f} | {row.outcome[:90]} |")  # fmt: skip


if __name__ == "__main__":
    main()
