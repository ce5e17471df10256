"""Prompt files (app/prompts/*.txt) and the chat messages built from them."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from docchat.app.extractive import QUOTED_PREFIX
from docchat.app.schema import Passage
from docchat.app.small_talk import SmallTalk


@cache
def template(name: str) -> str:
    """The text of ``app/prompts/<name>.txt``."""
    return resources.files("docchat.app").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8").strip()


REFUSAL_MARKER = "NO_ANSWER"  # what the system prompt asks the model to reply when the passages lack the answer


def _bare(reply: str) -> str:
    """A short reply without surrounding white space, emphasis, quotes and full stops (as models decorate it)."""
    return reply.strip().strip("*`\"'.").strip()


def is_refusal(generated: str) -> bool:
    """Whether the model gave the refusal marker: it opens the reply, or nothing else of substance is said."""
    text = _bare(generated)
    if text.upper().startswith(REFUSAL_MARKER):
        return True
    return REFUSAL_MARKER in text and len(text.replace(REFUSAL_MARKER, "").split()) < 4


def may_be_marker(streamed: str) -> bool:
    """Whether the text streamed so far could still turn out to be the refusal marker (hold it back)."""
    text = streamed.lstrip().lstrip("*`\"'")
    return REFUSAL_MARKER.startswith(text.upper()) or text.upper().startswith(REFUSAL_MARKER)


def small_talk_reply(kind: SmallTalk) -> str:
    """What docchat says to a greeting, thanks, goodbye or "ok" (``app/prompts/<kind>.txt``)."""
    return template(kind.value)


def refusal_text() -> str:
    """What docchat says when the documents do not cover a question."""
    return template("refusal")


def _heading(passage: Passage) -> str:
    return f" — {passage.heading}" if passage.heading else ""


def format_passages(passages: list[Passage]) -> str:
    """Number the passages [1]..[k], each fenced so its text reads as quoted data."""
    blocks = []
    for number, passage in enumerate(passages, start=1):
        fence_safe = passage.text.replace("<<<", "< < <").replace(">>>", "> > >")
        blocks.append(
            template("passage").format(number=number, title=passage.title, heading=_heading(passage), text=fence_safe)
        )
    return "\n\n".join(blocks)


def without_layout(answer: str, passages: list[Passage]) -> str:
    """``answer`` without the passage layout of the prompt that a small model copies into it: a passage's
    numbered title line ("[2] Full Stack Python — Enterprise Example"), its title just before its ``<<<`` fence
    ("Virtual environments (virtualenvs) [1] <<< Virtual environments, implemented by ..."), and the fences."""
    for passage in passages:
        title = re.escape(f"{passage.title}{_heading(passage)}".strip())
        # a bare title ("[1] Jupyter Notebook") is a title line only where the line ends: "JSON. [1] Jupyter Notebook
        # Best Practices contains tips ..." is a sentence that names the page's subject
        line_end = "" if passage.heading else r"(?=[ \t]*(?:\n|$|\[\d+\]))"
        if title:  # "[2] Full Stack Python — Enterprise Example" or "Full Stack Python — ... <<<"
            answer = re.sub(rf"\[\d+\]\s*{title}{line_end}|(?:\[\d+\]\s*)?{title}\s*(?:\[\d+\]\s*)?<<<", " ", answer)
    # the title line with a shortened heading ("[4] Full Stack Python — Government agencies") or with the answer in
    # the heading's place ("[1] Full Stack Python — AI (LLM, RAG, MCP, Agents)": the answer stays)
    parts = {part.strip() for p in passages for part in p.heading.split(">") if part.strip()}
    headings = "|".join(re.escape(part) for part in sorted(parts, key=len, reverse=True)) or "(?!)"
    for title in {p.title.strip() for p in passages if p.title.strip()}:
        answer = re.sub(rf"\[\d+\]\s*{re.escape(title)}\s+—\s+(?:(?:{headings})\s*(?=\[\d+\]|$))?", " ", answer)
    return re.sub(r"\s*(?:<<<|>>>|>>\]|\[<<)\s*", " ", answer).strip()  # and ">>]" (fsp-009), a fence miscopied


def recent_history(history: list[dict[str, str]], turns: int, chars: int) -> list[dict[str, str]]:
    """The last ``turns`` turns, each cut to ``chars`` characters: all of the history the LLM sees. An earlier
    reply of quotes is given as plain sentences, without its label and quotation marks: a model shown them
    writes its next answer as "From the documents: ..." too, which reads as quotes but is its own text."""
    recent = history[-turns:] if turns else []
    return [{"role": turn["role"], "content": as_said(turn)[:chars]} for turn in recent]


def as_said(turn: dict[str, str]) -> str:
    """A turn's text; for a reply of quotes (``From the documents: “...” [1]``), the quoted sentences alone."""
    text = turn["content"]
    if turn["role"] != "assistant" or QUOTED_PREFIX not in text:
        return text
    return re.sub(r"\s+", " ", text.replace(QUOTED_PREFIX, " ").replace("“", "").replace("”", "")).strip()


def system_prompt(ask_refusal: bool = True) -> str:
    """The answer prompt's rules; with ``ask_refusal``, also the rule to reply with the refusal marker.

    Only a model whose refusals are trusted (its profile's ``trust_refusals``) is asked for the marker: a
    small model asked for it declines answerable questions, and an untrusted refusal only ends in quotes."""
    rules = template("system")
    return f"{rules}\n{template('refusal_rule')}" if ask_refusal else rules


def answer_messages(
    question: str, passages: list[Passage], history: list[dict[str, str]], ask_refusal: bool = True
) -> list[dict[str, str]]:
    """System rules (:func:`system_prompt`), the (already trimmed, see :func:`recent_history`) turns, then the
    passages and the question."""
    messages = [{"role": "system", "content": system_prompt(ask_refusal)}]
    messages += [{"role": turn["role"], "content": turn["content"]} for turn in history]
    user = template("answer").format(passages=format_passages(passages), question=question)
    messages.append({"role": "user", "content": user})
    return messages


def verify_messages(
    question: str, passages: list[Passage], history: list[dict[str, str]], answer: str, ask_refusal: bool = True
) -> list[dict[str, str]]:
    """The answer's own conversation, then one more turn asking the model whether the passages state it.

    It starts with exactly the messages the answer was generated from, so llama.cpp re-uses their KV cache
    and reads only the answer and the short check (a fraction of a second)."""
    return [
        *answer_messages(question, passages, history, ask_refusal),
        {"role": "assistant", "content": answer},
        {"role": "user", "content": template("verify").format(question=question)},
    ]


def says_no(reply: str) -> bool:
    """Whether a YES/NO reply is a no."""
    return _bare(reply).upper().startswith("NO")


def condense_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    """Ask the LLM to rewrite a follow-up as a standalone question."""
    lines = [f"{turn['role']}: {turn['content']}" for turn in history]
    return [{"role": "user", "content": template("condense").format(history="\n".join(lines), question=question)}]
