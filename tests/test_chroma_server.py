"""Client/server mode against a REAL Chroma server (`chroma run` from the installed chromadb).

Ingest, re-ingest, model-mismatch refusal and retrieval over HTTP behave as with the embedded store;
a stopped, silent or lost server gives a clear message and a non-zero exit, never a hang. How many seconds
each failure takes (against the same calls to a server that is up) is measured by bench/timings.py, which
also holds the fault-making servers used here.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench import timings
from bench.timings import ChromaServer, FreezableProxy, SilentServer
from docchat.app.engine import Engine
from docchat.cli.main import app as cli_app
from docchat.components.embedding import Embedder
from docchat.components.store import list_collections, open_client, open_collection
from docchat.core.errors import ModelMismatch, StoreUnavailable
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths

from .conftest import CORPUS, REPO, free_port, seed_model

QUESTION = "Which government agency built Collab?"
# Waiting on a stopped, silent or frozen server must end with an error, not hang. That bound is the behaviour
# tested (it fails instead of hanging forever), so it stays: each wait below is bounded by NEVER_HANGS, 20 times
# the longest timeout configured here (3 s), room for loading the embedding model on a slow, shared machine too.
# How long each failure really takes is measured by bench/timings.py, not asserted here.
NEVER_HANGS = 60.0


def start_chroma(folder: Path) -> ChromaServer:
    """Start `chroma run` (bench/timings.py) on a free port; fail the test if it does not come up."""
    try:
        return timings.start_chroma(folder)
    except timings.ChromaDidNotStart as error:
        pytest.fail(str(error))


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
        return settings.updated(data_dir=tmp_path / name, **overrides)

    return make


def _rows(settings: Settings) -> dict[str, tuple[str, dict]]:
    collection = open_client(settings).get_collection(settings.store.collection)
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
    embedded = make_settings("embedded", collection="answers")
    served = make_settings("served", collection="answers", chroma_url=chroma_server.url)
    ingest_paths(embedded, [CORPUS], embedder=embedder)
    ingest_paths(served, [CORPUS], embedder=embedder)

    local = Engine(embedded, embedder=embedder).retrieve(QUESTION)
    remote = Engine(served, embedder=embedder).retrieve(QUESTION)

    assert remote, "no passages retrieved over the server"
    assert remote[0].source == "full-stack-python.txt"
    assert [p.source for p in remote] == [p.source for p in local]
    assert "Consumer Financial Protection Bureau" in " ".join(p.text for p in remote)


# -- a server that is down, silent or lost -----------------------------------------------------------------


def _in_thread(function: Callable[[], object]) -> object:
    """Call ``function`` in a daemon thread: its result or the exception it raised. Fail the test if it has not
    returned within NEVER_HANGS seconds (a hang, see above)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = function()
        except BaseException as error:
            box["value"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(NEVER_HANGS)
    assert not thread.is_alive(), f"still waiting after {NEVER_HANGS:g} s: it hangs"
    return box["value"]


def _invoke(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI in-process (bounded: it must not hang); its exit code and output, whitespace collapsed."""
    result = _in_thread(lambda: CliRunner().invoke(cli_app, args, env=env))
    return result.exit_code, " ".join(result.output.split())  # click >= 8.2: stdout and stderr


def test_stopped_server_gives_clear_message_and_nonzero_exit(
    tmp_path: Path, make_settings, embedder: Embedder, model_cache: Path
) -> None:
    server = start_chroma(tmp_path / "own-server")
    data = seed_model(tmp_path / "cli-data", model_cache, embedder)
    env = {"DOCCHAT_CHROMA_URL": server.url, "DOCCHAT_DATA_DIR": str(data), "DOCCHAT_CHROMA_TIMEOUT": "3"}
    try:
        code, text = _invoke(["collections"], env)
        assert code == 0, text
        client = open_client(make_settings("lost", chroma_url=server.url))
        client.list_collections()
    finally:
        server.stop()

    code, text = _invoke(["collections"], env)
    assert code != 0
    assert f"Cannot reach the Chroma server at {server.url}" in text, text
    assert "DOCCHAT_CHROMA_URL" in text
    assert "Traceback" not in text

    code, text = _invoke(["ingest", str(CORPUS)], env)
    assert code != 0
    assert f"Cannot reach the Chroma server at {server.url}" in text, text
    assert "Traceback" not in text

    with pytest.raises(StoreUnavailable, match="Cannot reach the Chroma server"):
        ingest_paths(make_settings("gone", chroma_url=server.url), [CORPUS], embedder=embedder)

    # A client made while the server was up: its next request fails with the same kind of message.
    error = _in_thread(client.list_collections)
    assert isinstance(error, StoreUnavailable), repr(error)
    assert f"Lost the Chroma server at {server.url}" in str(error)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = SilentServer()
    yield server.port
    server.close()


def test_silent_server_times_out_with_clear_message(silent_port: int, make_settings) -> None:
    url = f"http://127.0.0.1:{silent_port}"
    settings = make_settings("silent", chroma_url=url, chroma_timeout=1.0)

    error = _in_thread(lambda: open_client(settings))
    assert isinstance(error, StoreUnavailable), repr(error)
    assert f"The Chroma server at {url} did not answer within 1 s" in str(error)

    code, text = _invoke(["collections"], {"DOCCHAT_CHROMA_URL": url, "DOCCHAT_CHROMA_TIMEOUT": "1"})
    assert code != 0
    assert "did not answer within 1 s" in text, text


def test_server_that_stops_answering_mid_session_times_out(chroma_server: ChromaServer, make_settings) -> None:
    proxy = FreezableProxy(chroma_server.port)
    try:
        url = f"http://127.0.0.1:{proxy.port}"
        client = open_client(make_settings("frozen", chroma_url=url, chroma_timeout=0.5))
        client.list_collections()
        proxy.frozen.set()
        error = _in_thread(client.list_collections)
    finally:
        proxy.close()
    assert isinstance(error, StoreUnavailable), repr(error)
    assert f"The Chroma server at {url} stopped answering within 3 s" in str(error)


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
    closed = subprocess.run(_chroma_healthcheck(free_port()), capture_output=True, timeout=15)
    assert closed.returncode != 0
