"""Chat LLM backends: the embedded llama.cpp model (in a supervised child process), any OpenAI-compatible
server, or an Ollama server.

``build_llm(settings)`` returns a :class:`ChatLLM`. Every failure a user can fix (no model file, server
not running, model not pulled, the model process crashed) is raised as :class:`LLMUnavailable`, whose
message is one sentence saying what to do; streams raise it on their first ``next()`` at the latest.
The embedded model and an OpenAI-compatible server share one client (the ``openai`` package); Ollama
goes through llama-index's Ollama LLM.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from docchat.components.llm.catalog import GGUF_MAGIC, KNOWN_MODELS, resolve_model_path
from docchat.components.llm.profiles import ModelProfile, get_profile
from docchat.components.llm.server import LlamaServer, LLMUnavailable, ModelCrashed

if TYPE_CHECKING:
    from llama_index.llms.ollama import Ollama

    from docchat.core.settings import Settings

ROLES = frozenset({"system", "user", "assistant"})


class ChatLLM(Protocol):
    """What the rest of docchat needs from an LLM."""

    name: str
    """Backend and model (:func:`llm_name`), e.g. ``llamacpp:qwen2.5-coder-0.5b`` or ``ollama:llama3.2:3b``."""
    profile: ModelProfile

    def stream_chat(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[str]:
        """Yield the answer's text deltas for ``{"role": ..., "content": ...}`` messages."""
        ...

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """Return the whole answer (non-streaming convenience)."""
        ...

    def warm(self) -> None:
        """Make the first answer fast: start or reach the model and load it."""
        ...


def check_messages(messages: Sequence[dict[str, str]]) -> list[dict[str, str]]:
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


class _StreamingChat:
    """The plumbing every backend shares: message checks, max_tokens, complete() over stream_chat()."""

    name: str
    profile: ModelProfile

    def stream_chat(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> Iterator[str]:
        """Yield text deltas; errors (as LLMUnavailable) come on the first ``next()`` at the latest."""
        return self._stream(check_messages(messages), _max_tokens(max_tokens, self.profile.max_tokens))

    def complete(self, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
        """The whole answer, at most ``max_tokens`` (default: the profile's) tokens."""
        return "".join(self.stream_chat(messages, max_tokens))

    def warm(self) -> None:
        """One token, so the server is reachable and has the model in memory."""
        self.complete([{"role": "user", "content": "Hi"}], max_tokens=1)

    def _stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        raise NotImplementedError


# -- OpenAI-compatible servers (and the embedded model's own server) -----------------------------------------


def _http_errors() -> tuple[type[Exception], ...]:
    """The HTTP errors a broken stream raises: openai's HTTP library is httpx, or its fork httpx2 in openai 3."""
    errors = []
    for name in ("httpx", "httpx2"):
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(name).HTTPError)
    return tuple(errors)


class OpenAIChat(_StreamingChat):
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` (llama-server, vLLM, LM Studio, ...)."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        profile: ModelProfile,
        api_key: str | None = None,
        timeout: float = 120.0,
        temperature: float = 0.0,
        extra_body: dict[str, Any] | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.url, self.model = url.rstrip("/"), model
        self.name = f"openai:{model}"
        self.profile, self.timeout, self.temperature = profile, timeout, temperature
        self.connect_timeout = connect_timeout
        self.api_key = api_key or "none"  # the client insists on one; local servers ignore it
        self.extra_body = extra_body or {}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def _base_url(self) -> str:
        return self.url

    def _client(self) -> Any:
        """An ``openai.OpenAI`` client for the current base URL (thread-safe; no retries: errors are ours)."""
        import openai

        url = self._base_url()
        with self._clients_lock:
            if url not in self._clients:
                timeout = openai.Timeout(self.timeout, connect=min(self.timeout, self.connect_timeout))
                self._clients[url] = openai.OpenAI(base_url=url, api_key=self.api_key, timeout=timeout, max_retries=0)
            return self._clients[url]

    def _stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        import openai

        stream = None
        try:
            stream = self._client().chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=self.temperature,
                stop=list(self.profile.stop) or None,
                stream=True,
                extra_body=self.extra_body or None,
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except (openai.APIError, *_http_errors()) as error:
            raise self._unavailable(error) from error
        finally:  # an abandoned stream: close the connection so the server stops generating at once
            if stream is not None:
                stream.close()

    def _unavailable(self, error: Exception) -> LLMUnavailable:
        """The one-sentence LLMUnavailable for a client/server failure."""
        import openai

        url = self.url
        if isinstance(error, openai.APITimeoutError):
            return LLMUnavailable(
                f"The model server at {url} did not answer within {self.timeout:g} s; raise DOCCHAT_LLM_TIMEOUT."
            )
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMUnavailable(f"The model server at {url} refused the API key; set DOCCHAT_OPENAI_API_KEY.")
        if isinstance(error, openai.NotFoundError):
            return LLMUnavailable(
                f"The server at {url} has no model {self.model!r} or no /chat/completions; "
                "check DOCCHAT_OPENAI_URL (it ends in /v1) and DOCCHAT_OPENAI_MODEL."
            )
        if isinstance(error, openai.APIStatusError):
            return LLMUnavailable(f"The model server at {url} failed with HTTP {error.status_code}; check its log.")
        return LLMUnavailable(
            f"Cannot reach the model server at {url}; start it or set DOCCHAT_OPENAI_URL to a running server."
        )


_SERVERS: dict[tuple[Any, ...], LlamaServer] = {}
_SERVERS_LOCK = threading.Lock()


def shared_server(
    model_path: Path, n_ctx: int, n_threads: int, n_threads_batch: int, flash_attention: bool, log_file: Path
) -> LlamaServer:
    """One model process per model and configuration in this process, shared by every engine and session."""
    key = (model_path, n_ctx, n_threads, n_threads_batch, flash_attention)
    with _SERVERS_LOCK:
        if key not in _SERVERS:
            _SERVERS[key] = LlamaServer(
                model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads_batch,
                flash_attention=flash_attention, log_file=log_file,
            )  # fmt: skip
        return _SERVERS[key]


class LocalLlamaChat(OpenAIChat):
    """The embedded GGUF model, served by a supervised llama.cpp child process (see ``server.py``).

    llama.cpp keeps the KV cache of the last prompt and re-uses its longest common prefix, so the fixed
    system prompt is read once, not at every question. When the child dies mid-answer, the answer ends
    with :class:`ModelCrashed` ("The local model stopped (...); it is restarting.") and a new child is
    started at once in the background, so the next question is answered.
    """

    def __init__(self, server: LlamaServer, *, profile: ModelProfile, timeout: float, temperature: float) -> None:
        super().__init__(
            "", "local", profile=profile, timeout=timeout, temperature=temperature,
            extra_body={"repeat_penalty": profile.repeat_penalty},
        )  # fmt: skip
        self.server = server
        self.name = f"llamacpp:{server.model_path.name}"

    def _base_url(self) -> str:
        self.url = self.server.base_url()
        return self.url

    def _unavailable(self, error: Exception) -> LLMUnavailable:
        reason = self.server.wait_exit(timeout=2.0)
        if reason is None:
            return super()._unavailable(error)
        stops = self.server.stops
        threading.Thread(target=self._restart, args=(stops,), daemon=True, name="docchat-model-restart").start()
        return ModelCrashed(f"The local model stopped ({reason}); it is restarting, so ask again in a moment.")

    def _restart(self, stops: int) -> None:
        with contextlib.suppress(LLMUnavailable):  # a failed restart is reported to whoever asks next
            self.server.revive(stops)


# -- Ollama ----------------------------------------------------------------------------------------------------


class OllamaChat(_StreamingChat):
    """A model served by Ollama, through llama-index's ``Ollama`` LLM (``stream_chat``).

    Connecting is bounded by ``connect_timeout`` seconds; waiting for each part of the answer by
    ``timeout``. ``num_ctx`` is sent explicitly: left unset, llama-index would ask ``/api/show`` and
    request the model's full trained context (e.g. 131072 tokens for llama3.2).
    Thread-safe (httpx's client is); Ollama queues concurrent requests itself.
    """

    def __init__(
        self,
        url: str,
        model: str,
        *,
        profile: ModelProfile,
        timeout: float = 120.0,
        temperature: float = 0.0,
        connect_timeout: float = 5.0,
    ) -> None:
        import httpx
        import ollama

        self.url, self.model, self.name = url, model, f"ollama:{model}"
        self.profile, self.timeout, self.temperature = profile, timeout, temperature
        self._client = ollama.Client(host=url, timeout=httpx.Timeout(timeout, connect=min(timeout, connect_timeout)))
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
                    context_window=self.profile.context,
                    additional_kwargs={"num_predict": max_tokens, "repeat_penalty": self.profile.repeat_penalty},
                    client=self._client,  # same host, timeout bounded on connect
                )
            return self._llms[max_tokens]

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


# -- choosing a model ----------------------------------------------------------------------------------------


def check_gguf(path: Path) -> Path:
    """``path`` resolved, after checking it is a readable GGUF file; LLMUnavailable otherwise."""
    path = Path(path).expanduser()
    fix = "set DOCCHAT_LLM_MODEL_PATH to a GGUF file, or DOCCHAT_LLM_MODEL to a name from `docchat models list`"
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        reason = "does not exist" if not path.exists() else f"cannot be read ({e.strerror or e})"
        raise LLMUnavailable(f"The model file {path} {reason}; {fix}.") from e
    if magic != GGUF_MAGIC:
        raise LLMUnavailable(f"The model file {path} is not a GGUF file; {fix}.")
    return path.resolve()


def profile_name(settings: Settings) -> str:
    """The profile the settings choose: ``llm_profile`` if set, else the known model's, else ``default``."""
    if settings.llm.profile:
        return settings.llm.profile
    if settings.llm.backend != "llamacpp" or settings.llm.model_path is not None:
        return "default"
    known = KNOWN_MODELS.get(settings.llm.model)
    return known.profile if known else "default"


def resolve_profile(settings: Settings) -> ModelProfile:
    """The model profile with every override from the settings applied."""
    overrides: dict[str, object] = dict(settings.llm.profile_overrides)
    for field, value in (
        ("context", settings.llm.context),
        ("max_tokens", settings.llm.max_tokens),
        ("passage_budget", settings.llm.passage_budget),
    ):
        if value is not None:
            overrides[field] = value
    if settings.answer.refusal != "auto":
        overrides["trust_refusals"] = settings.answer.refusal == "abstain"
    if settings.answer.condense != "auto":
        overrides["trust_rewrites"] = settings.answer.condense == "llm"
    return get_profile(profile_name(settings), overrides)


def model_path(settings: Settings) -> Path:
    """The GGUF file of the llamacpp backend (checked); LLMUnavailable with the fix otherwise."""
    if settings.llm.model_path is not None:
        return check_gguf(settings.llm.model_path)
    return check_gguf(resolve_model_path(settings))


def llm_name(settings: Settings) -> str:
    """The configured LLM's one name, ``backend:model`` (answers, eval reports, saved chats), without loading it.

    E.g. ``llamacpp:qwen2.5-coder-0.5b``, ``llamacpp:my-model.gguf`` (a GGUF path), ``ollama:llama3.2:3b``.
    """
    served = {"ollama": settings.llm.ollama_model, "openai": settings.llm.openai_model}.get(settings.llm.backend)
    local = settings.llm.model_path.name if settings.llm.model_path else settings.llm.model
    return f"{settings.llm.backend}:{served or local}"


_BACKEND_LABELS = {"llamacpp": "llama.cpp", "ollama": "Ollama", "openai": "OpenAI-compatible"}


def llm_in_use(settings: Settings) -> tuple[str, str]:
    """(backend, model) as a front end shows them, e.g. ``("Ollama", "llama3.2:3b at http://...")``."""
    backend, model = llm_name(settings).split(":", 1)
    url = {"ollama": settings.llm.ollama_url, "openai": settings.llm.openai_url}.get(backend)
    return _BACKEND_LABELS[backend], f"{model} at {url}" if url else model


def build_llm(settings: Settings) -> ChatLLM:
    """The chat LLM chosen by ``settings.llm.backend``, driven by its model profile, named by :func:`llm_name`."""
    llm = _backend(settings, resolve_profile(settings))
    llm.name = llm_name(settings)
    return llm


def _backend(settings: Settings, profile: ModelProfile) -> ChatLLM:
    if settings.llm.backend == "llamacpp":
        server = shared_server(
            model_path(settings), profile.context, settings.llm.threads, settings.llm.threads_batch,
            settings.llm.flash_attention, settings.store.data_dir / "logs" / "model-server.log",
        )  # fmt: skip
        return LocalLlamaChat(server, profile=profile, timeout=settings.llm.timeout,
                              temperature=settings.llm.temperature)  # fmt: skip
    if settings.llm.backend == "openai":
        return OpenAIChat(
            settings.llm.openai_url, settings.llm.openai_model, profile=profile, api_key=settings.llm.openai_api_key,
            timeout=settings.llm.timeout, temperature=settings.llm.temperature,
            connect_timeout=settings.llm.connect_timeout,
        )  # fmt: skip
    return OllamaChat(settings.llm.ollama_url, settings.llm.ollama_model, profile=profile, timeout=settings.llm.timeout,
                      temperature=settings.llm.temperature, connect_timeout=settings.llm.connect_timeout)  # fmt: skip
