"""The ingest pipeline against issue #2: real model (session ``embedder``), real embedded Chroma.

Citation metadata, the model's word-piece limit, incremental re-ingest (edit, delete, no-op),
model-mismatch refusal and ``--rebuild``, bad inputs, symlinks, ``docchat collections``, and a
SIGKILL in the middle of an ingest followed by a re-run that must equal a clean run.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from docchat.cli.main import app
from docchat.components.embedding import Embedder
from docchat.components.store import open_client, open_collection
from docchat.core.errors import DocchatError, ModelMismatch
from docchat.core.settings import Settings
from docchat.ingest.chunk import Chunker
from docchat.ingest.discover import discover
from docchat.ingest.loaders import load_file
from docchat.ingest.pipeline import IngestReport, ingest_paths
from tests.conftest import CORPUS, clean_environ, fsp_sample, isolated_settings, seed_model
from tests.test_loaders import make_pdf

SANIC = "content/pages/04-web-development/09-sanic.markdown"
DEMOS = "content/pages/10-working/18-developer-demos.md"
FALCON = "content/pages/04-web-development/07-falcon.markdown"
# Prose, indented and fenced code (some holding HTML), raw HTML blocks, a .md file: ~70 chunks.
SAMPLE = [
    "content/pages/01-introduction/02-python-programming-language.markdown",
    "content/pages/03-data/06-sqlalchemy.markdown",
    SANIC,
    "content/pages/04-web-development/11-template-engines.markdown",
    DEMOS,
    "content/posts/171101-continuous-delivery-devops-you.markdown",
]
SEED = "full-stack-python.txt"
LONG = "notes/long-headings.md"
# Title and heading path of ~75 word-pieces: a 200-piece chunk plus this prefix would not fit in 256.
LONG_DOC = (
    "---\n"
    "title: A remarkably verbose title about configuring asynchronous Python web frameworks behind reverse proxies\n"
    "---\n\n"
    "## Deploying the application with Gunicorn workers, Nginx buffering, systemd socket activation and TLS\n\n"
    "### Troubleshooting intermittent timeouts, keep-alive mismatches and slow client uploads under load\n\n"
    + "\n".join(f"Sentence {i} explains one more detail about tuning worker counts and timeouts." for i in range(60))
    + "\n"
)


# -- reading the store ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    document: str
    meta: dict

    @property
    def source(self) -> str:
        return self.meta["source"]


def read_rows(settings: Settings, embedder: Embedder, collection: str | None = None) -> list[Row]:
    client = open_client(settings)
    store = open_collection(client, collection or settings.store.collection, embedder.name, embedder.dimension)
    got = store.get(include=["documents", "metadatas"])
    return [Row(i, d, dict(m)) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]


def by_source(rows: list[Row]) -> dict[str, dict[str, Row]]:
    out: dict[str, dict[str, Row]] = {}
    for row in rows:
        out.setdefault(row.source, {})[row.id] = row
    return out


def stored_vectors(settings: Settings, embedder: Embedder, ids: list[str]) -> dict[str, np.ndarray]:
    store = open_collection(open_client(settings), settings.store.collection, embedder.name, embedder.dimension)
    got = store.get(ids=ids, include=["embeddings"])
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}


def embedding_text(row: Row) -> str:
    context = " > ".join(part for part in (row.meta["title"], row.meta["heading"]) if part)
    return f"{context}\n{row.document}" if context else row.document


def assert_no_duplicates(rows: list[Row]) -> None:
    """Unique ids; per source one complete version: one file hash, chunk indexes 0..n-1 once each.

    (Two rows with the same source + text + occurrence would need the same chunk index twice, or two
    file versions side by side.)
    """
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids))
    for source, group in by_source(rows).items():
        indexes = sorted(row.meta["chunk_index"] for row in group.values())
        assert indexes == list(range(len(group))), source
        assert {row.meta["chunk_count"] for row in group.values()} == {len(group)}, source
        assert len({row.meta["file_hash"] for row in group.values()}) == 1, source


def fresh_chunks(path: Path, source: str, settings: Settings, embedder: Embedder) -> dict[str, tuple]:
    """What the chunker makes of the file now: id -> (text, start, end, heading)."""
    chunker = Chunker(
        embedder.count_tokens, settings.ingest.chunk_size, settings.ingest.chunk_overlap, embedder.max_tokens
    )
    return {
        c.id: (c.text, c.start_line, c.end_line, c.heading)
        for c in chunker.chunk(source, load_file(path, path.read_bytes()))
    }


def as_tuples(group: dict[str, Row]) -> dict[str, tuple]:
    return {i: (r.document, r.meta["start_line"], r.meta["end_line"], r.meta["heading"]) for i, r in group.items()}


# -- does a line span really contain its chunk? -----------------------------------------------------------
#
# Both sides are reduced to lower-case alphanumeric words ("_" and "*" dropped, as emphasis markers),
# then the chunk's words must appear contiguously in the words of its source lines start..end. Markup
# is stripped from the source first: for HTML, BeautifulSoup's text without headings/scripts; for
# Markdown, link/image URLs, reference definitions, HTML tags (outside code), list/quote markers,
# backslash escapes, entities and ATX heading lines (headings are metadata, not chunk text). Code
# (fenced or inline) is kept verbatim. The chunk's first and last word may be partial (the splitter
# cuts very long tokens).

_WORD = re.compile(r"\w+")
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_LINK_URL = re.compile(r"\]\(\s*<?[^\s()<>]*(?:\([^()\s]*\)[^\s()<>]*)*>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REF_LABEL = re.compile(r"\]\[[^\]]*\]")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.M)
_ATTR = r"""\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?"""
_TAG = re.compile(rf"<[A-Za-z][A-Za-z0-9-]*(?:{_ATTR})*\s*/?>|</[A-Za-z][A-Za-z0-9-]*\s*>|<!--.*?-->", re.S)
_MARKER = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:\d{1,9}[.)]|[-*+])(?=[ \t]|$)", re.M)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text.replace("_", "").replace("*", ""))]


def _strip_prose(text: str) -> str:
    text = _REF_LABEL.sub("] ", _LINK_URL.sub("] ", _REF_DEF.sub(" ", text)))
    return html.unescape(_ESCAPE.sub(r"\1", _TAG.sub(" ", _MARKER.sub(" ", text))))


def _strip_inline(text: str) -> str:
    out, last = [], 0
    for code in _INLINE_CODE.finditer(text):
        out += [_strip_prose(text[last : code.start()]), code.group(2)]
        last = code.end()
    return "".join([*out, _strip_prose(text[last:])])


def strip_markdown(span: str) -> str:
    out: list[str] = []
    prose: list[str] = []
    fenced = False
    for line in span.split("\n"):
        if _FENCE.match(line):
            if not fenced:
                out.append(_strip_inline("\n".join(prose)))
                prose = []
            fenced = not fenced
        elif fenced:
            out.append(line)
        else:
            prose.append("" if _ATX.match(line) else line)
    out.append(_strip_inline("\n".join(prose)))
    return "\n".join(out)


def strip_html(span: str) -> str:
    soup = BeautifulSoup(span, "html.parser")
    for tag in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "script", "style", "title"]):
        tag.decompose()
    return soup.get_text(" ")


def span_contains(lines: list[str], start: int, end: int, text: str, fmt: str) -> bool:
    if not 1 <= start <= end <= len(lines):
        return False
    span = "\n".join(lines[start - 1 : end])
    haystack = " ".join(words(strip_html(span) if fmt == "html" else strip_markdown(span)))
    if fmt == "html":
        return " ".join(words(text)) in haystack
    # Text of a raw HTML block keeps Markdown link syntax verbatim: accept the chunk with or without its URLs.
    return any(" ".join(words(t)) in haystack for t in (text, _LINK_URL.sub("] ", text)))


# -- fixtures ---------------------------------------------------------------------------------------------


@dataclass
class Built:
    settings: Settings
    roots: list[Path]
    report: IngestReport
    rows: list[Row]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Built:
    """``corpus/`` plus six Full Stack Python pages plus a long-headed page, ingested once for the module."""
    base = tmp_path_factory.mktemp("built")
    settings = isolated_settings(base / "data")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    fsp = fsp_sample(base, SAMPLE)
    (fsp / LONG).parent.mkdir(parents=True)
    (fsp / LONG).write_text(LONG_DOC)
    report = ingest_paths(settings, [corpus, fsp], embedder=embedder)
    return Built(settings, [corpus, fsp], report, read_rows(settings, embedder))


def root_of(built: Built, source: str) -> Path:
    return built.roots[0] if source == SEED else built.roots[1]


@pytest.fixture
def cli_env(settings: Settings, embedder: Embedder, model_cache: Path) -> dict[str, str]:
    """Env for ``docchat`` over the settings' data dir, its ONNX export seeded from the session's (no re-export)."""
    seed_model(settings.store.data_dir, model_cache, embedder)
    return {"DOCCHAT_DATA_DIR": str(settings.store.data_dir), "COLUMNS": "400"}


def run_cli(args: list[str], env: dict[str, str]):
    result = CliRunner().invoke(app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# -- chunk metadata ---------------------------------------------------------------------------------------


def test_first_ingest_adds_every_file(built: Built) -> None:
    assert built.report.skipped == []
    assert (built.report.files_seen, built.report.added, built.report.updated) == (8, 8, 0)
    assert {row.source for row in built.rows} == {SEED, LONG, *SAMPLE}
    assert built.report.chunks_written == len(built.rows) > 50
    assert_no_duplicates(built.rows)


def test_titles_come_from_the_documents(built: Built) -> None:
    titles = {row.source: row.meta["title"] for row in built.rows}
    assert titles[SEED] == "Full Stack Python"
    assert titles[SANIC] == "Sanic"
    assert titles[LONG].startswith("A remarkably verbose title")
    for name in SAMPLE:  # Pelican headers: "title: ..." on the first line
        first = (root_of(built, name) / name).read_text().split("\n", 1)[0]
        assert titles[name] == first.removeprefix("title:").strip()


def test_heading_paths(built: Built) -> None:
    def row_with(source: str, phrase: str) -> Row:
        found = [row for row in built.rows if row.source == source and phrase in row.document]
        assert found, phrase
        return found[0]

    collab = row_with(SEED, "Collab by the U.S. government")
    assert collab.meta["heading"] == "Enterprise Example > Government agencies"
    assert collab.meta["start_line"] <= 22 <= collab.meta["end_line"]  # the Collab paragraph is line 22
    assert row_with(SEED, "Odoo is an all-in-one").meta["heading"] == "Business Applications Example"
    assert row_with(SANIC, "Python Sanic Tutorial").meta["heading"] == (
        "What are the tradeoffs of using Sanic? > Sanic tutorials"
    )
    assert row_with(SANIC, "cannot be developed or deployed on Windows").meta["heading"] == (
        "What are the tradeoffs of using Sanic?"
    )
    assert row_with(SANIC, "built on uvloop").meta["heading"] == ""  # the intro, above any heading
    assert row_with(LONG, "Sentence 3 explains").meta["heading"].count(" > ") == 1


def test_line_spans_contain_the_chunk_text(built: Built) -> None:
    lines = {
        source: (root_of(built, source) / source).read_text(encoding="utf-8").split("\n")
        for source in {row.source for row in built.rows}
    }
    wrong = [
        (row.source, row.meta["start_line"], row.meta["end_line"], row.document[:60])
        for row in built.rows
        if not span_contains(
            lines[row.source], row.meta["start_line"], row.meta["end_line"], row.document, row.meta["format"]
        )
    ]
    assert wrong == []
    assert {row.meta["span_unit"] for row in built.rows} == {"line"}


def test_span_check_rejects_wrong_spans(built: Built) -> None:
    """The span check above is not vacuous: shifted or truncated spans fail it."""
    for source, phrase in ((SEED, "Collab by the U.S."), (SANIC, "Python Sanic Tutorial")):
        row = next(r for r in built.rows if r.source == source and phrase in r.document)
        lines = (root_of(built, source) / source).read_text().split("\n")
        start, end, fmt = row.meta["start_line"], row.meta["end_line"], row.meta["format"]
        assert span_contains(lines, start, end, row.document, fmt)
        assert not span_contains(lines, start + 3, end + 3, row.document, fmt)
        assert not span_contains(lines, max(1, start - 6), start - 1, row.document, fmt)
        assert not span_contains(lines, start, end - 1, row.document, fmt)


def test_no_chunk_exceeds_the_model_limit_with_its_prefix(built: Built, embedder: Embedder) -> None:
    assert embedder.max_tokens == 256
    sizes = {row.id: len(embedder.count_tokens(embedding_text(row))) + 2 for row in built.rows}  # + [CLS] [SEP]
    assert max(sizes.values()) <= embedder.max_tokens
    long_rows = [row for row in built.rows if row.source == LONG]
    prefix = embedder.count_tokens(embedding_text(long_rows[0]).split("\n", 1)[0])
    assert len(prefix) > embedder.max_tokens - 2 - 200  # the case where a full-size chunk would not fit
    assert len(long_rows) > 1 and max(sizes[row.id] for row in long_rows) > 200  # still filled up


def test_stored_vectors_embed_title_heading_and_text(built: Built, embedder: Embedder) -> None:
    rows = [r for r in built.rows if r.source in (SEED, SANIC)][:6]
    vectors = stored_vectors(built.settings, embedder, [row.id for row in rows])
    for row in rows:
        with_prefix, bare = embedder.embed([embedding_text(row), row.document])
        assert float(vectors[row.id] @ with_prefix) > 0.97  # int8 activations: batch neighbours add noise
        assert float(vectors[row.id] @ bare) < float(vectors[row.id] @ with_prefix)


# -- incremental ------------------------------------------------------------------------------------------


def test_reingest_adds_nothing(built: Built, embedder: Embedder) -> None:
    report = ingest_paths(built.settings, built.roots, embedder=embedder)
    assert report.skipped == []
    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 0, 0, 8)
    assert (report.chunks_written, report.chunks_deleted) == (0, 0)
    assert {row.id for row in read_rows(built.settings, embedder)} == {row.id for row in built.rows}


def test_edit_then_delete_touch_only_that_file(
    settings: Settings, embedder: Embedder, corpus_copy: Path, tmp_path: Path
) -> None:
    fsp = fsp_sample(tmp_path, [SANIC, DEMOS, FALCON])
    roots = [corpus_copy, fsp]
    ingest_paths(settings, roots, embedder=embedder)
    before = by_source(read_rows(settings, embedder))
    assert set(before) == {SEED, SANIC, DEMOS, FALCON}

    sanic = fsp / SANIC
    text = sanic.read_text()
    edited = text.replace("Sanic cannot be developed or deployed on Windows", "Sanic could not run on Windows in 2017")
    assert edited != text
    sanic.write_text(edited + "\n\n## Sanic in 2024\n\nSanic now has an official extension, Sanic Extensions.\n")
    report = ingest_paths(settings, roots, embedder=embedder)
    assert report.skipped == []
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 1, 3, 0)
    rows = read_rows(settings, embedder)
    after = by_source(rows)
    new, kept, gone = (
        set(after[SANIC]) - set(before[SANIC]),
        set(after[SANIC]) & set(before[SANIC]),
        set(before[SANIC]) - set(after[SANIC]),
    )
    assert new and kept and gone  # untouched sections of the edited file keep their ids and vectors
    assert (report.chunks_written, report.chunks_reused, report.chunks_deleted) == (len(new), len(kept), len(gone))
    for source in (SEED, DEMOS, FALCON):
        assert {i: r.meta | {"d": r.document} for i, r in after[source].items()} == {
            i: r.meta | {"d": r.document} for i, r in before[source].items()
        }
    assert as_tuples(after[SANIC]) == fresh_chunks(sanic, SANIC, settings, embedder)
    assert any("Sanic Extensions" in r.document for r in after[SANIC].values())
    assert not any("cannot be developed" in r.document for r in after[SANIC].values())
    assert_no_duplicates(rows)
    lines = sanic.read_text().split("\n")
    for row in after[SANIC].values():
        assert span_contains(lines, row.meta["start_line"], row.meta["end_line"], row.document, "markdown")

    (fsp / FALCON).unlink()
    report = ingest_paths(settings, roots, embedder=embedder)
    assert (report.deleted, report.chunks_deleted, report.chunks_written) == (1, len(before[FALCON]), 0)
    final = by_source(read_rows(settings, embedder))
    assert set(final) == {SEED, SANIC, DEMOS}
    for source in (SEED, SANIC, DEMOS):
        assert set(final[source]) == set(after[source])

    report = ingest_paths(settings, roots, embedder=embedder)
    assert (report.added, report.updated, report.deleted, report.chunks_written) == (0, 0, 0, 0)


def test_renamed_heading_is_re_embedded(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    """Chunk text unchanged but its heading renamed: the stored vector must be the new heading's."""
    root = tmp_path / "docs"
    root.mkdir()
    page = root / "guide.md"
    page.write_text("# Guide\n\n## Installation\n\nRun pip install docchat.\n\n## Usage\n\nCall docchat ask.\n")
    ingest_paths(settings, [root], embedder=embedder)
    page.write_text(page.read_text().replace("## Installation", "## Troubleshooting"))
    report = ingest_paths(settings, [root], embedder=embedder)
    assert (report.updated, report.chunks_written, report.chunks_reused) == (1, 1, 1)
    rows = {row.document: row for row in read_rows(settings, embedder)}
    assert len(rows) == 2 and rows["Run pip install docchat."].meta["heading"] == "Troubleshooting"
    renamed = rows["Run pip install docchat."]
    stored = stored_vectors(settings, embedder, [renamed.id])[renamed.id]
    # One at a time: onnx-int8 vectors shift a little with their batch neighbours (per-batch activation scales).
    now = embedder.embed_query(embedding_text(renamed))
    before = embedder.embed_query("Guide > Installation\nRun pip install docchat.")
    assert float(stored @ now) > 0.99  # it was the only chunk embedded by the re-ingest
    assert float(stored @ before) < float(stored @ now) - 0.02  # not the vector of the old heading


# -- model mismatch ---------------------------------------------------------------------------------------


def test_opening_with_another_model_is_refused(settings: Settings, embedder: Embedder, corpus_copy: Path) -> None:
    ingest_paths(settings, [corpus_copy], embedder=embedder)
    client = open_client(settings)
    for name, dimension in (("another-model", embedder.dimension), (embedder.name, 768)):
        with pytest.raises(ModelMismatch) as refused:
            open_collection(client, settings.store.collection, name, dimension)
        assert "--rebuild" in str(refused.value)
        assert embedder.name in str(refused.value)
    assert open_collection(client, settings.store.collection, embedder.name, embedder.dimension).count() > 0


def test_cli_refuses_a_collection_of_another_model_until_rebuild(
    settings: Settings, embedder: Embedder, corpus_copy: Path, cli_env: dict[str, str]
) -> None:
    client = open_client(settings)
    other = open_collection(client, "default", "other-model", 768, create=True)
    other.add(ids=["stale"], embeddings=[[0.1] * 768], documents=["from the other model"], metadatas=[{"x": 1}])

    refused = run_cli(["ingest", str(corpus_copy)], cli_env)
    assert refused.exit_code not in (0, 1)
    assert "--rebuild" in refused.stderr and "other-model" in refused.stderr
    assert "Traceback" not in refused.output + refused.stderr

    rebuilt = run_cli(["ingest", str(corpus_copy), "--rebuild"], cli_env)
    assert rebuilt.exit_code == 0, rebuilt.stderr
    store = open_client(settings).get_collection("default")
    assert (store.metadata["embed_model"], store.metadata["embed_dim"]) == (embedder.name, embedder.dimension)
    rows = read_rows(settings, embedder)
    assert "stale" not in {row.id for row in rows}
    assert {row.source for row in rows} == {SEED} and len(rows) == store.count() > 5


# -- bad inputs -------------------------------------------------------------------------------------------

BAD_FILES = {
    "empty.md": (b"", "empty file"),
    "binary.txt": (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)) * 4, "binary"),
    "latin1.md": ("# Café\n\nUn café crème, s'il vous plaît.\n".encode("latin-1"), "not valid UTF-8"),
    "garbage.pdf": (b"GIF89a this is no PDF \x00\x01\x02", "not a PDF"),
    "truncated.pdf": (make_pdf(["A page of text that is cut off."])[:350], "PDF"),
}


def test_bad_files_are_skipped_with_a_reason_and_good_files_still_ingest(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "mixed"
    root.mkdir()
    shutil.copy(CORPUS / SEED, root / SEED)
    (root / "good.md").write_text("# Good\n\nA good paragraph about Flask.\n")
    (root / "000-vanishes.md").write_text("# Soon gone\n\nThis file is deleted during the second ingest.\n")
    first = ingest_paths(settings, [root], embedder=embedder)
    assert first.added == 3 and not first.skipped
    vanishing_ids = {row.id for row in read_rows(settings, embedder) if row.source == "000-vanishes.md"}
    assert vanishing_ids

    for name, (data, _) in BAD_FILES.items():
        (root / name).write_bytes(data)
    reported: list[tuple[str, int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        reported.append((stage, done, total))
        if (stage, done) == ("files", 1):  # discovery is over; the first file is about to be read
            (root / "000-vanishes.md").unlink()

    report = ingest_paths(settings, [root], embedder=embedder, progress=progress)
    reasons = dict(report.skipped)
    assert set(reasons) == {*BAD_FILES, "000-vanishes.md"}
    for name, (_, reason) in BAD_FILES.items():
        assert reason in reasons[name], (name, reasons[name])
    assert "vanished" in reasons["000-vanishes.md"]
    for reason in reasons.values():
        assert reason.strip() and "\n" not in reason and len(reason) < 200
    assert report.failed and report.unchanged == 2 and report.added == 0

    rows = read_rows(settings, embedder)
    assert {row.source for row in rows} == {SEED, "good.md"}  # the vanished file's old chunks are gone
    assert not vanishing_ids & {row.id for row in rows}
    assert ("files", 1, len(BAD_FILES) + 3) in reported


def test_missing_path_is_a_docchat_error(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DocchatError, match="no-such-folder"):
        ingest_paths(settings, [CORPUS, missing], embedder=embedder)
    assert not settings.chroma_path.exists()  # refused before the store was touched


def test_cli_missing_path_exits_non_zero_with_one_line(settings: Settings, cli_env: dict[str, str]) -> None:
    result = run_cli(["ingest", "no/such/folder"], cli_env)
    assert result.exit_code not in (0, 1)
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output + result.stderr
    assert result.stderr.strip().splitlines() == ["error: No such file or folder: no/such/folder"]


def test_cli_missing_path_message_is_one_line_on_a_narrow_console(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "a-folder-with-a-rather-long-name-that-does-not-exist"
    result = run_cli(["ingest", str(missing)], cli_env | {"COLUMNS": "80"})
    assert result.exit_code not in (0, 1)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cli_exit_code_is_1_when_a_file_is_skipped_else_0(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "good.md").write_text("# Good\n\nA good paragraph about Django.\n")
    ok = run_cli(["ingest", str(root)], cli_env)
    assert ok.exit_code == 0, ok.stderr
    assert "1 added" in ok.stderr
    assert not [line for line in ok.stderr.splitlines() if line.startswith("skipped ")]

    (root / "empty.md").write_bytes(b"")
    (root / "binary.txt").write_bytes(BAD_FILES["binary.txt"][0])
    skipped = run_cli(["ingest", str(root)], cli_env)
    assert skipped.exit_code == 1
    lines = skipped.stderr.splitlines()
    assert "skipped empty.md: empty file" in lines
    assert any(line.startswith("skipped binary.txt: binary") for line in lines)
    assert "Traceback" not in skipped.stderr


# -- symlinks ---------------------------------------------------------------------------------------------


def test_symlinks_outside_are_skipped_and_loops_do_not_hang(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "good.md").write_text("# Good\n\nInside the folder.\n")
    (outside / "secret.md").write_text("# Secret\n\nOutside the folder.\n")
    (root / "to-outside.md").symlink_to(outside / "secret.md")
    (root / "to-inside.md").symlink_to(root / "good.md")
    (root / "loop-a.md").symlink_to(root / "loop-b.md")
    (root / "loop-b.md").symlink_to(root / "loop-a.md")
    (root / "dangling.md").symlink_to(root / "missing.md")
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a folder loop

    found: list = []
    walker = threading.Thread(target=lambda: found.extend(discover(root, None, follow_symlinks=False)), daemon=True)
    walker.start()
    walker.join(timeout=30)
    assert not walker.is_alive(), "discover() hangs on a symlink loop"
    assert len(found) == 6

    report = ingest_paths(settings, [root], embedder=embedder)
    reasons = dict(report.skipped)
    assert set(reasons) == {"to-outside.md", "loop-a.md", "loop-b.md", "dangling.md"}
    assert "outside" in reasons["to-outside.md"] and "DOCCHAT_FOLLOW_SYMLINKS" in reasons["to-outside.md"]
    assert "loop" in reasons["loop-a.md"] and "loop" in reasons["loop-b.md"]
    assert {row.source for row in read_rows(settings, embedder)} == {"good.md", "to-inside.md"}

    following = settings.updated(follow_symlinks=True)
    report = ingest_paths(following, [root], embedder=embedder)
    assert set(dict(report.skipped)) == {"loop-a.md", "loop-b.md", "dangling.md"}
    assert {row.source for row in read_rows(settings, embedder)} == {"good.md", "to-inside.md", "to-outside.md"}


# -- docchat collections ----------------------------------------------------------------------------------


def test_cli_collections_lists_name_documents_chunks_model(
    settings: Settings, embedder: Embedder, corpus_copy: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    empty = run_cli(["collections"], cli_env)
    assert empty.exit_code == 0 and "No collections yet" in empty.stderr
    fsp = fsp_sample(tmp_path, [SANIC, DEMOS])
    assert run_cli(["ingest", str(corpus_copy), str(fsp), "-c", "seed-and-fsp"], cli_env).exit_code == 0
    assert run_cli(["ingest", str(corpus_copy), "-c", "seed"], cli_env).exit_code == 0

    listed = run_cli(["collections"], cli_env)
    assert listed.exit_code == 0
    table = {}
    for line in listed.stdout.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] not in ("name", ""):
            table[cells[0]] = cells[1:4]
    counts = {name: len(read_rows(settings, embedder, name)) for name in ("seed", "seed-and-fsp")}
    assert table == {
        "seed": ["1", str(counts["seed"]), embedder.name],
        "seed-and-fsp": ["3", str(counts["seed-and-fsp"]), embedder.name],
    }


# -- SIGKILL in the middle of an ingest -------------------------------------------------------------------

# 30 pages, ~410 chunks: the writer flushes at 256 buffered chunks, so the first write lands after
# 18 files and ~150 chunks are still to embed when the process is killed.
KILL_SAMPLE = [
    f"content/pages/{name}.markdown"
    for name in (
        "01-introduction/02-python-programming-language", "01-introduction/08-best-python-resources",
        "02-development-environments/02-vim", "02-development-environments/06-jupyter-notebook",
        "02-development-environments/08-bash-shell", "02-development-environments/15-application-dependencies",
        "02-development-environments/18-source-control", "02-development-environments/19-git",
        "03-data/01-databases", "03-data/02-postgresql", "03-data/06-sqlalchemy", "03-data/08-django-orm",
        "03-data/10-no-sql-datastore", "03-data/25-oracle",
        "04-web-development/01-web-frameworks", "04-web-development/03-flask",
        "04-web-development/10-other-web-frameworks", "04-web-development/11-template-engines",
        "04-web-development/15-web-design", "04-web-development/17-css",
        "04-web-development/27-task-queues", "04-web-development/28-celery",
        "04-web-development/31-static-site-generator", "04-web-development/35-testing",
        "04-web-development/42-websockets", "04-web-development/48-api-creation",
        "04-web-development/56-web-app-security", "05-deployment/13-operating-systems",
        "05-deployment/22-wsgi-servers", "05-deployment/38-serverless",
    )
]  # fmt: skip

DUMP = """
import json, sys
from pathlib import Path
from docchat.core.settings import Settings
from docchat.components.store import open_client
store = open_client(Settings(data_dir=Path(sys.argv[1]))).get_collection(sys.argv[2])
got = store.get(include=["documents", "metadatas"])
print(json.dumps({"count": store.count(), "rows": list(zip(got["ids"], got["documents"], got["metadatas"]))}))
"""


def dump_store(data_dir: Path, collection: str, env: dict[str, str]) -> dict:
    """Read a store in a fresh process: never two embedded Chroma clients on one store in one process."""
    done = subprocess.run(
        [sys.executable, "-c", DUMP, str(data_dir), collection], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def first_write_committed(chroma: Path) -> bool:
    """Chunks are in the store: the vector segment has been written and no SQLite transaction is open."""
    return any(chroma.glob("*/header.bin")) and not any(chroma.glob("chroma.sqlite3-journal"))


@pytest.mark.slow
def test_sigkill_mid_ingest_then_rerun_equals_a_clean_run(
    settings: Settings, embedder: Embedder, model_cache: Path, tmp_path: Path
) -> None:
    root = fsp_sample(tmp_path, KILL_SAMPLE)
    collection = "killed"

    clean_settings = settings.updated(data_dir=tmp_path / "clean", collection=collection)
    clean_report = ingest_paths(clean_settings, [root], embedder=embedder)
    clean = {
        (r.id, r.source, r.meta["start_line"], r.meta["end_line"], r.document): r.meta
        for r in read_rows(clean_settings, embedder)
    }
    assert clean_report.chunks_written == len(clean) > 300

    data_dir = tmp_path / "killed-data"
    seed_model(data_dir, model_cache, embedder)
    env = clean_environ()
    env |= {"DOCCHAT_DATA_DIR": str(data_dir), "DOCCHAT_EMBED_BATCH_SIZE": "8", "COLUMNS": "400"}
    command = [sys.executable, "-m", "docchat.cli.main", "ingest", str(root), "--collection", collection]
    log = tmp_path / "killed.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 600
        try:
            while not first_write_committed(data_dir / "chroma"):
                assert process.poll() is None, f"ingest ended before it could be killed:\n{log.read_text()}"
                assert time.monotonic() < deadline, "no chunk was written within 10 minutes"
                time.sleep(0.05)
            time.sleep(0.2)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, f"the ingest finished before the kill:\n{log.read_text()}"

    partial = dump_store(data_dir, collection, env)
    assert 0 < partial["count"] < len(clean), partial["count"]

    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = " ".join(rerun.stderr.split())
    embedded = int(re.search(r"(\d+) chunks embedded", summary).group(1))
    assert embedded == len(clean) - partial["count"]  # what the killed run stored is reused, not re-embedded

    final = dump_store(data_dir, collection, env)
    resumed = {(i, m["source"], m["start_line"], m["end_line"], d): m for i, d, m in final["rows"]}
    assert final["count"] == len(final["rows"]) == len({i for i, _, _ in final["rows"]})
    assert set(resumed) == set(clean)
    assert resumed == clean  # same file hashes, chunk counts, headings, titles...
    assert_no_duplicates([Row(i, d, m) for i, d, m in final["rows"]])


def test_first_cli_ingest_exports_the_model_without_library_chatter(tmp_path: Path) -> None:
    """The first ingest into an empty data dir makes the ONNX export; the libraries it uses must not
    leave a root log handler (bm25s's DEBUG records were printed after it) or a weights progress bar."""
    env = clean_environ()
    env |= {"DOCCHAT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    command = [str(Path(sys.executable).parent / "docchat"), "ingest", str(CORPUS)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "data" / "models").is_dir()  # the export was made by this run
    assert "DEBUG" not in done.stderr and "Loading weights" not in done.stderr, done.stderr
    assert re.search(r"\b[1-9]\d* chunks embedded", " ".join(done.stderr.split())), done.stderr
