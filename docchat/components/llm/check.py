"""``docchat models check``: prove that llama.cpp runs a model on this CPU, in a child process.

The install ends with this check. A llama.cpp build with instructions this CPU lacks (or AMX kernels,
upstream ggml-org/llama.cpp PR #26954) dies with SIGILL on the first generation; here that child dies,
not the caller, and the caller gets one sentence saying what happened and how to rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docchat.components.llm.backends import LocalLlamaChat, model_path
from docchat.components.llm.profiles import get_profile
from docchat.components.llm.server import LlamaServer, LLMUnavailable
from docchat.core.settings import Settings

REBUILD = "rebuild llama-cpp-python for this CPU with `make rebuild-llama` (README: Installing llama.cpp)"


@dataclass(frozen=True)
class CheckResult:
    """What a successful check generated, and with which file."""

    model: Path
    text: str


def check_model(settings: Settings, tokens: int = 4) -> CheckResult:
    """Load the settings' llamacpp model in a child process and generate ``tokens`` tokens with it."""
    path = model_path(settings)
    log_file = settings.store.data_dir / "logs" / "model-check.log"
    server = LlamaServer(
        path, n_ctx=512, n_threads=settings.llm.threads, n_threads_batch=settings.llm.threads_batch,
        flash_attention=settings.llm.flash_attention, log_file=log_file,
    )  # fmt: skip
    try:
        llm = LocalLlamaChat(server, profile=get_profile("default"), timeout=60.0, temperature=0.0)
        try:
            text = llm.complete([{"role": "user", "content": "Say hello."}], max_tokens=tokens)
        except LLMUnavailable as error:
            reason = server.exit_reason()
            if reason is None:
                raise
            raise LLMUnavailable(
                f"The model process {reason} while generating with {path.name} (see {log_file}); {REBUILD}."
            ) from error
        if not text.strip():
            raise LLMUnavailable(f"llama.cpp generated nothing with {path.name} (see {log_file}); {REBUILD}.")
        return CheckResult(path, text)
    finally:
        server.stop()
