"""Faults during ingest (issue #6): SIGKILL at chosen points, a full disk, a read-only data dir.

Real embedded Chroma and the real embedding model throughout.

- ``docchat ingest`` runs in a subprocess that kills itself (SIGKILL, via the test hook
  the test_crash_at setting, DOCCHAT_TEST_CRASH_AT, ingest/faults.py) after a batch is embedded but before any chunk is
  written, after the first batch is written, or after every write but before the BM25 side index is
  marked current; also after an edited corpus's new chunks are written, before its stale ones are deleted.
  A re-run must then equal a clean run: same chunk ids, texts and metadata, no duplicates, a BM25 index
  holding exactly Chroma's ids, and answers.
  (tests/test_ingest.py kills a run from outside when the first write lands; not repeated here.)
- A data dir on a small tmpfs that fills up: a one-line error, the other collections still answer,
  and once space is freed the same ingest completes.
- A read-only data dir (a read-only bind mount): ingest refuses with a one-line error. Chroma cannot
  open a store it cannot write (not even to read it), see ``test_read_only_store_error_says_read_only``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docchat.app.engine import Engine
from docchat.cli.main import app as cli_app
from docchat.components import bm25
from docchat.components.embedding import Embedder
from docchat.components.store import open_client, open_collection
from docchat.core.errors import DocchatError, StoreUnavailable
from docchat.core.settings import Settings
from docchat.ingest.pipeline import ingest_paths
from tests.conftest import FSP, clean_environ, fsp_sample, isolated_settings, seed_model

DOCCHAT = Path(sys.executable).parent / "docchat"
COLLECTION = "faults"
# 23 Full Stack Python pages, ~300 chunks: the writer flushes at 256 buffered chunks and upserts at most
# 256 at a time, so a run makes at least two writes and "after the first write" is mid-way.
PAGES = [
    f"content/pages/{name}.markdown"
    for name in (
        "04-web-development/01-web-frameworks", "04-web-development/02-django", "04-web-development/03-flask",
        "04-web-development/10-other-web-frameworks", "04-web-development/11-template-engines",
        "04-web-development/15-web-design", "04-web-development/17-css", "04-web-development/27-task-queues",
        "04-web-development/28-celery", "04-web-development/31-static-site-generator",
        "04-web-development/35-testing", "04-web-development/42-websockets", "04-web-development/48-api-creation",
        "04-web-development/56-web-app-security", "05-deployment/13-operating-systems",
        "05-deployment/22-wsgi-servers", "05-deployment/38-serverless", "06-devops/01-monitoring",
        "05-deployment/00-deployment", "05-deployment/02-servers", "05-deployment/09-paas",
        "05-deployment/17-web-servers", "05-deployment/36-docker",
    )
]  # fmt: skip
EDITED, REMOVED = PAGES[3], PAGES[7]
ADDED = "content/pages/05-deployment/19-nginx.markdown"
QUESTION = "How do I deploy a Flask application with a WSGI server?"


def edit_corpus(root: Path) -> None:
    """Change one page, delete one, add one."""
    page = root / EDITED
    page.write_text(page.read_text().replace("\n\n", "\n\nAn edited paragraph about web frameworks.\n\n", 3))
    (root / REMOVED).unlink()
    (root / ADDED).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FSP / ADDED, root / ADDED)


# -- reading a store --------------------------------------------------------------------------------------

DUMP = """
import json, sys
from pathlib import Path
from docchat.components import bm25
from docchat.core.settings import Settings
from docchat.components.store import open_client
settings = Settings(data_dir=Path(sys.argv[1]))
client = open_client(settings)
names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
if sys.argv[2] not in names:
    print(json.dumps({"count": 0, "ids": [], "bm25_current": False}))
    raise SystemExit
store = client.get_collection(sys.argv[2])
generation = int((store.metadata or {}).get("generation", 0))
print(json.dumps({"count": store.count(), "ids": store.get(include=[])["ids"],
                  "bm25_current": bm25.is_current(settings.indexes_dir, sys.argv[2], generation)}))
"""


def dump_store(data_dir: Path) -> dict:
    """The store as another process sees it (an in-process client would cache what a later run changes)."""
    done = subprocess.run(
        [sys.executable, "-c", DUMP, str(data_dir), COLLECTION],
        env=clean_environ(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@dataclass(frozen=True)
class Snapshot:
    """A collection's rows (id -> document, metadata) and its BM25 side index, after a finished ingest."""

    rows: dict[str, tuple[str, dict]]
    count: int
    bm25_ids: list[str]
    bm25_on_disk: bm25.LexicalIndex | None
    generation: int


def snapshot(settings: Settings, embedder: Embedder) -> Snapshot:
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    got = store.get(include=["documents", "metadatas"])
    rows = {i: (d, dict(m)) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}
    generation = int((store.metadata or {}).get("generation", 0))
    on_disk = bm25.load(
        bm25.index_folder(settings.indexes_dir, settings.store.collection)
    )  # before the cache may rebuild
    lexical = bm25.LexicalIndexCache(settings.indexes_dir).get(store)
    return Snapshot(rows, store.count(), lexical.ids(), on_disk, generation)


def assert_same_store(got: Snapshot, want: Snapshot) -> None:
    """Same chunk ids, texts and citation metadata; no duplicates; BM25 in step with Chroma."""
    assert got.count == len(got.rows)  # no duplicate ids
    assert set(got.rows) == set(want.rows)
    for chunk_id, (text, meta) in want.rows.items():
        got_text, got_meta = got.rows[chunk_id]
        assert got_text == text
        assert {k: got_meta[k] for k in ("source", "start_line", "end_line")} == {
            k: meta[k] for k in ("source", "start_line", "end_line")
        }
        assert {k: v for k, v in got_meta.items() if k != "root"} == {k: v for k, v in meta.items() if k != "root"}
    by_source: dict[str, list[int]] = {}
    for _, meta in got.rows.values():
        by_source.setdefault(meta["source"], []).append(meta["chunk_index"])
    for source, indexes in by_source.items():  # one complete version of each file
        assert sorted(indexes) == list(range(len(indexes))), source
    assert len(got.bm25_ids) == len(set(got.bm25_ids))
    assert set(got.bm25_ids) == set(got.rows)  # no orphans, none missing
    # The ingest itself left a current index on disk (readers did not have to rebuild it).
    assert got.bm25_on_disk is not None and got.bm25_on_disk.generation == got.generation
    assert set(got.bm25_on_disk.ids()) == set(got.rows)


def assert_answers(settings: Settings, embedder: Embedder) -> None:
    passages = Engine(settings, embedder=embedder).retrieve(QUESTION)
    assert passages and all(p.source and p.text for p in passages)


# -- SIGKILL at chosen points, then a re-run --------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Snapshot]:
    """Clean ingests (no crash) of the sample and of the edited sample, into their own data dirs."""
    base = tmp_path_factory.mktemp("clean")
    out = {}
    for name in ("fresh", "edited"):
        root = fsp_sample(base / name, PAGES)
        if name == "edited":
            edit_corpus(root)
        settings = isolated_settings(base / name / "data", collection=COLLECTION)
        ingest_paths(settings, [root], embedder=embedder)
        out[name] = snapshot(settings, embedder)
    assert len(out["fresh"].rows) > 256 + 8  # at least two writes
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("crash_at", "edited"),
    [("embed:1", False), ("write:1", False), ("bm25", False), ("write:1", True)],
    ids=["mid-embedding-before-any-write", "mid-write", "after-writes-before-bm25", "update-stale-not-deleted"],
)
def test_sigkill_then_rerun_equals_a_clean_run(
    crash_at: str, edited: bool, clean_runs: dict[str, Snapshot], embedder: Embedder, model_cache: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    root = fsp_sample(tmp_path, PAGES)
    data_dir = tmp_path / "data"
    seed_model(data_dir, model_cache, embedder)
    env = clean_environ() | {"DOCCHAT_DATA_DIR": str(data_dir), "DOCCHAT_EMBED_BATCH_SIZE": "8", "COLUMNS": "400"}
    command = [str(DOCCHAT), "ingest", str(root), "--collection", COLLECTION]

    def run(extra: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=env | extra, cwd=tmp_path, capture_output=True, text=True, timeout=900)

    before: set[str] = set()
    if edited:  # a complete ingest first; the crash hits the re-ingest of the edited corpus
        assert run({}).returncode == 0
        before = set(dump_store(data_dir)["ids"])
        edit_corpus(root)
    want = clean_runs["edited" if edited else "fresh"]

    killed = run({"DOCCHAT_TEST_CRASH_AT": crash_at})  # the test_crash_at setting (ingest/faults.py)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    partial = dump_store(data_dir)
    new_ids = set(partial["ids"]) - before
    if crash_at.startswith("embed"):
        assert not new_ids  # killed before the first write
    elif edited:  # the update's few new chunks fit one write: killed before the stale ones were deleted
        assert new_ids == set(want.rows) - before
    elif crash_at.startswith("write"):
        assert 0 < len(new_ids) < len(set(want.rows) - before)  # some chunks written, not all
    else:
        assert set(partial["ids"]) == set(want.rows) and not partial["bm25_current"]
    if edited:
        # The edited page's replaced chunks are still there (the deleted page's were swept before the write).
        assert (before - set(want.rows)) & set(partial["ids"])

    rerun = run({})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    embedded = int(re.search(r"(\d+) chunks embedded", " ".join(rerun.stderr.split())).group(1))
    assert embedded == len(set(want.rows) - set(partial["ids"]))  # what the killed run stored is reused

    settings = isolated_settings(data_dir, collection=COLLECTION)
    assert_same_store(snapshot(settings, embedder), want)
    assert_answers(settings, embedder)


# -- full disk and read-only data dir ---------------------------------------------------------------------


class Tmpfs:
    """A small tmpfs mounted for one test (tests run as root; chmod does not stop root, mounts do)."""

    def __init__(self, where: Path, size_mb: int) -> None:
        self.path = where
        self.mounts: list[Path] = []
        where.mkdir(parents=True)
        self._mount(["-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)], where)

    def _mount(self, args: list[str], target: Path) -> None:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mount needs root and the mount command")
        done = subprocess.run(["mount", *args], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"mount not permitted here: {done.stderr.strip()}")
        self.mounts.append(target)

    def read_only_view(self, source: Path, target: Path) -> Path:
        """A read-only bind mount of ``source`` (the tmpfs itself stays writable: Chroma keeps files open)."""
        target.mkdir(parents=True)
        self._mount(["--bind", str(source), str(target)], target)
        self._mount(["-o", "remount,bind,ro", str(target)], target)
        return target

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def fill(self, leave: int) -> Path:
        """Write a ballast file that leaves about ``leave`` bytes free."""
        ballast = self.path / "ballast"
        with open(ballast, "wb") as handle:
            handle.truncate(0)
            while self.free_bytes() > leave + 2**20:
                handle.write(b"\0" * 2**20)
                handle.flush()
            handle.write(b"\0" * max(0, self.free_bytes() - leave))
        return ballast

    def unmount(self) -> None:
        for target in reversed(self.mounts):  # lazily: this process's Chroma client still holds files open
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path):
    mounted: list[Tmpfs] = []

    def make(size_mb: int) -> Tmpfs:
        mounted.append(Tmpfs(tmp_path / f"tmpfs{len(mounted)}", size_mb))
        return mounted[-1]

    yield make
    for fs in mounted:
        fs.unmount()


def cli_env(data_dir: Path, models: Path, embedder: Embedder, model_cache: Path) -> dict[str, str]:
    """Env for ``docchat`` over ``data_dir``; its models folder is a symlink out of the small tmpfs."""
    seed_model(models.parent, model_cache, embedder)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "models").symlink_to(models, target_is_directory=True)
    return {"DOCCHAT_DATA_DIR": str(data_dir), "COLUMNS": "400"}


def run_cli(args: list[str], env: dict[str, str]):
    result = CliRunner().invoke(cli_app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def assert_one_line_error(exit_code: int, stderr: str, *phrases: str) -> str:
    """Exit code 2 and one line ``error: ...`` (besides progress bars), no traceback."""
    assert exit_code == 2, stderr
    lines = [line for line in stderr.strip().splitlines() if "━" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


SMALL = [PAGES[2], PAGES[17]]  # Flask, monitoring
BIG = PAGES[:14]


@pytest.mark.slow
def test_full_disk_gives_a_clear_error_and_other_collections_still_answer(
    tmpfs, settings: Settings, embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    """The failing ingest runs as its own process, as it would for a user (``docchat ingest`` while the UI
    answers): chromadb 1.5.9 can leave the process that hit the full disk hanging on its next write to
    that collection, even after space is freed; a new process recovers (the re-run below)."""
    fs = tmpfs(48)
    data_dir = fs.path / "data"
    env = clean_environ() | cli_env(data_dir, tmp_path / "models" / "models", embedder, model_cache)
    small = isolated_settings(data_dir, collection="small")
    ingest_paths(small, [fsp_sample(tmp_path / "small", SMALL)], embedder=embedder)
    assert_answers(small, embedder)

    ballast = fs.fill(leave=200 * 1024)
    big_root = fsp_sample(tmp_path / "big", BIG)
    command = [str(DOCCHAT), "ingest", str(big_root), "--collection", "big"]
    failed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    message = assert_one_line_error(failed.returncode, failed.stderr, "disk", "full", str(data_dir))
    assert "free some space" in message

    assert_answers(small, embedder)  # the earlier collection still answers

    ballast.unlink()  # space freed: the same ingest now completes
    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    big = isolated_settings(data_dir, collection="big")
    snap = snapshot(big, embedder)
    assert {meta["source"] for _, meta in snap.rows.values()} == set(BIG)
    assert set(snap.bm25_ids) == set(snap.rows) and snap.count == len(snap.rows)
    assert_answers(big, embedder)
    assert_answers(small, embedder)


def test_read_only_data_dir_refuses_to_ingest_with_a_clear_error(
    tmpfs, settings: Settings, embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    fs = tmpfs(64)
    data_dir = fs.path / "data"
    writable = isolated_settings(data_dir, collection="small")
    root = fsp_sample(tmp_path / "small", SMALL)
    ingest_paths(writable, [root], embedder=embedder)
    before = snapshot(writable, embedder)

    seed_model(data_dir, model_cache, embedder)  # as a CLI ingest leaves it: the ONNX export in data/models

    view = fs.read_only_view(data_dir, tmp_path / "read-only")
    read_only = isolated_settings(view, collection="small")
    with pytest.raises(DocchatError, match="read-only"):
        ingest_paths(read_only, [root], embedder=embedder)
    env = {"DOCCHAT_DATA_DIR": str(view), "COLUMNS": "400"}
    result = run_cli(["ingest", str(root), "--collection", "small"], env)
    assert "Traceback" not in result.output
    assert_one_line_error(result.exit_code, result.stderr, "read-only", str(view))

    # Chroma cannot open a store it cannot write, even to read it: answering fails with a one-line error...
    with pytest.raises(StoreUnavailable) as raised:
        Engine(read_only, embedder=embedder).retrieve(QUESTION)
    assert "\n" not in str(raised.value) and str(view) in str(raised.value)
    # ...and the store itself is unharmed: through the writable path it answers as before.
    assert_same_store(snapshot(writable, embedder), before)
    assert_answers(writable, embedder)


def test_read_only_store_error_says_read_only(tmpfs, settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    fs = tmpfs(64)
    data_dir = fs.path / "data"
    writable = isolated_settings(data_dir, collection="small")
    ingest_paths(writable, [fsp_sample(tmp_path / "small", SMALL)], embedder=embedder)
    view = fs.read_only_view(data_dir, tmp_path / "read-only")
    with pytest.raises(StoreUnavailable) as raised:
        Engine(isolated_settings(view, collection="small"), embedder=embedder).retrieve(QUESTION)
    message = str(raised.value)
    assert "read-only" in message and ("read-write" in message or "writable" in message), message


def test_cli_on_read_only_data_dir_without_model_export_is_one_line(tmpfs, settings: Settings, tmp_path: Path) -> None:
    fs = tmpfs(8)
    (fs.path / "data").mkdir()
    view = fs.read_only_view(fs.path / "data", tmp_path / "read-only")
    (tmp_path / "doc.md").write_text("# Doc\n\nText.\n")
    result = CliRunner().invoke(cli_app, ["ingest", str(tmp_path / "doc.md")],
                                env={"DOCCHAT_DATA_DIR": str(view), "COLUMNS": "400"})  # fmt: skip
    assert not isinstance(result.exception, OSError), result.exception
    assert_one_line_error(result.exit_code, result.stderr, "read-only")
