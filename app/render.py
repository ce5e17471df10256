"""Plain-text rendering of an answer and its sources (for the terminal)."""

from __future__ import annotations

import re

from docchat.app.citations import MARKER
from docchat.app.extractive import QUOTED_PREFIX
from docchat.app.schema import Answer, AnswerSentence, Citation, Passage

WITHDRAWN = "(The model's text above did not pass the checks; it is not the answer.)"
CHECKED = "Checked answer:"  # the model's text as the checks left it, when they changed its wording
_SPACED_STOP = re.compile(r"\s+([.,;:!?])")


def lines_label(unit: str, lines: tuple[int, int], page: int | None = None) -> str:
    """Where a passage is, the one way every output says it: ``lines 20-25``; for a PDF ``p. 12, lines 3-7``
    (lines of the page's extracted text); ``p. 3`` for a PDF ingested before pages were recorded (span unit
    "page": its lines are pages)."""
    start, end = lines
    if unit == "page":
        return f"p. {start}" if start == end else f"pp. {start}-{end}"
    span = f"line {start}" if start == end else f"lines {start}-{end}"
    return span if page is None else f"p. {page}, {span}"


def location(item: Citation | Passage) -> str:
    """:func:`lines_label` of a citation or passage."""
    return lines_label(item.span_unit, item.lines, item.page)


def source_location(item: Citation | Passage) -> str:
    """``report.pdf, p. 12, lines 3-7`` or ``notes/setup.md, lines 20-25``."""
    return f"{item.source}, {location(item)}"


def heading_label(item: Citation | Passage) -> str:
    """The heading path worth showing next to the location: a PDF's ``Page 12`` says nothing ``p. 12`` does not."""
    return "" if item.page is not None and item.heading == f"Page {item.page}" else item.heading


def _marked(sentence: AnswerSentence) -> str:
    """A sentence of an answer with its citation markers: "Collab was built by the CFPB. [1]"."""
    return f"{sentence.text} {''.join(f'[{n}]' for n in sentence.citations)}".strip()


def added_quotes(answer: Answer) -> str:
    """The quotes a generated answer got after the model's text (from the first "From the documents:" label on),
    with their markers; "" when it got none."""
    labels = [n for n, s in enumerate(answer.sentences) if s.text == QUOTED_PREFIX]
    if answer.mode != "generated" or not labels:
        return ""
    return " ".join(_marked(s) for s in answer.sentences[labels[0] :])


def _wording(text: str) -> str:
    """``text`` without citation markers and layout white space ("Bureau [1]." reads as "Bureau. [1]")."""
    return _SPACED_STOP.sub(r"\1", " ".join(MARKER.sub(" ", text).split()))


def _model_part(answer: Answer) -> str:
    """A generated answer's own sentences with their markers (before any quotes the check added)."""
    own = []
    for sentence in answer.sentences:
        if sentence.text == QUOTED_PREFIX:
            break
        own.append(_marked(sentence))
    return " ".join(own)


def render_sources(answer: Answer, *, streamed: str) -> str:
    """What follows the ``streamed`` text (the model's text as it was generated; "" when nothing was): the
    checked answer where it is not what was streamed, then the numbered sources."""
    parts: list[str] = []
    if streamed and answer.mode != "generated":  # the streamed text stays on the terminal: say it is not the answer
        parts.append(f"\n\n{WITHDRAWN}")
    if not streamed or answer.mode != "generated":
        parts.append(("\n" if streamed else "") + (f"{answer.notice}\n" if answer.notice else "") + answer.answer)
    else:
        # the checks reword what they keep ("The passage states that X ..." is "X ..."; a sentence said twice is
        # said once): the terminal shows what they left, as the UI replaces the streamed text with it
        if (own := _model_part(answer)) and _wording(own) != _wording(streamed):
            parts.append(f"\n\n{CHECKED} {own}")
        if answer.notice:
            parts.append(f"\n\n{answer.notice}")
            if added := added_quotes(answer):  # quotes the check added after the streamed answer (parts it left out)
                parts.append(f"\n{added}")
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        parts.append("\n\nNot supported by the documents:\n" + "\n".join(f"  ? {text}" for text in unsupported))
    if answer.citations:
        parts.append("\n\nSources:")
        for citation in answer.citations:
            heading = f" — {heading_label(citation)}" if heading_label(citation) else ""
            parts.append(f"\n  [{citation.number}] {source_location(citation)}{heading}\n      “{citation.quote}”")
    return "".join(parts) + "\n"
