"""Hostile and broken input (issue #6): the loaders, the ingest pipeline and the CLI never crash on it.

- Fuzz: ``load_file`` on random bytes, on markup-heavy text and on damaged PDFs returns a LoadedDocument
  or raises LoadError with a one-line reason, nothing else.
- A generated corpus (deeply nested HTML, zero-byte files, symlink loops, odd file names, broken and
  encrypted PDFs, random bytes, a file over DOCCHAT_MAX_FILE_MB...) goes through ``ingest_paths``: every
  file ends up ingested or skipped with a one-line reason.
- A 50 MB single-line text file is ingested in a subprocess within bounded time and peak RSS.
- The CLI takes paths that start with a dash (after ``--``) and paths with spaces.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pypdf import PdfReader, PdfWriter

from docchat.settings import Settings
from docchat.store import open_client, open_collection
from ingest.document import LoadedDocument, LoadError
from ingest.embed import Embedder
from ingest.loaders import load_file
from ingest.pipeline import ingest_paths
from tests.test_loaders import make_pdf

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SUFFIXES = [".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".pdf"]


def fuzz(examples: int) -> hsettings:
    """~200 examples in all; no deadline (a parse may be slow on a loaded machine); no example database."""
    return hsettings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip


# -- fuzzing the loaders ----------------------------------------------------------------------------------


def check_loaded(path: Path, data: bytes) -> None:
    """``load_file`` gives a sane document or a one-line LoadError; any other exception fails the test."""
    try:
        document = load_file(path, data)
    except LoadError as error:
        reason = str(error)
        assert reason.strip() and "\n" not in reason and len(reason) < 300, repr(reason)
        return
    assert isinstance(document, LoadedDocument)
    assert isinstance(document.title, str) and document.blocks
    assert any(block.text.strip() for block in document.blocks)
    for block in document.blocks:
        assert isinstance(block.text, str) and all(isinstance(h, str) for h in block.headings)
        assert 1 <= block.start_line <= block.end_line, block


MARKUP = st.text(
    alphabet=st.sampled_from(list("<>/=\"'&#;*_[]()`~-+:!|\\.\n\n  \tabcXYZ019é漢\u200b\x0c")) | st.characters(),
    max_size=400,
)
TOKENS = st.lists(
    st.sampled_from(
        ["<div>", "</div>", "<p>", "</p>", "<h1>", "</h2>", "<script>", "<!--", "-->", "<![CDATA[", "&amp;", "&#0;",
         "&#x110000;", "# ", "## ", "---\n", "...\n", "title: x\n", "date: 2020-13-45\n", "a: &a [1]\n", "b: *a\n",
         "```", "~~~", "> ", "- ", "1. ", "* ", "| a | b |\n|---|---|\n", "[x](", "![i](", "<http://", "\\",
         "=====\n", "-----\n", ".. ", ".. include:: /etc/passwd\n", ".. raw:: html\n", "::\n", ":role:`x`", "`x`_",
         "|sub|", "[#]_", "\n\n", "\n", "   ", "text", "é漢字", "\x00", "\r", "\ufeff"]
    ),
    max_size=60,
).map("".join)
YAML_VALUES = ["2020-13-45", "2001-02-29 25:61:00", "!!timestamp 2001-99-01", "!!binary x=", "!!python/name:os.system",
               "&a [1, *a]", "*nope", "[[[[", "{a: b", "1e99999", "0o99", "'unclosed", "|\n  block", "? [a, b]\n: c",
               "!!set {a, b}", "!!omap [a: 1]", "~", "-.inf", "0x_1", "&x [&y [*x]]", "<<: *a", "!!int x"]  # fmt: skip
FRONT_MATTER = st.builds(
    lambda keys, values, body: "---\n" + "".join(f"{k}: {v}\n" for k, v in zip(keys, values)) + "---\n" + body,
    st.lists(st.sampled_from(["title", "date", "tags", "a", "b", "<<", "? x"]), min_size=1, max_size=5),
    st.lists(st.sampled_from(YAML_VALUES), min_size=1, max_size=5),
    TOKENS,
)


@fuzz(70)
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=2048))
def test_fuzz_random_bytes(suffix: str, data: bytes) -> None:
    check_loaded(Path(f"fuzz{suffix}"), data)
    check_loaded(Path(f"fuzz{suffix}"), b"%PDF-1.4\n" + data)


@fuzz(90)
@given(suffix=st.sampled_from(SUFFIXES[:-1]), text=st.one_of(MARKUP, TOKENS, FRONT_MATTER))
def test_fuzz_markup_text(suffix: str, text: str) -> None:
    check_loaded(Path(f"fuzz{suffix}"), text.encode("utf-8", "surrogatepass"))


VALID_PDF = make_pdf(["First page of text.", "Second page (with parentheses)."], title="Fuzzed")


@fuzz(40)
@given(
    cut=st.integers(0, len(VALID_PDF)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID_PDF) - 1), st.integers(0, 255)), max_size=8),
)
def test_fuzz_damaged_pdf(cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID_PDF)
    for offset, value in flips:
        data[offset] = value
    check_loaded(Path("fuzz.pdf"), bytes(data[: max(cut, 4)]))
