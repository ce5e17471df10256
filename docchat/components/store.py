"""The Chroma side of the store: open the client (embedded or server), get collections, check models."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from docchat.core.errors import CollectionNotFound, ModelMismatch, StoreUnavailable
from docchat.core.settings import Settings

_OPEN_LOCK = threading.Lock()
PAGE = 5000  # rows fetched per page when scanning a collection


def open_client(settings: Settings) -> ClientAPI:
    """The Chroma client: a server at ``chroma_url`` if set, else the embedded store under ``data_dir``.

    Server mode never hangs: the server's heartbeat is checked first with ``chroma_timeout`` (chromadb's
    own HTTP session has no timeout at all), and every later request is bounded too (see :func:`_bound`);
    an unreachable, silent or broken server raises :class:`StoreUnavailable` with a message saying what to do.
    """
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.store.chroma_url:
        base = _server_base(settings.store.chroma_url)
        _check_heartbeat(base, settings.store.chroma_timeout)
        url = urlparse(base)
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except StoreUnavailable:
            raise
        except Exception as error:
            raise StoreUnavailable(
                f"Cannot use the Chroma server at {base} ({error}); check it is a Chroma {chromadb.__version__} "
                "server, or unset DOCCHAT_CHROMA_URL to use the embedded store."
            ) from error
        _bound(client, base, settings.store.chroma_timeout)
        return client
    try:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        with _OPEN_LOCK:  # chromadb's shared-system cache races when two threads open a new path at once
            return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as error:
        if _read_only(settings.chroma_path, error):
            raise StoreUnavailable(
                f"Cannot open the store at {settings.chroma_path}: the folder is read-only, and Chroma needs write "
                "access even to read; remount it read-write or set DOCCHAT_DATA_DIR to a writable copy."
            ) from error
        raise StoreUnavailable(f"Cannot open the store at {settings.chroma_path}: {error}") from error


def _read_only(path: Path, error: BaseException) -> bool:
    """Whether opening ``path`` failed because the folder (or its file system) cannot be written."""
    text = str(error).lower()
    return "readonly database" in text or "read-only file system" in text or folder_is_read_only(path) is True


def folder_is_read_only(folder: Path) -> bool | None:
    """Whether ``folder`` is on a read-only file system or not writable by us; None if it cannot be checked."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except OSError:
        return None


# -- server mode ---------------------------------------------------------------------------------------

HEARTBEAT = "/api/v2/heartbeat"  # the API the installed chromadb client speaks (Chroma >= 1.0 servers)
REQUEST_TIMEOUT_FACTOR = 6  # requests after the heartbeat may take this many times chroma_timeout


def _server_base(chroma_url: str) -> str:
    """``scheme://host[:port]`` of DOCCHAT_CHROMA_URL, or StoreUnavailable if it is not such a URL."""
    url = urlparse(chroma_url.strip())
    try:
        url.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        url = url._replace(netloc="")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise StoreUnavailable(
            f"DOCCHAT_CHROMA_URL {chroma_url!r} is not an http(s) URL; use e.g. http://127.0.0.1:8000."
        )
    if url.path.strip("/") or url.query or url.fragment:
        raise StoreUnavailable(
            f"DOCCHAT_CHROMA_URL {chroma_url!r} has a path; give only the server, e.g. http://127.0.0.1:8000."
        )
    return f"{url.scheme}://{url.netloc}"


def _check_heartbeat(base: str, timeout: float) -> None:
    """GET the heartbeat within ``timeout`` seconds (connect and answer), or raise StoreUnavailable."""
    hint = "start it, fix DOCCHAT_CHROMA_URL, or unset DOCCHAT_CHROMA_URL to use the embedded store"
    try:
        response = httpx.get(base + HEARTBEAT, timeout=timeout)
    except httpx.TimeoutException as error:
        raise StoreUnavailable(
            f"The Chroma server at {base} did not answer within {timeout:g} s; check that it is healthy and "
            "that DOCCHAT_CHROMA_URL is right, or raise DOCCHAT_CHROMA_TIMEOUT."
        ) from error
    except (httpx.HTTPError, OSError) as error:
        raise StoreUnavailable(f"Cannot reach the Chroma server at {base} ({error}); {hint}.") from error
    if response.status_code != 200:
        raise StoreUnavailable(
            f"{base} answered HTTP {response.status_code} on {HEARTBEAT}: it is not a Chroma server this "
            f"client can use (chromadb {chromadb.__version__} needs a Chroma 1.x server); {hint}."
        )


class _GuardedTransport(httpx.BaseTransport):
    """Wraps the chromadb session's transport: network failures become StoreUnavailable for the user."""

    def __init__(self, inner: httpx.BaseTransport, base: str) -> None:
        self.inner = inner
        self.base = base

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except httpx.TimeoutException as error:
            seconds = (request.extensions.get("timeout") or {}).get("read")
            within = f" within {seconds:g} s" if seconds else ""
            raise StoreUnavailable(
                f"The Chroma server at {self.base} stopped answering{within}; check that it is healthy "
                "(or raise DOCCHAT_CHROMA_TIMEOUT for a slow server) and try again."
            ) from error
        except httpx.TransportError as error:
            raise StoreUnavailable(
                f"Lost the Chroma server at {self.base} ({error}); check that it is running and try again."
            ) from error

    def close(self) -> None:
        self.inner.close()


def _bound(client: ClientAPI, base: str, timeout: float) -> None:
    """Give chromadb's HTTP session (built with ``timeout=None``) a timeout and user-facing errors.

    Uses chromadb/httpx internals (``client._server._session``, ``httpx.Client._transport``); if a future
    version lacks them, this does nothing and only the heartbeat check bounds the wait.
    """
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        return
    session.timeout = httpx.Timeout(timeout * REQUEST_TIMEOUT_FACTOR, connect=timeout)
    transport = getattr(session, "_transport", None)
    if isinstance(transport, httpx.BaseTransport) and not isinstance(transport, _GuardedTransport):
        session._transport = _GuardedTransport(transport, base)


def open_collection(
    client: ClientAPI, name: str, embed_model: str, dimension: int, *, create: bool = False
) -> Collection:
    """Get (or create) a collection, refusing one that was built with another embedding model."""
    try:
        collection = client.get_collection(name)
    except Exception as error:
        if not create:
            raise CollectionNotFound(
                f"No collection {name!r} yet; ingest documents first: docchat ingest PATH --collection {name}"
            ) from error
        now = time.time()
        return client.create_collection(
            name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embed_model": embed_model, "embed_dim": dimension, "created": now, "generation": 0},
        )
    meta = collection.metadata or {}
    if meta.get("embed_model") != embed_model or int(meta.get("embed_dim", dimension)) != dimension:
        raise ModelMismatch(
            f"Collection {name!r} was built with embedding model {meta.get('embed_model')!r} "
            f"({meta.get('embed_dim')}-d) but this run uses {embed_model!r} ({dimension}-d); set "
            f"DOCCHAT_EMBED_MODEL={meta.get('embed_model')} or re-embed with: docchat ingest PATH --rebuild"
        )
    return collection


def update_metadata(collection: Collection, **values: object) -> None:
    """Merge ``values`` into the collection's metadata."""
    merged = {**(collection.metadata or {}), **values}
    merged.pop("hnsw:space", None)
    collection.modify(metadata=merged)


def iter_pages(
    collection: Collection, where: dict | None = None, include: Sequence[str] = ("metadatas",)
) -> Iterator[dict]:
    """Every row of a collection (or those matching ``where``), a page of ``PAGE`` rows at a time.

    The ids come first, in one query; the rows are then fetched by id. Paging with ``offset`` instead
    makes SQLite skip every earlier row on each page: quadratic, minutes at a million chunks
    (bench/scale.py). Rows deleted meanwhile are simply missing from their page.
    """
    ids = collection.get(where=where, include=[])["ids"]
    for start in range(0, len(ids), PAGE):
        yield collection.get(ids=ids[start : start + PAGE], include=list(include))


def iter_rows(collection: Collection, where: dict | None = None) -> Iterator[tuple[str, dict]]:
    """Every (id, metadata) of a collection (or of the rows matching ``where``)."""
    for page in iter_pages(collection, where):
        for row_id, meta in zip(page["ids"], page["metadatas"] or [], strict=False):
            yield row_id, dict(meta or {})


@dataclass(frozen=True)
class CollectionInfo:
    """What ``docchat collections`` shows for one collection."""

    name: str
    documents: int
    chunks: int
    embed_model: str
    last_ingest: float | None


def list_collections(client: ClientAPI) -> list[CollectionInfo]:
    """All collections with their sizes and the model they were built with."""
    infos = []
    for entry in client.list_collections():
        collection = client.get_collection(entry if isinstance(entry, str) else entry.name)
        meta = collection.metadata or {}
        infos.append(
            CollectionInfo(
                name=collection.name,
                documents=int(meta.get("documents", 0)),
                chunks=collection.count(),
                embed_model=str(meta.get("embed_model", "?")),
                last_ingest=meta.get("last_ingest"),
            )
        )
    return sorted(infos, key=lambda info: info.name)
