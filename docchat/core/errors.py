"""User-facing errors: the message is what the user reads, one sentence that says what to do."""


class DocchatError(RuntimeError):
    """An error whose message is meant for the user (no traceback needed)."""


class StoreUnavailable(DocchatError):
    """The vector store cannot be opened or reached."""


class ModelMismatch(DocchatError):
    """The collection was built with another embedding model."""


class CollectionNotFound(DocchatError):
    """The collection does not exist yet."""


class IngestLocked(DocchatError):
    """Another ingest into the same collection is running."""


class ChatStoreUnavailable(DocchatError):
    """The chat database cannot be used (read-only, locked, damaged); answering goes on without saving."""


class ChatNotFound(DocchatError):
    """No saved chat has this id."""
