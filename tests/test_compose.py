"""The deployment files: docker-compose.yml, Dockerfile, .dockerignore.

No Docker engine here, so nothing is built or run. What is checked: the compose file through a real
Compose implementation (`docker-compose config`, Debian's docker-compose package) and against the
compose-spec JSON schema that package ships; every DOCCHAT_* name is a docchat setting; references
between services, volumes and profiles hold; the Dockerfile does what docs/deployment.md says.
"""

from __future__ import annotations

import fnmatch
import http.server
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from docchat.core.settings import Settings

from .conftest import REPO, free_port, seed_model

COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"

SETTINGS_ENV = {f"DOCCHAT_{name.upper()}" for name in Settings.flat_names()}
COMPOSE_ONLY_VARS = {"DOCCHAT_CORPUS_DIR"}  # host-side compose variables, never read by docchat itself
UI_COMMAND = ["docchat", "ui", "--host", "0.0.0.0", "--port", "8501"]
INGEST_COMMAND = ["docchat", "ingest", "/corpus"]
API_COMMAND = ["docchat", "serve", "--host", "0.0.0.0", "--port", "8000"]
API_KEY_ENV = {"DOCCHAT_API_KEY": "compose-test-key"}  # what a user sets to start the api profile
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
INSTALL_HINT = "apt-get install -y --no-install-recommends docker-compose"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def _healthcheck_enabled(service: dict) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not check.get("disable") and check.get("test") not in (["NONE"], "NONE")


def _named_volumes(service: dict) -> set[str]:
    names = set()
    for volume in service.get("volumes") or []:
        source = volume.get("source", "") if isinstance(volume, dict) else str(volume).split(":", 1)[0]
        if source and not source.startswith(("/", ".", "~", "$")):
            names.add(source)
    return names


# -- a real Compose implementation -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """Debian's docker-compose (v1.29): parses, validates and interpolates without a Docker engine."""
    path = shutil.which("docker-compose")
    if path is None:
        message = f"docker-compose is not installed; the test set-up installs it with: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _config(docker_compose: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DOCCHAT_", "COMPOSE_"))}
    return subprocess.run(
        [docker_compose, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), *args, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **API_KEY_ENV, **(env or {})},
        cwd=REPO,
    )


def test_compose_config_resolves(docker_compose: str) -> None:
    result = _config(docker_compose)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"ollama", "ollama-gpu", "ollama-pull", "chroma", "ingest", "app", "api"}
    assert set(resolved["volumes"]) == {"ollama-models", "chroma-data", "docchat-data"}
    app, ingest, pull = (resolved["services"][name] for name in ("app", "ingest", "ollama-pull"))
    assert app["environment"]["DOCCHAT_CHROMA_URL"] == "http://chroma:8000"
    assert app["environment"]["DOCCHAT_OLLAMA_URL"] == "http://ollama:11434"
    assert app["environment"]["DOCCHAT_OLLAMA_MODEL"] == "llama3.2:3b"
    assert ingest["environment"]["DOCCHAT_CHROMA_URL"] == "http://chroma:8000"
    assert f"{REPO / 'corpus'}:/corpus:ro" in ingest["volumes"]
    assert pull["command"] == ["pull", "llama3.2:3b"]
    assert ingest["healthcheck"]["test"] == ["NONE"]  # the image's UI healthcheck is off for the job
    api = resolved["services"]["api"]
    assert api["environment"]["DOCCHAT_API_KEY"] == API_KEY_ENV["DOCCHAT_API_KEY"]
    assert api["environment"]["DOCCHAT_CHROMA_URL"] == "http://chroma:8000"


def test_compose_config_resolves_without_an_api_key_and_the_api_is_opt_in(docker_compose: str) -> None:
    """The UI stack deploys without a key; the API is a profile, and without a key `docchat serve` itself
    refuses to bind 0.0.0.0 (tests/test_api.py), so a keyless API never starts."""
    result = _config(docker_compose, env={"DOCCHAT_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    api = yaml.safe_load(result.stdout)["services"]["api"]
    assert api["profiles"] == ["api"] and api["environment"]["DOCCHAT_API_KEY"] == ""


def test_compose_config_variables_override(docker_compose: str, tmp_path: Path) -> None:
    env = {
        "DOCCHAT_CORPUS_DIR": str(tmp_path),
        "DOCCHAT_OLLAMA_MODEL": "qwen2.5:7b",
        "DOCCHAT_OLLAMA_URL": "http://ollama-gpu:11434",
        "DOCCHAT_COLLECTION": "handbook",
    }
    result = _config(docker_compose, "--profile", "gpu", env=env)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert f"{tmp_path}:/corpus:ro" in resolved["ingest"]["volumes"]
    assert resolved["ollama-pull"]["command"] == ["pull", "qwen2.5:7b"]
    assert resolved["app"]["environment"]["DOCCHAT_OLLAMA_MODEL"] == "qwen2.5:7b"
    assert resolved["app"]["environment"]["DOCCHAT_OLLAMA_URL"] == "http://ollama-gpu:11434"
    assert resolved["app"]["environment"]["DOCCHAT_COLLECTION"] == "handbook"
    assert resolved["ingest"]["environment"]["DOCCHAT_COLLECTION"] == "handbook"
    devices = resolved["ollama-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_compose_config_rejects_a_broken_file(docker_compose: str, tmp_path: Path) -> None:
    """The parser is not a rubber stamp: a dangling depends_on and a bad condition are errors."""
    broken = yaml.safe_load(COMPOSE_FILE.read_text())
    broken["services"]["app"]["depends_on"]["nowhere"] = {"condition": "service_healthy"}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    env = {**os.environ, **API_KEY_ENV}
    result = subprocess.run(
        [docker_compose, "-f", str(path), "config"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode != 0 and "nowhere" in result.stderr

    broken["services"]["app"]["depends_on"] = {"chroma": {"condition": "service_ready"}}
    path.write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [docker_compose, "-f", str(path), "config"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode != 0


def _compose_schema(docker_compose: str) -> dict:
    """compose_spec.json from the docker-compose package, found through the interpreter it runs on."""
    shebang = Path(docker_compose).read_text(errors="replace").splitlines()[0]
    python = shlex.split(shebang[2:])[0] if shebang.startswith("#!") else "python3"
    found = subprocess.run(
        [python, "-c", "import compose.config, os; print(os.path.dirname(compose.config.__file__))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    return json.loads((Path(found.stdout.strip()) / "compose_spec.json").read_text())


def test_compose_file_matches_compose_spec_schema(docker_compose: str, compose: dict) -> None:
    import jsonschema

    schema = _compose_schema(docker_compose)
    # Its $schema is draft 2019-09 written with a trailing '#', which jsonschema does not look up.
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft201909Validator)
    errors = sorted(validator_class(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


# -- DOCCHAT_* names ---------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        lines.append(current)
        current = ""
    out = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in _dockerfile_instructions():
        if instruction == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def test_every_docchat_env_name_is_a_setting(services: dict[str, dict]) -> None:
    used: dict[str, str] = {}
    for name, service in services.items():
        for key in _environment(service):
            used[key] = f"services.{name}.environment"
    for key in _dockerfile_env():
        used[key] = "Dockerfile ENV"
    docchat = {key: where for key, where in used.items() if key.startswith("DOCCHAT_")}
    assert docchat, "no DOCCHAT_* settings found"
    unknown = {key: where for key, where in docchat.items() if key not in SETTINGS_ENV}
    assert not unknown, f"not fields of docchat.core.settings.Settings: {unknown}"


def test_compose_variables_are_settings_or_documented_compose_only() -> None:
    variables = set(re.findall(r"\$\{(DOCCHAT_[A-Z0-9_]+)", COMPOSE_FILE.read_text()))
    assert "DOCCHAT_CORPUS_DIR" in variables
    assert variables <= SETTINGS_ENV | COMPOSE_ONLY_VARS, variables - SETTINGS_ENV - COMPOSE_ONLY_VARS


def test_deployment_doc_names_only_real_settings() -> None:
    if not DEPLOYMENT_DOC.exists():
        pytest.fail("docs/deployment.md is missing")
    names = set(re.findall(r"\bDOCCHAT_[A-Z0-9_]*[A-Z0-9]", DEPLOYMENT_DOC.read_text()))
    assert names <= SETTINGS_ENV | COMPOSE_ONLY_VARS, names - SETTINGS_ENV - COMPOSE_ONLY_VARS


# -- references and the stack's shape ----------------------------------------------------------------------


def test_references_resolve(compose: dict, services: dict[str, dict]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    used_volumes: set[str] = set()
    for name, service in services.items():
        for target, condition in _depends_on(service).items():
            assert target in services, f"{name} depends on undefined service {target}"
            assert condition in CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert _healthcheck_enabled(services[target]), f"{name} waits for {target} healthy: no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is awaited to finish: must not restart"
            if not service.get("profiles"):
                assert not services[target].get("profiles"), f"{name} (always on) depends on profiled {target}"
        volumes = _named_volumes(service)
        assert volumes <= declared_volumes, f"{name} uses undeclared volumes {volumes - declared_volumes}"
        used_volumes |= volumes
    assert used_volumes == declared_volumes, f"declared but unused: {declared_volumes - used_volumes}"


def test_stack_shape(services: dict[str, dict]) -> None:
    ollama, gpu, pull = services["ollama"], services["ollama-gpu"], services["ollama-pull"]
    chroma, ingest, app = services["chroma"], services["ingest"], services["app"]

    assert ollama["image"].split(":")[0] == "ollama/ollama"
    assert "ollama-models:/root/.ollama" in ollama["volumes"]
    assert ollama["healthcheck"]["test"] == ["CMD", "ollama", "list"]

    assert gpu["profiles"] == ["gpu"] and gpu["image"] == ollama["image"]
    assert gpu["volumes"] == ollama["volumes"], "the GPU server must see the same pulled models"
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]

    assert pull["image"] == ollama["image"]
    assert pull["command"] == ["pull", "${DOCCHAT_OLLAMA_MODEL:-llama3.2:3b}"]
    assert _environment(pull)["OLLAMA_HOST"] == "http://ollama:11434"
    assert _depends_on(pull) == {"ollama": "service_healthy"}

    assert "/api/v2/heartbeat" in " ".join(chroma["healthcheck"]["test"])
    assert "chroma-data:/data" in chroma["volumes"]

    assert ingest["command"] == INGEST_COMMAND
    assert "${DOCCHAT_CORPUS_DIR:-./corpus}:/corpus:ro" in ingest["volumes"]
    assert _environment(ingest)["DOCCHAT_CHROMA_URL"] == "${DOCCHAT_CHROMA_URL:-http://chroma:8000}"
    assert _depends_on(ingest) == {"chroma": "service_healthy"}

    assert app["command"] == UI_COMMAND
    env = _environment(app)
    assert env["DOCCHAT_LLM_BACKEND"] == "ollama"
    assert env["DOCCHAT_OLLAMA_URL"] == "${DOCCHAT_OLLAMA_URL:-http://ollama:11434}"
    assert env["DOCCHAT_CHROMA_URL"] == "${DOCCHAT_CHROMA_URL:-http://chroma:8000}"
    assert env["DOCCHAT_OLLAMA_MODEL"] == "${DOCCHAT_OLLAMA_MODEL:-llama3.2:3b}"
    assert env["DOCCHAT_DATA_DIR"] == _environment(ingest)["DOCCHAT_DATA_DIR"] == "/data"
    assert any(str(port).endswith(":8501:8501") for port in app["ports"])
    assert _depends_on(app) == {
        "chroma": "service_healthy",
        "ollama": "service_healthy",
        "ollama-pull": "service_completed_successfully",
        "ingest": "service_completed_successfully",
    }
    assert ingest["image"] == app["image"] and ingest["build"] == app["build"] == "."

    api = services["api"]
    assert api["command"] == API_COMMAND
    assert api["image"] == app["image"] and api["build"] == app["build"]
    assert _environment(api)["DOCCHAT_API_KEY"] == "${DOCCHAT_API_KEY:-}" and api["profiles"] == ["api"]
    assert {k: v for k, v in _environment(api).items() if k != "DOCCHAT_API_KEY"} == _environment(app)
    assert any(str(port).endswith(":8000:8000") for port in api["ports"])
    assert "/healthz" in " ".join(api["healthcheck"]["test"]) and "8000" in " ".join(api["healthcheck"]["test"])
    assert _depends_on(api) == _depends_on(app)


def test_chroma_image_matches_installed_client(services: dict[str, dict]) -> None:
    image, _, tag = services["chroma"]["image"].partition(":")
    assert image == "chromadb/chroma"
    client = importlib.metadata.version("chromadb")
    assert tag.split(".")[:2] == client.split(".")[:2], f"chromadb/chroma:{tag} vs chromadb client {client}"


# -- Dockerfile -----------------------------------------------------------------------------------------------


def test_dockerfile_shape() -> None:
    instructions = _dockerfile_instructions()
    froms = [args.split()[0] for instruction, args in instructions if instruction == "FROM"]
    assert froms and all(image == "python:3.11-slim" for image in froms), froms

    runs = [args for instruction, args in instructions if instruction == "RUN"]
    torch_at = next(i for i, run in enumerate(runs) if "torch==2.13.0" in run)
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_at]
    project_at = next(i for i, run in enumerate(runs) if re.search(r"pip install (/src|\.)(\s|$)", run))
    assert torch_at < project_at, "torch (CPU) must be installed before the project"
    assert "torch.version.cuda" in runs[project_at], "the build must fail if a CUDA torch slipped in"

    final = instructions[max(i for i, (ins, _) in enumerate(instructions) if ins == "FROM") :]
    users = [args for ins, args in final if ins == "USER"]
    assert users and users[-1] not in ("root", "0"), "the runtime stage must run as a non-root user"
    assert ("EXPOSE", "8501") in final
    [health] = [args for ins, args in final if ins == "HEALTHCHECK"]
    assert "/_stcore/health" in health and "8501" in health
    [cmd] = [args for ins, args in final if ins == "CMD"]
    assert json.loads(cmd) == UI_COMMAND


@pytest.fixture
def health_server() -> Iterator[int]:
    """A loopback HTTP server answering 200 on streamlit's health path."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/_stcore/health" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join(5)
    server.server_close()


def test_dockerfile_healthcheck_command_runs(health_server: int) -> None:
    [health] = [args for ins, args in _dockerfile_instructions() if ins == "HEALTHCHECK"]
    command = json.loads(health[health.index("CMD") + len("CMD") :].strip())
    assert command[0] == "python"

    def run(port: int) -> int:
        argv = [sys.executable, *[arg.replace(":8501/", f":{port}/") for arg in command[1:]]]
        return subprocess.run(argv, capture_output=True, timeout=30).returncode

    assert run(health_server) == 0
    assert run(free_port()) != 0


def test_dockerignore_keeps_what_the_build_needs() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p.lstrip("/")) or path.startswith(p.rstrip("/") + "/") for p in patterns)

    needed = ["pyproject.toml", "README.md", "docchat/core/settings.py", "ingest/pipeline.py", "app/engine.py"]
    needed += [f"app/{p.relative_to(REPO / 'app')}" for p in (REPO / "app").rglob("*.txt")]
    assert not [path for path in needed if ignored(path)]
    assert all(ignored(path) for path in [".venv", ".git", ".docchat", "corpus/full-stack-python.txt"])


def test_ui_and_ingest_commands_take_the_compose_arguments(
    settings: Settings, model_cache: Path, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose services' commands, run through the CLI: the ingest job ingests the folder it is given, and
    the UI starts Streamlit listening on the host and port given (the process it would become is captured)."""
    from docchat.cli.main import app as cli_app

    runner = CliRunner()
    env = {"DOCCHAT_DATA_DIR": str(seed_model(settings.store.data_dir, model_cache, embedder)), "COLUMNS": "400"}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text("# Notes\n\nCollab was built by the Consumer Financial Protection Bureau.\n")
    ingest = runner.invoke(cli_app, [*INGEST_COMMAND[1:-1], str(corpus)], env=env)
    assert ingest.exit_code == 0, ingest.output
    assert "1 files seen, 1 added" in " ".join(ingest.output.split())

    class Launched(Exception):
        """Raised instead of replacing this process with Streamlit."""

    launched: dict[str, object] = {}

    def execve(path: str, argv: list[str], environ: dict[str, str]) -> None:
        launched.update(path=path, argv=argv, env=environ)
        raise Launched

    monkeypatch.setattr(os, "execve", execve)
    ui = runner.invoke(cli_app, UI_COMMAND[1:], env=env)
    assert isinstance(ui.exception, Launched), ui.output
    argv = launched["argv"]
    assert launched["path"] == argv[0] == sys.executable and argv[1:4] == ["-m", "streamlit", "run"]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.address"] == "0.0.0.0" and options["--server.port"] == "8501"
    assert options["--server.headless"] == "true"
    assert "docchat UI on http://0.0.0.0:8501" in ui.output


def test_serve_command_takes_the_compose_arguments() -> None:
    from docchat.cli.main import app as cli_app

    serve = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert serve.exit_code == 0, serve.output
    assert "--host" in serve.output and "--port" in serve.output
