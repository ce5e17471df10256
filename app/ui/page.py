"""docchat's chat page: a Streamlit script, started by ``docchat ui`` (see docchat/cli/ui.py).

UI only: answering is ``docchat.app.engine.Engine``, collections/uploads/ingest are ``docchat.app.workspace``. Corpus
and LLM text is always shown escaped (``docchat.app.ui.escape_markdown`` and friends), never as HTML.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import streamlit as st

import docchat  # noqa: F401  (no telemetry, offline hub: before chromadb / onnxruntime are imported)
from docchat.app import workspace
from docchat.app.engine import Engine
from docchat.app.schema import Answer, Final, Retrieved, Token
from docchat.app.ui import (
    WARNING_MARK,
    answer_markdown,
    chats,
    citation_caption,
    engine_history,
    escape_markdown,
    ingest_jobs,
    passage_markdown,
    unsupported_count,
)
from docchat.app.ui.preview import new_run, show_preview
from docchat.components.embedding import Embedder, make_embedder
from docchat.components.llm.backends import llm_in_use
from docchat.core.errors import CollectionNotFound, DocchatError
from docchat.core.settings import Settings, explain, load_settings

log = logging.getLogger("docchat.ui")

EMPTY_QUESTION = "Ask a question: the text is empty."
MAX_TOP_K = 20


# -- models and store: loaded once per process ------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=4)
def load_engine(key: str, _settings: Settings) -> tuple[Engine, tuple[str, ...]]:
    """One warmed Engine per settings (``key``); it answers from any collection of its store."""
    engine = Engine(_settings)
    return engine, tuple(engine.warm())


@st.cache_resource(show_spinner=False, max_entries=2)
def load_ingest_embedder(key: str, _settings: Settings) -> Embedder:
    """The embedder for ingesting (all cores), loaded on the first ingest."""
    return make_embedder(_settings)


def settings_key(settings: Settings) -> str:
    return settings.model_dump_json(exclude={"store": {"collection"}, "retrieval": {"top_k"}})


# -- rendering --------------------------------------------------------------------------------------------


def show_answer(answer: Answer) -> None:
    """A checked answer, then its sources (passages with the supporting quote highlighted)."""
    if answer.abstained:
        st.info(escape_markdown(answer.answer), icon=":material/search_off:")
        if answer.notice:
            st.caption(escape_markdown(answer.notice))
        return
    if answer.notice:
        st.info(escape_markdown(answer.notice), icon=":material/format_quote:")
    st.markdown(answer_markdown(answer))
    unsupported = unsupported_count(answer)
    if unsupported:
        st.caption(
            f"{WARNING_MARK} {unsupported} sentence{'s' if unsupported > 1 else ''} (muted) "
            "not supported by the documents."
        )
    if answer.citations:
        with st.expander("Sources"):
            for citation in answer.citations:
                with st.container(border=True):
                    st.markdown(f"**\\[{citation.number}\\] {escape_markdown(citation.title or citation.source)}**")
                    st.caption(citation_caption(citation))
                    st.markdown(passage_markdown(citation.passage, citation.quote))
                    show_preview(answer, citation)
    total = answer.timings.get("total")
    details = [answer.llm or "", f"{total:.1f} s" if total is not None else ""]
    if answer.mode == "extractive":
        details.insert(0, "quoted")
    st.caption(escape_markdown(" · ".join(d for d in details if d)))


def show_turn(turn: dict) -> None:
    with st.chat_message(turn["role"]):
        if turn.get("answer") is not None:
            show_answer(turn["answer"])
            chats.feedback(turn)
        elif turn.get("error"):
            st.error(escape_markdown(turn["error"]))
        else:
            st.markdown(escape_markdown(turn["content"]))


def stream_reply(engine: Engine, question: str, history: list[dict[str, str]], collection: str, top_k: int) -> dict:
    """Stream the answer into the current chat message; the checked answer replaces the streamed text."""
    placeholder = st.empty()
    placeholder.caption("Searching the documents…")
    streamed, answer, error = "", None, None
    events: Iterator = engine.stream(question, history, collection=collection, top_k=top_k)
    try:
        for event in events:
            if isinstance(event, Retrieved):
                placeholder.caption(f"Read {len(event.passages)} passages; writing the answer…")
            elif isinstance(event, Token):
                streamed += event.text
                placeholder.markdown(escape_markdown(streamed) + " ▌")
            elif isinstance(event, Final):
                answer = event.answer
    except CollectionNotFound as exc:
        error = f"{exc}. Or add files under “Add documents” in the sidebar."
    except DocchatError as exc:
        error = str(exc)
    except Exception as exc:  # never a traceback on the page: the log has it
        log.exception("answering %r failed", question)
        error = f"Something went wrong while answering ({type(exc).__name__}); the server log has the details."
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # releases the LLM at once if the answer was cut short
    if answer is None:
        error = error or "No answer was produced; try again."
        placeholder.error(escape_markdown(error))
        return {"role": "assistant", "content": error, "error": error}
    with placeholder.container():
        show_answer(answer)
    return {"role": "assistant", "content": answer.answer, "answer": answer}


# -- sidebar ---------------------------------------------------------------------------------------------


def new_chat(collection: str) -> None:
    chats.start_new(collection)


def sidebar(settings: Settings, engine: Engine, problems: tuple[str, ...]) -> tuple[str, int]:
    """Collection picker, stats, LLM, top-k, New chat, Add documents; returns (collection, top_k)."""
    state = st.session_state
    collect_ingest()
    chats.restore_from_url()  # a refresh or a restart reopens the chat in the URL (and its collection)
    try:
        stats = {info.name: info for info in workspace.collection_stats(engine)}
    except DocchatError as error:
        st.error(escape_markdown(str(error)))
        stats = {}
    names = sorted(stats) or [settings.store.collection]
    if "switch_to" in state:  # set by an ingest, before the picker exists in this run
        state["collection"] = state.pop("switch_to")
    if state.get("collection") not in names:
        state["collection"] = settings.store.collection if settings.store.collection in names else names[0]
    collection = st.selectbox("Collection", names, key="collection")
    info = stats.get(collection)
    if info is None:
        st.info("No documents yet: add files below, or run `docchat ingest PATH`.", icon=":material/folder_open:")
    else:
        documents, chunks = st.columns(2)
        documents.metric("Documents", info.documents)
        chunks.metric("Chunks", info.chunks)
        st.caption(f"Embedding model: {escape_markdown(info.embed_model)}  \nLast ingest: {info.last_ingest}")
        if info.embedding and "ingest_job" not in state:  # another session's or the CLI's ingest
            done, total = info.embedding
            st.info(f"Being embedded: {done:,} of {total:,} new chunks. Until then, answers find them by keyword.")
    backend, model = llm_in_use(settings)
    st.caption(f"LLM: {escape_markdown(backend)} · {escape_markdown(model)}")
    for problem in problems:
        st.warning(escape_markdown(problem))
    default_k = min(settings.retrieval.top_k, MAX_TOP_K)
    top_k = st.slider("Passages to retrieve (top-k)", 1, MAX_TOP_K, default_k, key="top_k")
    st.button("New chat", on_click=new_chat, args=(collection,), icon=":material/add_comment:", width="stretch")
    chats.sync_url(collection)
    chats.sidebar_list(collection)
    with st.expander("Add documents", expanded=not stats):
        add_documents(settings, collection)
    return collection, top_k


def add_documents(settings: Settings, collection: str) -> None:
    state = st.session_state
    target = st.text_input("Into collection", value=collection, help="A new name creates a new collection.")
    with st.form("upload", clear_on_submit=True, border=False):
        files = st.file_uploader(
            f"Upload files ({', '.join(workspace.UPLOAD_SUFFIXES)})",
            type=list(workspace.UPLOAD_SUFFIXES),
            accept_multiple_files=True,
            max_upload_size=max(1, math.ceil(settings.ingest.max_file_mb)),
        )
        upload = st.form_submit_button("Add uploaded files", width="stretch")
    folder = st.text_input("Or a folder on the server", placeholder="/path/to/documents")
    add_folder = st.button("Add folder", width="stretch")
    if upload:
        ingest_uploads(settings, target, files or [])
    elif add_folder:
        run_ingest(settings, target, folder)
    if "ingest_job" in state:
        st.fragment(run_every=1.0)(ingest_progress)()
    result = state.get("ingest_result")
    if result:
        if result.get("error"):
            st.error(escape_markdown(result["error"]))
        else:
            st.success(escape_markdown(result["summary"]))
        for message in result.get("rejected", []):
            st.warning(escape_markdown(message))
        for source, reason in result.get("skipped", []):
            st.warning(escape_markdown(f"Skipped {source}: {reason}"))


def ingest_uploads(settings: Settings, target: str, files: list) -> None:
    if not files:
        st.session_state["ingest_result"] = {"error": "Choose one or more files to upload first."}
        return
    try:
        folder = workspace.uploads_dir(workspace.with_collection(settings, target))
    except DocchatError as error:
        st.session_state["ingest_result"] = {"error": str(error)}
        return
    rejected = []
    for file in files:
        try:
            workspace.save_upload(folder, file.name, file.getvalue())
        except (DocchatError, OSError) as error:
            rejected.append(str(error))
    if len(rejected) == len(files):
        st.session_state["ingest_result"] = {"error": "No file could be added.", "rejected": rejected}
        return
    run_ingest(settings, target, str(folder), rejected)


def run_ingest(settings: Settings, target: str, path: str, rejected: list[str] | None = None) -> None:
    """Start ingesting ``path`` into collection ``target`` in the background; its progress shows in the sidebar
    and the chat stays usable (the collection answers by keyword search until its chunks are embedded)."""
    state = st.session_state
    try:
        embedder = load_ingest_embedder(settings_key(settings), settings)  # loads its model only when it embeds
        state["ingest_job"] = ingest_jobs.start(settings, target, path, embedder, rejected or [])
    except DocchatError as error:
        state["ingest_result"] = {"error": str(error), "rejected": rejected or []}
        return
    state.pop("ingest_result", None)


def collect_ingest() -> None:
    """Once this session's background ingest has finished, keep its result to show."""
    state = st.session_state
    job = state.get("ingest_job")
    if job is not None and job.result is not None:
        del state["ingest_job"]
        state["ingest_result"] = job.result
        if "summary" in job.result:
            state["switch_to"] = job.collection


def ingest_progress() -> None:
    """This session's running ingest as a progress bar (a fragment that reruns every second)."""
    job = st.session_state.get("ingest_job")
    if job is None:
        return
    if job.result is not None:
        st.rerun()  # the whole page: the result, the new counts
    st.progress(job.fraction, text=escape_markdown(job.label))
    st.caption("You can ask questions meanwhile: files read so far are searched by keyword until they are embedded.")


# -- the page --------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="docchat", page_icon="💬")
    new_run()  # source previews keep their keys across reruns
    try:
        settings = load_settings()
    except Exception as error:  # pydantic ValidationError or a broken docchat.toml
        st.error(escape_markdown(f"Invalid settings: {explain(error)[:400]}"))
        st.stop()
    chats.use_store(settings)
    try:
        with st.spinner("Loading the embedding model and the LLM…"):
            engine, problems = load_engine(settings_key(settings), settings)
    except DocchatError as error:
        st.error(escape_markdown(str(error)))
        st.stop()

    with st.sidebar:
        st.header(":material/forum: docchat")
        collection, top_k = sidebar(settings, engine, problems)

    st.title("Chat with your documents")
    st.caption(f"Answers come only from the collection **{escape_markdown(collection)}**, with checked citations.")
    turns = st.session_state.setdefault("chats", {}).setdefault(collection, [])
    for turn in turns:
        show_turn(turn)
    question = st.chat_input("Ask a question about your documents")
    if question is None:
        return
    text = question.strip()
    if not text:
        with st.chat_message("assistant"):
            st.warning(EMPTY_QUESTION)
        return
    history = engine_history(turns)
    user_turn = {"role": "user", "content": text}
    show_turn(user_turn)
    with st.chat_message("assistant"):
        reply = stream_reply(engine, text, history, collection, top_k)
    turns += [user_turn, reply]
    if chats.save_reply(engine, collection, turns):
        st.rerun()  # the chat list, the URL and the answer's feedback buttons show the saved turn


try:
    main()
except Exception as unexpected:  # st.stop()/st.rerun() are BaseExceptions and pass through
    log.exception("the page failed")
    st.error(f"Something went wrong ({type(unexpected).__name__}); the server log has the details.")
