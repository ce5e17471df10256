"""Entry point of the model process: die with the parent, then run llama.cpp's OpenAI-compatible server.

``python -m docchat.components.llm.child PARENT_PID ARGS...`` (ARGS are llama_cpp.server's). Linux's
``PR_SET_PDEATHSIG`` makes the kernel SIGKILL this process when its parent dies, so a crashed or killed
UI never leaves a model process behind holding memory and a port.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent = int(sys.argv[1])
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        sys.exit(1)
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
