"""Build and install llama-cpp-python for the CPU it runs on, never with AMX (standard library only).

llama.cpp's default build (``GGML_NATIVE=ON``) compiles its AMX kernels on CPUs that report AMX, and those
kernels crash worker threads with SIGILL (upstream ggml-org/llama.cpp PR #26954). So the build turns
``GGML_NATIVE`` off and passes every x86 instruction-set option explicitly, ON only where
``/proc/cpuinfo`` lists the feature, AMX always OFF. A user's own ``CMAKE_ARGS`` wins.

pip's wheel cache is bypassed (``--no-cache-dir``): it is keyed by version, not by CPU or flags. The
built wheel is kept in docchat's own cache instead, keyed by the llama-cpp-python version, the CMake
arguments, the CPU model and flags, and the compiler, so a rebuild happens exactly when one of those
changes. The key of the installed build is recorded in the venv; a matching install is left alone.

Usage: ``python scripts/install_llama_cpp.py [--print-args]`` with the venv's python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "llama-cpp-python"

# ggml CMake option -> the /proc/cpuinfo flag that must be present for it to be ON.
X86_OPTIONS = {
    "GGML_SSE42": "sse4_2",
    "GGML_AVX": "avx",
    "GGML_AVX2": "avx2",
    "GGML_FMA": "fma",
    "GGML_F16C": "f16c",
    "GGML_BMI2": "bmi2",
    "GGML_AVX_VNNI": "avx_vnni",
    "GGML_AVX512": "avx512f",
    "GGML_AVX512_VBMI": "avx512vbmi",
    "GGML_AVX512_VNNI": "avx512_vnni",
    "GGML_AVX512_BF16": "avx512_bf16",
}
NEVER = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")  # upstream PR #26954: SIGILL in worker threads


def pinned_requirement() -> str:
    """The llama-cpp-python requirement pyproject.toml pins (one source of truth for the version)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in dependencies:
        if re.match(rf"{PACKAGE}(\[[a-z,]+\])?\s*==", requirement):
            return requirement.replace(" ", "")
    raise SystemExit(f"pyproject.toml must pin {PACKAGE}==VERSION")


def cpu_flags() -> tuple[str, set[str]]:
    """(CPU model name, feature flags) from /proc/cpuinfo; empty on systems without it."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown", set()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    return (model.group(1).strip() if model else "unknown"), set(flags.group(1).split() if flags else ())


def detected_cmake_args(flags: set[str]) -> list[str]:
    """CMake arguments for this CPU: native detection off, each x86 option explicit, AMX off."""
    args = ["-DGGML_NATIVE=OFF"]
    if platform.machine().lower() in ("x86_64", "amd64"):
        args += [f"-D{option}={'ON' if flag in flags else 'OFF'}" for option, flag in X86_OPTIONS.items()]
        args += [f"-D{option}=OFF" for option in NEVER]
    else:  # not x86: ggml's own native detection has no AMX to pick up
        args = ["-DGGML_NATIVE=ON"]
    return args


def compiler_version() -> str:
    """First line of ``cc --version`` (part of the cache key: another compiler makes another binary)."""
    try:
        out = subprocess.run(["cc", "--version"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "no cc"
    return out.splitlines()[0] if out else "unknown"


def build_key(requirement: str, cmake_args: str, cpu: str, flags: set[str]) -> str:
    """Hash of everything the built binary depends on."""
    blob = json.dumps([requirement, cmake_args, cpu, sorted(flags), compiler_version(), sys.version_info[:2]])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_root() -> Path:
    """docchat's wheel cache (``DOCCHAT_WHEEL_CACHE``, else ``$XDG_CACHE_HOME/docchat/wheels``)."""
    if os.environ.get("DOCCHAT_WHEEL_CACHE"):
        return Path(os.environ["DOCCHAT_WHEEL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "docchat" / "wheels"


def pip(*args: str, env: dict[str, str] | None = None) -> None:
    """Run this interpreter's pip, failing with its exit status."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    result = subprocess.run(command, env=env, check=False)
    if result.returncode:
        raise SystemExit(f"pip {args[0]} {PACKAGE} failed (exit {result.returncode}); see the output above.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-args", action="store_true", help="print the CMake arguments and exit")
    parser.add_argument("--force", action="store_true", help="rebuild even if a build for this CPU exists")
    options = parser.parse_args()

    requirement = pinned_requirement()
    cpu, flags = cpu_flags()
    user_args = os.environ.get("CMAKE_ARGS", "").strip()
    cmake_args = user_args or " ".join(detected_cmake_args(flags))
    if options.print_args:
        print(cmake_args)
        return
    bare = re.sub(r"\[[a-z,]+\]", "", requirement)  # the wheel itself; the extras are installed after it
    key = build_key(bare, cmake_args, cpu, flags)
    marker = Path(sys.prefix) / "docchat-llama-cpp-build.json"
    cached = cache_root() / key
    if options.force:
        shutil.rmtree(cached, ignore_errors=True)
    elif marker.is_file() and json.loads(marker.read_text()).get("key") == key:
        print(f"{requirement} already built for this CPU ({key}); skipping.")
        return

    wheels = sorted(cached.glob("llama_cpp_python-*.whl"))
    if wheels:
        print(f"Installing {requirement} from docchat's cache ({cached}).")
    else:
        print(f"Building {requirement} for {cpu} (about 6 minutes on 2 cores)")
        print(f"  CMAKE_ARGS={cmake_args}" + ("  (yours)" if user_args else "  (detected; set CMAKE_ARGS to override)"))
        env = {**os.environ, "CMAKE_ARGS": cmake_args, "FORCE_CMAKE": "1"}
        with tempfile.TemporaryDirectory() as tmp:
            pip("wheel", "--quiet", "--no-deps", "--no-cache-dir", "--no-binary", PACKAGE, "-w", tmp, bare,
                env=env)  # fmt: skip
            built = sorted(Path(tmp).glob("llama_cpp_python-*.whl"))
            if not built:
                raise SystemExit(f"pip built no {PACKAGE} wheel; see the output above.")
            cached.mkdir(parents=True, exist_ok=True)
            for wheel in built:
                shutil.copy2(wheel, cached / wheel.name)
        wheels = sorted(cached.glob("llama_cpp_python-*.whl"))
    pip("install", "--quiet", "--no-cache-dir", "--force-reinstall", "--no-deps", str(wheels[-1]))
    pip("install", "--quiet", requirement)  # its pure-Python dependencies and the [server] extra
    marker.write_text(json.dumps({"key": key, "requirement": requirement, "cpu": cpu, "cmake_args": cmake_args}))
    print(f"Installed {requirement} ({key}).")


if __name__ == "__main__":
    main()
