"""The source preview of a citation (Streamlit): a popover showing the passage in its source file, the quote
highlighted, with a download button when the file lies under the folder it was ingested from.

The popover runs its content only while open (``on_change="rerun"``), so a closed preview reads no file. What it
shows comes from :func:`docchat.app.sources.source_context` and is always escaped: document text stays inert.
"""

from __future__ import annotations

import hashlib
from functools import partial

import streamlit as st

from docchat.app.schema import Answer, Citation
from docchat.app.sources import SourceContext, read_source, source_context
from docchat.app.ui import escape_markdown, passage_markdown

PREVIEW_LABEL = "Show in context"
_SEQUENCE = "_docchat_preview_sequence"  # previews numbered in rendering order, from 0 at each run


def new_run() -> None:
    """Call at the top of every page run: previews are then numbered the same way in every run, so each keeps
    its key (and whether it is open) across reruns."""
    st.session_state[_SEQUENCE] = 0


def preview_key(answer: Answer, citation: Citation) -> str:
    """A key unique in this run (the preview's number) and tied to what it previews (a digest)."""
    number = st.session_state.get(_SEQUENCE, 0)
    st.session_state[_SEQUENCE] = number + 1
    about = "\0".join([answer.question, answer.answer, str(citation.number), citation.source, str(citation.lines)])
    return f"source-preview-{number}-{hashlib.sha256(about.encode()).hexdigest()[:12]}"


def context_markdown(context: SourceContext) -> str:
    """The context as literal text with the quote (or the cited lines) highlighted."""
    return passage_markdown(context.text, context.highlight)


def context_caption(context: SourceContext, citation: Citation) -> str:
    """What the text below is: which lines of the file, the page's text, or the passage as ingested."""
    if context.lines is None:
        return "The passage as it was ingested."
    start, end = context.lines
    if citation.page is not None:
        return f"The extracted text of page {citation.page}, lines {start}-{end}; the quote is highlighted."
    return f"Lines {start}-{end} of the file; the quote (or the cited lines) is highlighted."


def show_preview(answer: Answer, citation: Citation) -> None:
    """A "Show in context" popover for ``citation`` (of ``answer``)."""
    key = preview_key(answer, citation)
    popover = st.popover(PREVIEW_LABEL, icon=":material/preview:", key=key, on_change="rerun")
    with popover:
        if not popover.open:
            return
        context = source_context(citation)
        st.markdown(f"**{escape_markdown(context.location)}**")
        if context.message:
            st.warning(escape_markdown(context.message), icon=":material/info:")
        st.caption(escape_markdown(context_caption(context, citation)))
        with st.container(height=420, border=True):
            st.markdown(context_markdown(context))
        if context.download is not None:
            st.download_button(
                f"Download {context.download.name}",
                data=partial(read_source, context.download),  # read only when clicked
                file_name=context.download.name,
                mime="application/octet-stream",
                key=f"{key}-download",
                on_click="ignore",
                icon=":material/download:",
            )
