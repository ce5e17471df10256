"""Client/server mode against a REAL Chroma server (`chroma run` from the installed chromadb).

Ingest, re-ingest, model-mismatch refusal and retrieval over HTTP behave as with the embedded store;
a stopped, silent or lost server gives a clear message and a non-zero exit within the timeout, never a hang.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from docchat.cli import app as cli_app
from docchat.errors import ModelMismatch, StoreUnavailable
from docchat.settings import Settings
from docchat.store import list_collections, open_client, open_collection
from ingest.embed import Embedder
from ingest.pipeline import ingest_paths

from .conftest import CORPUS, REPO

CHROMA = Path(sys.executable).parent / "chroma"
START_TIMEOUT = 60.0  # seconds for `chroma run` to answer its heartbeat
QUESTION = "Which government agency built Collab?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def start_chroma(folder: Path) -> ChromaServer:
    """Start `chroma run --path folder` and wait (bounded) until its heartbeat answers."""
    port = _free_port()
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
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chroma run exited with {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(server.url + "/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"chroma run did not answer within {START_TIMEOUT:g} s:\n{log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One real Chroma server for the module's tests (each test uses its own collection)."""
    server = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield server
    server.stop()


@pytest.fixture
def make_settings(settings: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Settings over a fresh data dir (the conftest's env-free ones), with overrides."""

    def make(name: str, **overrides: object) -> Settings:
        return settings.model_copy(update={"data_dir": tmp_path / name, **overrides})

    return make


def _rows(settings: Settings) -> dict[str, tuple[str, dict]]:
    collection = open_client(settings).get_collection(settings.collection)
    got = collection.get(include=["documents", "metadatas"])
    return {i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}


def test_ingest_over_server_matches_embedded(chroma_server, make_settings, embedder: Embedder) -> None:
    embedded = make_settings("embedded", collection="parity")
    served = make_settings("served", collection="parity", chroma_url=chroma_server.url)

    local = ingest_paths(embedded, [CORPUS], embedder=embedder)
    remote = ingest_paths(served, [CORPUS], embedder=embedder)

    assert not served.chroma_path.exists(), "server mode must not create an embedded store"
    assert remote.added == local.added > 0
    assert remote.chunks_written == local.chunks_written > 0
    local_rows, remote_rows = _rows(embedded), _rows(served)
    assert len(remote_rows) == len(local_rows) == local.chunks_written
    assert remote_rows.keys() == local_rows.keys()
    for chunk_id, (text, meta) in local_rows.items():
        assert remote_rows[chunk_id][0] == text
        assert remote_rows[chunk_id][1] == meta

    local_meta = open_client(embedded).get_collection("parity").metadata
    remote_meta = open_client(served).get_collection("parity").metadata
    for key in ("embed_model", "embed_dim", "documents", "chunker"):
        assert remote_meta[key] == local_meta[key], key
    assert remote_meta["generation"] and local_meta["generation"]  # bumped by the ingest that wrote chunks

    [info] = [info for info in list_collections(open_client(served)) if info.name == "parity"]
    assert (info.chunks, info.documents, info.embed_model) == (len(local_rows), 1, embedder.name)

    again = ingest_paths(served, [CORPUS], embedder=embedder)
    assert (again.added, again.updated, again.deleted, again.chunks_written) == (0, 0, 0, 0)
    assert again.unchanged == again.files_seen == local.files_seen
    assert open_client(served).get_collection("parity").metadata["generation"] == remote_meta["generation"]
    assert _rows(served).keys() == local_rows.keys()


def test_model_mismatch_refused_over_server(chroma_server, make_settings, embedder: Embedder) -> None:
    served = make_settings("served", collection="mismatch", chroma_url=chroma_server.url)
    client = open_client(served)
    open_collection(client, "mismatch", "some-other-model", 768, create=True)

    with pytest.raises(ModelMismatch, match="some-other-model"):
        ingest_paths(served, [CORPUS], embedder=embedder)
    with pytest.raises(ModelMismatch):
        open_collection(client, "mismatch", embedder.name, embedder.dimension)
    assert client.get_collection("mismatch").count() == 0


def test_retrieval_over_server_cites_same_source(chroma_server, make_settings, embedder: Embedder) -> None:
    engine_module = pytest.importorskip("app.engine")
    embedded = make_settings("embedded", collection="answers")
    served = make_settings("served", collection="answers", chroma_url=chroma_server.url)
    ingest_paths(embedded, [CORPUS], embedder=embedder)
    ingest_paths(served, [CORPUS], embedder=embedder)

    local = engine_module.Engine(embedded, embedder=embedder).retrieve(QUESTION)
    remote = engine_module.Engine(served, embedder=embedder).retrieve(QUESTION)

    assert remote, "no passages retrieved over the server"
    assert remote[0].source == "full-stack-python.txt"
    assert [p.source for p in remote] == [p.source for p in local]
    assert "Consumer Financial Protection Bureau" in " ".join(p.text for p in remote)


# -- a server that is down, silent or lost -----------------------------------------------------------------


def _invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, float]:
    """Run the CLI in-process; (exit code, its output with whitespace collapsed, seconds)."""
    started = time.monotonic()
    result = CliRunner().invoke(cli_app, args, env=env)
    seconds = time.monotonic() - started
    return result.exit_code, " ".join(result.output.split()), seconds  # click >= 8.2: stdout and stderr


def _in_thread(function: Callable[[], object], limit: float) -> tuple[object, float]:
    """Call ``function`` in a daemon thread; fail the test if it has not returned within ``limit`` s."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = function()
        except BaseException as error:
            box["value"] = error

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit:g} s: it hangs"
    return box["value"], time.monotonic() - started


def test_stopped_server_gives_clear_message_and_nonzero_exit(
    tmp_path: Path, make_settings, embedder: Embedder, model_cache: Path
) -> None:
    server = start_chroma(tmp_path / "own-server")
    data = tmp_path / "cli-data"
    data.mkdir()
    (data / "models").symlink_to(model_cache, target_is_directory=True)  # the session's ONNX export
    env = {"DOCCHAT_CHROMA_URL": server.url, "DOCCHAT_DATA_DIR": str(data), "DOCCHAT_CHROMA_TIMEOUT": "3"}
    try:
        code, text, _ = _invoke(["collections"], env)
        assert code == 0, text
        client = open_client(make_settings("lost", chroma_url=server.url))
        client.list_collections()
    finally:
        server.stop()

    code, text, seconds = _invoke(["collections"], env)
    assert code != 0
    assert f"Cannot reach the Chroma server at {server.url}" in text, text
    assert "DOCCHAT_CHROMA_URL" in text
    assert "Traceback" not in text
    assert seconds < 5, f"took {seconds:.1f} s"

    code, text, seconds = _invoke(["ingest", str(CORPUS)], env)
    assert code != 0
    assert f"Cannot reach the Chroma server at {server.url}" in text, text
    assert seconds < 30, f"took {seconds:.1f} s"  # includes loading the embedding model

    with pytest.raises(StoreUnavailable, match="Cannot reach the Chroma server"):
        ingest_paths(make_settings("gone", chroma_url=server.url), [CORPUS], embedder=embedder)

    # A client made while the server was up: its next request fails with the same kind of message.
    error, _ = _in_thread(client.list_collections, 10)
    assert isinstance(error, StoreUnavailable), repr(error)
    assert f"Lost the Chroma server at {server.url}" in str(error)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_silent_server_times_out_with_clear_message(silent_port: int, make_settings) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    settings = make_settings("silent", chroma_url=url, chroma_timeout=1.0)

    error, seconds = _in_thread(lambda: open_client(settings), 10)
    assert isinstance(error, StoreUnavailable), repr(error)
    assert f"The Chroma server at {url} did not answer within 1 s" in str(error)
    assert seconds < 5

    code, text, seconds = _invoke(["collections"], {"DOCCHAT_CHROMA_URL": url, "DOCCHAT_CHROMA_TIMEOUT": "1"})
    assert code != 0
    assert "did not answer within 1 s" in text, text
    assert seconds < 5


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


def test_server_that_stops_answering_mid_session_times_out(chroma_server: ChromaServer, make_settings) -> None:
    proxy = FreezableProxy(chroma_server.port)
    try:
        url = f"http://127.0.0.1:{proxy.port}"
        client = open_client(make_settings("frozen", chroma_url=url, chroma_timeout=0.5))
        client.list_collections()
        proxy.frozen.set()
        error, seconds = _in_thread(client.list_collections, 30)
    finally:
        proxy.close()
    assert isinstance(error, StoreUnavailable), repr(error)
    assert f"The Chroma server at {url} stopped answering within 3 s" in str(error)
    assert seconds < 10


def test_not_a_chroma_server_or_bad_url(make_settings) -> None:
    with pytest.raises(StoreUnavailable, match="not an http"):
        open_client(make_settings("bad", chroma_url="chroma:8000"))
    with pytest.raises(StoreUnavailable, match="has a path"):
        open_client(make_settings("bad", chroma_url="http://127.0.0.1:8000/chroma"))


# -- the compose file's Chroma healthcheck, run against a real server -----------------------------------------


def _chroma_healthcheck(port: int) -> list[str]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    test = compose["services"]["chroma"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    script = test[3].replace("$$", "$")  # compose's escape for a literal $
    assert "/dev/tcp/127.0.0.1/8000" in script
    return ["bash", "-c", re.sub(r"/dev/tcp/127\.0\.0\.1/8000\b", f"/dev/tcp/127.0.0.1/{port}", script)]


def test_compose_chroma_healthcheck_against_real_server(chroma_server: ChromaServer) -> None:
    ok = subprocess.run(_chroma_healthcheck(chroma_server.port), capture_output=True, timeout=15)
    assert ok.returncode == 0, ok.stderr
    closed = subprocess.run(_chroma_healthcheck(_free_port()), capture_output=True, timeout=15)
    assert closed.returncode != 0
