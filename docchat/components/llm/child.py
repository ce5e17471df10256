"""Entry point of the model process: die with the parent, then run llama.cpp's OpenAI-compatible server.

``python -m docchat.components.llm.child PARENT_PID ARGS...`` (ARGS are llama_cpp.server's). Linux's
``PR_SET_PDEATHSIG`` makes the kernel SIGKILL this process when its parent dies, so a crashed or killed
UI never leaves a model process behind holding memory and a port.

llama_cpp.server prefers the environment to its arguments: ``HOST``, ``PORT`` and ``CONFIG_FILE`` win over
``--host``/``--port``, and every setting it has (``API_KEY``, ``N_GPU_LAYERS``, ...) is read from a variable
of that name. A ``PORT`` meant for the UI (``make run PORT=8599``, a PaaS) would send the model to the UI's
port, so the child drops those variables first: docchat's arguments are all it reads.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import signal
import sys
from collections.abc import MutableMapping

PR_SET_PDEATHSIG = 1


def drop_server_variables(environ: MutableMapping[str, str]) -> list[str]:
    """Remove the variables llama_cpp.server would read instead of its arguments; the names removed."""
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    fields = [*ModelSettings.model_fields, *ServerSettings.model_fields]
    names = {"host", "port", "config_file"} | {name.lower() for name in fields}
    dropped = [key for key in environ if key.lower() in names]
    for key in dropped:
        del environ[key]
    return dropped


def main() -> None:
    parent = int(sys.argv[1])
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        sys.exit(1)
    drop_server_variables(os.environ)
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
