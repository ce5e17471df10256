"""Questions about the collection itself ("What is this document about?", "Give me an overview"): answered with
what the collection holds, not refused.

Such a question names no topic: every word of it is phrasing (``QUESTION_WORDS``, stop words), so no passage
can cover its terms and the relevance gate refused it. The reply lists the one document's sections, or the
folders with the most documents and titles from each in turn, from the chunks' metadata (no model call).
"""

from __future__ import annotations

from itertools import zip_longest
from pathlib import PurePosixPath

from chromadb.api.models.Collection import Collection

from docchat.app.prompt import template
from docchat.components.words import QUESTION_WORDS, content_words

MAX_LISTED = 12  # sections or titles named in the reply


def asks_for_overview(question: str) -> bool:
    """Whether ``question`` names no topic at all ("what is this about?", "summarize the documents")."""
    return not content_words(question) - QUESTION_WORDS


def describe_collection(collection: Collection) -> str | None:
    """What ``collection`` holds, in a sentence or two; None when it is empty."""
    firsts = collection.get(where={"chunk_index": 0}, include=["metadatas"])["metadatas"] or []
    if not firsts:
        return None
    if len(firsts) == 1:
        document = firsts[0]
        chunks = collection.get(where={"source": document["source"]}, include=["metadatas"])["metadatas"] or []
        headings = [str(m.get("heading") or "") for m in sorted(chunks, key=lambda m: int(m.get("start_line") or 0))]
        sections = list(dict.fromkeys(h for h in headings if h))[:MAX_LISTED]
        return template("overview_one").format(
            title=document.get("title") or document["source"],
            source=document["source"],
            sections="; ".join(sections) or "none marked",
        )
    folders: dict[str, list[dict]] = {}
    for meta in sorted(firsts, key=lambda m: str(m["source"])):
        folders.setdefault(str(PurePosixPath(str(meta["source"])).parent), []).append(meta)
    biggest = sorted(folders.items(), key=lambda item: -len(item[1]))[:MAX_LISTED]
    return template("overview_many").format(
        documents=f"{len(firsts):,}",
        folders="; ".join(
            f"{'(top level)' if folder == '.' else folder} ({len(metas):,})" for folder, metas in biggest
        ),
        titles="; ".join(f"“{meta.get('title') or meta['source']}”" for meta in _round_robin(biggest)),
    )


def _round_robin(folders: list[tuple[str, list[dict]]]) -> list[dict]:
    """Up to ``MAX_LISTED`` documents taking turns between ``folders``: the first of each, then the second, ..."""
    turns = zip_longest(*(metas for _, metas in folders))
    return [meta for turn in turns for meta in turn if meta is not None][:MAX_LISTED]
