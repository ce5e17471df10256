"""Saved chats in the Streamlit page: the sidebar list (open, rename, delete), saving each answered turn, the chat
id in the URL (``?chat=ID``, so a browser refresh or a server restart reopens the chat), and thumbs up/down with
an optional comment under every saved answer.

Each browser session keeps its own chat id per collection in ``st.session_state["chat_ids"]`` and appends only to
it (see docchat/app/chats/saving.py: a chat continued elsewhere meanwhile is never written into). When the chat
database cannot be used, a warning is shown once and answering goes on without saving.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import streamlit as st

from docchat.app.chats.records import answer_from_record, answer_record
from docchat.app.chats.saving import save_turn
from docchat.app.chats.store import ChatStore, ChatSummary
from docchat.app.engine import Engine
from docchat.app.ui import escape_markdown
from docchat.core.errors import ChatNotFound, ChatStoreUnavailable, DocchatError
from docchat.core.settings import Settings

log = logging.getLogger("docchat.ui")

URL_KEY = "chat"  # ?chat=ID
LISTED = 30  # chats shown in the sidebar
RATINGS = ("down", "up")  # st.feedback("thumbs"): 0 = thumbs down, 1 = thumbs up


def use_store(settings: Settings) -> None:
    """Use the chat store of ``settings`` in this session's run (none when ``chats.save`` is false)."""
    st.session_state["chat_store"] = ChatStore.of(settings) if settings.chats.save else None


def chat_store() -> ChatStore | None:
    """The chat store :func:`use_store` chose, or None when chats are not saved."""
    return st.session_state.get("chat_store")


def current_chat(collection: str) -> str | None:
    """This session's chat id in ``collection`` (None: a new chat, not saved yet)."""
    return st.session_state.setdefault("chat_ids", {}).get(collection)


def _set_chat(collection: str, chat_id: str | None, turns: list[dict[str, Any]]) -> None:
    state = st.session_state
    state.setdefault("chats", {})[collection] = turns
    if chat_id is None:
        state.setdefault("chat_ids", {}).pop(collection, None)
    else:
        state.setdefault("chat_ids", {})[collection] = chat_id


def start_new(collection: str) -> None:
    """Start a new chat ("New chat"): an empty conversation; nothing is saved until it has an answer."""
    _set_chat(collection, None, [])


def sync_url(collection: str) -> None:
    """Put this session's chat id of ``collection`` into the URL (or take it out for a new chat)."""
    chat_id = current_chat(collection)
    if chat_id is None:
        if URL_KEY in st.query_params:
            del st.query_params[URL_KEY]
    elif st.query_params.get(URL_KEY) != chat_id:
        st.query_params[URL_KEY] = chat_id


# -- problems with the database -----------------------------------------------------------------------------------


def _unavailable(error: ChatStoreUnavailable) -> None:
    """Show why chats are not saved, once per session (later runs show a short caption in the sidebar)."""
    state = st.session_state
    if not state.get("chat_store_problem"):
        st.warning(escape_markdown(f"{error} Answers still work; they are not saved."), icon=":material/history_off:")
    state["chat_store_problem"] = str(error)


# -- loading ------------------------------------------------------------------------------------------------------


def turns_of(store: ChatStore, chat_id: str) -> tuple[str, list[dict[str, Any]]]:
    """(collection, page turns) of a saved chat: a user turn and an assistant turn per saved answer."""
    chat = store.get(chat_id)
    turns: list[dict[str, Any]] = []
    for turn in chat.turns:
        turns.append({"role": "user", "content": turn.question})
        turns.append({"role": "assistant", "content": turn.answer, "answer": answer_from_record(turn.record),
                      "record": turn.record, "chat_id": chat.id, "turn": turn.number, "rating": turn.rating,
                      "comment": turn.comment})  # fmt: skip
    return chat.summary.collection, turns


def open_chat(store: ChatStore, chat_id: str) -> None:
    """Continue a saved chat in this session (its collection becomes the current one)."""
    try:
        collection, turns = turns_of(store, chat_id)
    except ChatNotFound:
        st.session_state["chat_notice"] = "That chat no longer exists."
        return
    except ChatStoreUnavailable as error:
        st.session_state["chat_notice"] = str(error)
        return
    _set_chat(collection, chat_id, turns)
    st.session_state["switch_to"] = collection  # the collection picker follows (read before it is drawn)
    st.query_params[URL_KEY] = chat_id


def restore_from_url() -> None:
    """On a session's first run (a new tab, a refresh, after a server restart), reopen the chat named in the URL."""
    state, store = st.session_state, chat_store()
    if state.get("chats_restored"):
        return
    chat_id = st.query_params.get(URL_KEY)
    if store is not None and chat_id:
        open_chat(store, chat_id)  # the same again if this run is cut short by a rerun and the next one retries
        if state.get("chat_notice") == "That chat no longer exists.":
            del st.query_params[URL_KEY]
    state["chats_restored"] = True  # only now: a first run stopped early (a rerun request) must not lose the chat


# -- the sidebar list ---------------------------------------------------------------------------------------------


def sidebar_list(collection: str) -> None:
    """Past chats of ``collection``, newest first, titled by their first question: open, rename, delete."""
    store = chat_store()
    if store is None:
        return
    state = st.session_state
    notice = state.pop("chat_notice", None)
    if notice:
        st.warning(escape_markdown(notice))
    try:
        chats = store.list_chats(collection)
    except ChatStoreUnavailable as error:
        _unavailable(error)
        st.caption("Chats are not saved: the chat database cannot be used.")
        return
    if state.get("chat_store_problem"):
        st.caption("Chats were not saved earlier in this session.")
    if not chats:
        return
    st.caption("Chats")
    current = current_chat(collection)
    for chat in chats[:LISTED]:
        title, manage = st.columns([5, 1], vertical_alignment="center")
        title.button(chat.title, key=f"open-chat-{chat.id}", on_click=open_chat, args=(store, chat.id),
                     type="primary" if chat.id == current else "tertiary", help=f"{chat.turns} turns",
                     width="stretch")  # fmt: skip
        if manage.button("", key=f"manage-chat-{chat.id}", icon=":material/more_vert:", type="tertiary",
                         help="Rename or delete"):  # fmt: skip
            manage_dialog(store, chat, collection)
    if len(chats) > LISTED:
        st.caption(f"{len(chats) - LISTED} older chats: `docchat chats list`")


@st.dialog("Chat")
def manage_dialog(store: ChatStore, chat: ChatSummary, collection: str) -> None:
    """Rename or delete one chat."""
    title = st.text_input("Title", value=chat.title, key=f"rename-chat-{chat.id}")
    rename, delete = st.columns(2)
    try:
        if rename.button("Rename", icon=":material/edit:", width="stretch"):
            store.rename(chat.id, title)
            st.rerun()
        if delete.button("Delete", icon=":material/delete:", width="stretch"):
            store.delete(chat.id)
            if current_chat(collection) == chat.id:
                start_new(collection)
            st.rerun()
    except DocchatError as error:
        st.error(escape_markdown(str(error)))


# -- saving and feedback ------------------------------------------------------------------------------------------


def save_reply(engine: Engine, collection: str, turns: list[dict[str, Any]]) -> bool:
    """Save the last reply of ``turns`` (if it is an answer) into this session's chat; True if it was saved."""
    store, reply = chat_store(), turns[-1]
    answer = reply.get("answer")
    if store is None or answer is None:
        return False
    earlier = [turn["record"] for turn in turns[:-2] if turn.get("record") is not None]
    try:
        reply["record"] = answer_record(answer, engine, collection)
        saved = save_turn(store, reply["record"], collection=collection, chat_id=current_chat(collection),
                          earlier=earlier, origin="ui")  # fmt: skip
    except ChatStoreUnavailable as error:
        _unavailable(error)
        return False
    except Exception:  # never lose the answer over saving it
        log.exception("saving the chat failed")
        return False
    reply["chat_id"], reply["turn"] = saved.chat_id, saved.turn
    if saved.forked:
        st.session_state["chat_notice"] = "This chat was continued elsewhere; this conversation is now a new chat."
        with contextlib.suppress(DocchatError):
            turns[:] = turns_of(store, saved.chat_id)[1]
    st.session_state.setdefault("chat_ids", {})[collection] = saved.chat_id
    st.query_params[URL_KEY] = saved.chat_id
    return True


def feedback(turn: dict[str, Any]) -> None:
    """Thumbs up/down and, once rated, an optional comment, under a saved answer."""
    store, chat_id, number = chat_store(), turn.get("chat_id"), turn.get("turn")
    if store is None or not chat_id or not number:
        return
    key = f"feedback-{chat_id}-{number}"
    state = st.session_state
    if key not in state and turn.get("rating") in RATINGS:
        state[key] = RATINGS.index(turn["rating"])
    st.feedback("thumbs", key=key, on_change=_rate, args=(store, turn, key))
    if state.get(key) is not None:
        comment_key = f"{key}-comment"
        if comment_key not in state:
            state[comment_key] = turn.get("comment") or ""
        st.text_input("Comment (optional)", key=comment_key, on_change=_comment, args=(store, turn, comment_key),
                      placeholder="What was wrong, or right?")  # fmt: skip


def _rate(store: ChatStore, turn: dict[str, Any], key: str) -> None:
    value = st.session_state.get(key)
    rating = RATINGS[value] if value is not None else None
    try:
        store.set_feedback(turn["chat_id"], turn["turn"], rating)
        turn["rating"] = rating
    except ChatStoreUnavailable as error:
        st.session_state["chat_notice"] = str(error)
    except DocchatError as error:  # the chat was deleted meanwhile
        st.session_state["chat_notice"] = str(error)


def _comment(store: ChatStore, turn: dict[str, Any], key: str) -> None:
    comment = " ".join(str(st.session_state.get(key) or "").split())
    rating = turn.get("rating")
    try:
        store.set_feedback(turn["chat_id"], turn["turn"], rating, comment)
        turn["comment"] = comment
    except DocchatError as error:
        st.session_state["chat_notice"] = str(error)
