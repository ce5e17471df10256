"""Plain-text rendering of an answer and its sources (for the terminal)."""

from __future__ import annotations

from docchat.app.schema import Answer


def lines_label(unit: str, lines: tuple[int, int]) -> str:
    """``lines 20-25`` or ``page 3``."""
    start, end = lines
    word = "page" if unit == "page" else "line"
    return f"{word} {start}" if start == end else f"{word}s {start}-{end}"


def render_sources(answer: Answer, *, streamed: bool) -> str:
    """What follows the streamed answer: the checked answer if it changed, then the numbered sources."""
    parts: list[str] = []
    if not streamed or answer.mode != "generated":
        parts.append(("\n\n" if streamed else "") + (f"{answer.notice}\n" if answer.notice else "") + answer.answer)
    elif answer.notice:
        parts.append(f"\n\n{answer.notice}")
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        parts.append("\n\nNot supported by the documents:\n" + "\n".join(f"  ? {text}" for text in unsupported))
    if answer.citations:
        parts.append("\n\nSources:")
        for citation in answer.citations:
            where = lines_label(citation.span_unit, citation.lines)
            heading = f" — {citation.heading}" if citation.heading else ""
            parts.append(f"\n  [{citation.number}] {citation.source} ({where}){heading}\n      “{citation.quote}”")
    return "".join(parts) + "\n"
