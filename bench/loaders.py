"""How loader time grows with pathological input: deeply nested HTML shapes and many-paragraph rST.

For each shape, the load time at n and at 10n; a ratio near 10 is linear, near 100 quadratic (each
shape was quadratic once: 20,000 nested levels took 30 s to minutes). Figures are printed; the tests
(tests/test_hostile_input.py) only check that these inputs load.

    .venv/bin/python bench/loaders.py
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo before bench/ (bench/ingest.py)

from docchat.ingest.document import LoadError
from docchat.ingest.loaders import load_file

SHAPES = ("nested-divs", "nested-headings", "nested-spans", "loose-entities", "unclosed-paragraphs")


def pathological_html(shape: str, n: int) -> str:
    """An HTML page of ``shape`` with ``n`` repeats (nesting depth for the nested shapes)."""
    return {
        "nested-divs": "<body>" + "<div><p>para</p>" * n + "</div>" * n + "</body>",
        "nested-headings": "<body>" + "<h2>t " * n + "</h2>" * n + "<p>text</p></body>",
        "nested-spans": "<body>" + "<span>t " * n + "</span>" * n + "</body>",
        "loose-entities": "<body>\n" + "a &amp; b<br>\n" * n + "</body>",
        "unclosed-paragraphs": "<body>" + "<p>t " * n + "</body>",
    }[shape]


def many_paragraphs_rst(n: int) -> str:
    """An rST document of ``n`` one-line paragraphs."""
    return "".join(f"Paragraph number {i} of the document.\n\n" for i in range(n))


def seconds(name: str, text: str) -> float:
    started = time.perf_counter()
    with contextlib.suppress(LoadError):
        load_file(Path(name), text.encode())
    return time.perf_counter() - started


def main() -> None:
    print(f"{'input':<28} {'n':>7} {'s':>8} {'10n':>7} {'s':>8} {'ratio':>6}")
    cases = [(f"html {shape}", "x.html", lambda n, s=shape: pathological_html(s, n), 2_000) for shape in SHAPES]
    cases.append(("rst paragraphs", "x.rst", many_paragraphs_rst, 1_000))
    for label, name, make, n in cases:
        small, large = seconds(name, make(n)), seconds(name, make(10 * n))
        print(f"{label:<28} {n:>7,} {small:>8.3f} {10 * n:>7,} {large:>8.3f} {large / max(small, 1e-6):>6.1f}")


if __name__ == "__main__":
    main()
