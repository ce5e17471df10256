"""The Streamlit chat UI (``docchat ui``): ``page.py`` is the script, docchat/cli/ui.py starts it.

This module holds the pure text helpers the page uses. Everything that comes from the corpus (passages,
titles, headings, file names) or from the LLM is shown through :func:`escape_markdown`, so it renders
as literal text: no HTML, no links or images, no Streamlit colour/emoji/LaTeX directives.
"""

from __future__ import annotations

import re
from pathlib import Path

from docchat.app.render import heading_label, source_location
from docchat.app.schema import Answer, Citation

PAGE_SCRIPT = Path(__file__).with_name("page.py")

# Every ASCII punctuation character can be backslash-escaped in CommonMark; escaping all of them turns off
# emphasis, links, images, HTML, headings, lists, tables and Streamlit's :directive[...], :emoji: and $math$.
_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_LEADING_SPACE = re.compile(r"^[ \t]+", re.MULTILINE)
WARNING_MARK = "⚠"
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use marks around the quote while escaping


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that Streamlit shows literally, line breaks kept (paragraphs stay paragraphs)."""
    escaped = _PUNCTUATION.sub(r"\\\1", text.replace("\r\n", "\n").replace("\r", "\n"))
    escaped = _LEADING_SPACE.sub(lambda m: "\u00a0" * len(m.group(0).expandtabs(4)), escaped)  # no code blocks
    paragraphs = re.split(r"\n[ \t\u00a0]*\n+", escaped.strip("\n"))
    return "\n\n".join("  \n".join(p.split("\n")) for p in paragraphs)  # single newline -> hard line break


def _inline(text: str) -> str:
    """Escaped text kept on one line (for inside a highlight or a coloured span)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def find_quote(passage: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of ``quote`` in ``passage``, matching any run of whitespace for any other; None if absent."""
    quote = quote.strip()
    if not quote:
        return None
    start = passage.find(quote)
    if start >= 0:
        return start, start + len(quote)
    pattern = r"\s+".join(re.escape(word) for word in quote.split())
    match = re.search(pattern, passage)
    return (match.start(), match.end()) if match else None


def passage_markdown(passage: str, quote: str) -> str:
    """The passage as literal text with the supporting quote highlighted."""
    span = find_quote(passage, quote)
    if span is None:
        return escape_markdown(passage)
    start, end = span
    marked = f"{passage[:start]}{_OPEN}{' '.join(passage[start:end].split())}{_CLOSE}{passage[end:]}"
    return escape_markdown(marked).replace(_OPEN, ":orange-background[**").replace(_CLOSE, "**]")


def answer_markdown(answer: Answer) -> str:
    """The checked answer: sentences with their [n] markers; unsupported ones muted and marked ⚠."""
    if not answer.sentences:
        return escape_markdown(answer.answer)
    parts = []
    for sentence in answer.sentences:
        marks = "".join(f"\\[{n}\\]" for n in sentence.citations)
        text = _inline(sentence.text)
        if sentence.supported:
            parts.append(f"{text} {marks}".rstrip())
        else:
            parts.append(f":gray[{WARNING_MARK} *{text}*] {marks}".rstrip())
    return " ".join(parts)


def unsupported_count(answer: Answer) -> int:
    """How many answer sentences no passage supports."""
    return sum(not sentence.supported for sentence in answer.sentences)


def citation_caption(citation: Citation) -> str:
    """Heading path · ``source, lines 20-25`` (``report.pdf, p. 12, lines 3-7``) · relevance, escaped."""
    parts = [heading_label(citation)] if heading_label(citation) else []
    parts += [source_location(citation), f"relevance {citation.score:.2f}"]
    return " · ".join(_inline(part) for part in parts)


def engine_history(turns: list[dict]) -> list[dict[str, str]]:
    """The chat turns the engine sees: answered question/answer pairs only (failed turns are left out)."""
    history: list[dict[str, str]] = []
    for question, reply in zip(turns[::2], turns[1::2], strict=False):
        if reply.get("answer") is not None:
            history.append({"role": "user", "content": question["content"]})
            history.append({"role": "assistant", "content": reply["answer"].answer})
    return history
