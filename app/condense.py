"""Follow-up questions: rewrite history + question into one standalone question before retrieving."""

from __future__ import annotations

import re

from app.llm import ChatLLM, relies_on_llm
from app.prompt import condense_messages
from app.sentences import content_words

_REFERS_BACK = re.compile(
    r"\b(it|its|they|them|their|theirs|this|that|these|those|he|she|him|her|his|there|then|one|ones|"
    r"same|other|former|latter|above|mentioned|also)\b",
    re.I,
)


def needs_context(question: str) -> bool:
    """Whether a question leans on earlier turns (pronouns, 'also', very short)."""
    return bool(_REFERS_BACK.search(question)) or len(content_words(question)) <= 2


def heuristic_standalone(question: str, history: list[dict[str, str]]) -> str:
    """The cheap rewrite: prepend the previous user question when this one refers back."""
    previous = [turn["content"] for turn in history if turn.get("role") == "user"]
    if not previous or not needs_context(question):
        return question
    return f"{previous[-1].strip()} {question.strip()}"


def use_llm_for(mode: str, llm_name: str) -> bool:
    """``auto`` uses the LLM unless it is a tiny model that rewrites worse than the heuristic."""
    return relies_on_llm(mode, llm_name, "llm")


def standalone_question(question: str, history: list[dict[str, str]], llm: ChatLLM | None, mode: str) -> str:
    """A question that can be retrieved on its own; falls back to the heuristic on a bad rewrite."""
    if not history:
        return question
    fallback = heuristic_standalone(question, history)
    if llm is None or not use_llm_for(mode, llm.name) or not needs_context(question):
        return fallback
    rewritten = llm.complete(condense_messages(question, history), max_tokens=64).strip().strip('"').strip()
    rewritten = rewritten.splitlines()[0].strip() if rewritten else ""
    # A good rewrite is a short question that keeps the new question's words.
    if not rewritten or len(rewritten) > 4 * len(question) + 200:
        return fallback
    if not content_words(question) & content_words(rewritten):
        return fallback
    return rewritten
