"""The Chroma side of the store: open the client (embedded or server), get collections, check models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

from docchat.errors import CollectionNotFound, ModelMismatch, StoreUnavailable
from docchat.settings import Settings

PAGE = 5000  # rows fetched per page when scanning a collection


def open_client(settings: Settings) -> ClientAPI:
    """The Chroma client: a server at ``chroma_url`` if set, else the embedded store under ``data_dir``."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreUnavailable(f"DOCCHAT_CHROMA_URL {settings.chroma_url!r} is not an http(s) URL.")
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as error:
            raise StoreUnavailable(
                f"Cannot reach the Chroma server at {settings.chroma_url}; start it or unset DOCCHAT_CHROMA_URL."
            ) from error
        return client
    try:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as error:
        raise StoreUnavailable(f"Cannot open the store at {settings.chroma_path}: {error}") from error


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


def iter_rows(collection: Collection, where: dict | None = None) -> Iterator[tuple[str, dict]]:
    """Every (id, metadata) of a collection, fetched a page at a time."""
    offset = 0
    while True:
        page = collection.get(where=where, include=["metadatas"], limit=PAGE, offset=offset)
        for row_id, meta in zip(page["ids"], page["metadatas"] or [], strict=False):
            yield row_id, dict(meta or {})
        if len(page["ids"]) < PAGE:
            return
        offset += PAGE


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
