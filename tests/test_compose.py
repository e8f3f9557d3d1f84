"""The one-node deployment without Docker: docker-compose.yml validates against the Compose
Specification schema, wires postgres -> prefect-server -> deploy -> worker consistently, runs only
commands and options this project (and the pinned Prefect) has, mounts only files that exist, lets
the worker be scaled, and the Dockerfile builds the image those commands run in.
(tests/test_compose_processes.py runs the same commands as local processes.)"""

from __future__ import annotations

import importlib
import itertools
import json
import os
import re
import shlex
import subprocess
import sysconfig
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from flows.settings import Settings
from tasks.sources import load_sources

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "schemas" / "compose-spec.json"
SCRIPTS = Path(sysconfig.get_path("scripts"))  # the venv's console scripts (.venv/bin)

COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::?[-?](?P<default>[^}]*))?\}")


def interpolate(value: str, shell: dict[str, str] | None = None) -> str:
    """Compose interpolation from ``shell`` (default: every variable unset): ``${VAR:-default}``
    gives the variable's value, else the default."""
    shell = shell or {}
    result = _VARIABLE.sub(lambda m: shell.get(m["name"]) or m.group("default") or "", value)
    assert "$" not in result, f"unhandled interpolation in {value!r}"
    return result


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def command(service: str) -> list[str]:
    cmd = SERVICES[service]["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def executed_commands() -> list[list[str]]:
    """Every program invocation the compose services run (``sh -c "a && exec b"`` split up)."""
    found: list[list[str]] = []
    for name in SERVICES:
        if "command" not in SERVICES[name]:
            continue
        argv = command(name)
        if argv[:2] == ["sh", "-c"]:
            for part in re.split(r"&&|;|\|\|", argv[2]):
                words = shlex.split(part)
                found.append(words[1:] if words[:1] == ["exec"] else words)
        else:
            found.append(argv)
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = ROOT.joinpath("Dockerfile").read_text(encoding="utf-8").splitlines()
    joined: list[str] = []
    buffer = ""
    for line in lines:
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        joined.append(buffer + line)
        buffer = ""
    out = []
    for line in joined:
        keyword, _, args = line.strip().partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


# --- the file as a whole --------------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec() -> None:
    # imported by name: no stubs are installed for jsonschema, and strict mypy forbids the import
    jsonschema = importlib.import_module("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator_class: Any = getattr(jsonschema, "Draft201909Validator", jsonschema.Draft7Validator)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )
    # The schema really checks services (a typo in a key is an error), so a pass means something.
    broken = {"services": {"x": {"image": "postgres:15", "healthcheck": {"tset": []}}}}
    assert list(validator.iter_errors(broken))


PIPELINE = ["deploy", "worker"]  # the services built from our Dockerfile


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_services_are_the_one_node_stack() -> None:
    assert set(SERVICES) == {"postgres", "prefect-server", "deploy", "worker"}


# --- postgres -------------------------------------------------------------------------------------


def test_postgres_has_a_healthcheck_and_a_named_volume() -> None:
    postgres = SERVICES["postgres"]
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    named = [
        v.split(":", 1)[0]
        for v in postgres["volumes"]
        if isinstance(v, str) and not v.startswith((".", "/", "~"))
    ]
    assert named, postgres["volumes"]
    assert all(name in COMPOSE.get("volumes", {}) for name in named), named
    assert any(
        v.split(":")[1] == "/var/lib/postgresql/data" for v in postgres["volumes"] if ":" in v
    ), "the data directory must be on the named volume"


def test_every_healthy_dependency_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            continue
        for dependency, condition in depends.items():
            assert dependency in SERVICES, (name, dependency)
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], (name, dependency)


def test_the_prefect_database_is_created_by_initdb() -> None:
    scripts = sorted((ROOT / "docker" / "initdb").glob("*.sql"))
    assert scripts
    sql = " ".join(p.read_text(encoding="utf-8") for p in scripts)
    url = make_url(environment("prefect-server")["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert re.search(rf"CREATE\s+DATABASE\s+{url.database}\b", sql, re.IGNORECASE), sql


# --- prefect-server -------------------------------------------------------------------------------


def test_prefect_server_runs_prefect_server_start_on_the_postgres_service() -> None:
    server = SERVICES["prefect-server"]
    assert command("prefect-server")[:3] == ["prefect", "server", "start"]
    url = make_url(environment("prefect-server")["PREFECT_API_DATABASE_CONNECTION_URL"])
    pg = environment("postgres")
    assert url.drivername == "postgresql+asyncpg"  # the only PostgreSQL driver Prefect supports
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
    assert url.database != pg["POSTGRES_DB"], "Prefect's state lives in its own database"
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_prefect_server_image_matches_the_installed_prefect() -> None:
    from importlib.metadata import version

    from packaging.requirements import Requirement

    image = SERVICES["prefect-server"]["image"]
    match = re.fullmatch(r"prefecthq/prefect:(?P<version>[\d.]+)-python(?P<python>[\d.]+)", image)
    assert match, f"pin an exact Prefect image tag, got {image!r}"
    assert match["version"] == version("prefect"), "the server and the tested client must agree"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    requirement = next(
        Requirement(line.strip().strip('",'))
        for line in pyproject.splitlines()
        if line.strip().startswith('"prefect')
    )
    assert requirement.specifier.contains(match["version"]), (requirement, image)


def test_prefect_ui_api_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UI asks the browser to call this URL: the Docker host's name only works on that host,
    so the operator sets PREFECT_UI_API_URL in the shell or .env; Prefect's server reads it."""
    from prefect.settings import Settings as PrefectSettings

    raw = str(SERVICES["prefect-server"]["environment"]["PREFECT_UI_API_URL"])
    assert interpolate(raw) == "http://localhost:4200/api"
    public = "http://news-ops.example.org:4200/api"
    assert interpolate(raw, {"PREFECT_UI_API_URL": public}) == public
    monkeypatch.setenv("PREFECT_UI_API_URL", interpolate(raw, {"PREFECT_UI_API_URL": public}))
    assert PrefectSettings().server.ui.api_url == public  # the name Prefect's server reads


def dockerfile_prefect_pin() -> str:
    """The Prefect version the image installs: ``pip install ... "prefect==${ARG}"``."""
    instructions = dockerfile_instructions()
    args = dict(
        a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a
    )  # ARG NAME=default
    install = next(a for k, a in instructions if k == "RUN" and "pip install" in a)
    pins = [w for w in shlex.split(install) if w.startswith("prefect==")]
    assert len(pins) == 1, f"the image must install one pinned Prefect: {install!r}"
    return interpolate(pins[0].removeprefix("prefect=="), args)


def test_image_installs_the_prefect_of_the_server_image() -> None:
    match = re.fullmatch(
        r"prefecthq/prefect:(?P<version>[\d.]+)-python(?P<python>[\d.]+)",
        SERVICES["prefect-server"]["image"],
    )
    assert match
    assert dockerfile_prefect_pin() == match["version"], "client and server Prefect must agree"
    base = next(a for k, a in dockerfile_instructions() if k == "FROM")
    assert re.fullmatch(rf"python:{re.escape(match['python'])}(-slim)?", base), base


def test_prefect_server_healthcheck_is_valid_python() -> None:
    test = SERVICES["prefect-server"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    compile(test[3], "<healthcheck>", "exec")
    assert "/api/health" in test[3]


# --- deploy and worker ----------------------------------------------------------------------------


@pytest.mark.parametrize("service", PIPELINE)
def test_pipeline_is_built_from_the_repository_dockerfile(service: str) -> None:
    build = SERVICES[service]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context).resolve() == ROOT
    assert (ROOT / context / dockerfile).is_file()


@pytest.mark.parametrize("service", PIPELINE)
def test_pipeline_talks_to_prefect_server_and_postgres(service: str) -> None:
    env = environment(service)
    api = urlsplit(env["PREFECT_API_URL"])
    argv = command("prefect-server")
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 4200
    assert (api.scheme, api.hostname, api.port, api.path) == (
        "http",
        "prefect-server",
        port,
        "/api",
    )

    url = make_url(env["NEWSFLOW_DATABASE_URL"])
    pg = environment("postgres")
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.password) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
    assert url.database == pg["POSTGRES_DB"]
    depends = SERVICES[service]["depends_on"]
    assert depends["prefect-server"]["condition"] == "service_healthy"


def test_every_newsflow_variable_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {
        key: value
        for service in SERVICES
        for key, value in environment(service).items()
        if key.startswith("NEWSFLOW_")
    }
    assert variables
    unknown = [
        key
        for key in variables
        if key.removeprefix("NEWSFLOW_").lower() not in Settings.model_fields
    ]
    assert not unknown, f"not fields of flows.settings.Settings (silently ignored): {unknown}"
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # the values parse as the container would parse them
    assert settings.database_url == variables["NEWSFLOW_DATABASE_URL"]


def test_deploy_upgrades_then_applies_the_deployments_once() -> None:
    argv = command("deploy")
    assert argv[:2] == ["sh", "-c"], argv
    steps = [shlex.split(s) for s in argv[2].split("&&")]
    assert steps[0] == ["newsflow", "db", "upgrade"], steps
    assert steps[1][:4] == ["exec", "newsflow", "deployments", "apply"], (
        "apply must be exec'd: the shell would otherwise be PID 1 and never pass SIGTERM on"
    )
    deploy = SERVICES["deploy"]
    assert deploy["restart"] == "no", "a one-shot service"
    assert deploy["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_worker_polls_the_pool_deploy_registers_on() -> None:
    worker = command("worker")
    assert command_path(worker) == ["prefect", "worker", "start"]
    assert option(worker, "--type") == "process"
    apply = shlex.split(command("deploy")[2].split("&&")[-1])
    assert option(worker, "--pool") == option(apply, "--pool")
    condition = SERVICES["worker"]["depends_on"]["deploy"]["condition"]
    assert condition == "service_completed_successfully", "no worker before the deployments"


def test_worker_can_be_scaled() -> None:
    """``docker compose up --scale worker=N``: replicas must not share a name or a host port."""
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker.get("restart") == "unless-stopped"
    assert SERVICES["deploy"]["image"] == worker["image"], "one image, built once"


def command_path(argv: list[str]) -> list[str]:
    """The program and its subcommands: the words before the first option."""
    return list(itertools.takewhile(lambda word: not word.startswith("-"), argv))


HELP_COMMANDS = [
    ["newsflow", "db", "upgrade"],
    ["newsflow", "deployments", "apply"],
    ["prefect", "server", "start"],
    ["prefect", "worker", "start"],
]


def test_compose_runs_only_known_commands() -> None:
    paths = [command_path(argv) for argv in executed_commands()]
    assert sorted(paths) == sorted(HELP_COMMANDS), paths


@pytest.mark.parametrize("words", HELP_COMMANDS, ids=" ".join)
def test_commands_exist_in_the_venv(words: list[str], tmp_path: Path) -> None:
    """``<command> --help`` exits 0, and every option compose passes to it is documented."""
    options = sorted(
        {
            word.split("=", 1)[0]
            for argv in executed_commands()
            if command_path(argv) == words
            for word in argv[len(words) :]
            if word.startswith("--")
        }
    )
    executable = SCRIPTS / words[0]
    assert executable.is_file(), executable
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSFLOW_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [str(executable), *words[1:], "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    for option in options:
        assert option in done.stdout, (option, done.stdout)


# --- mounts, image, sources -----------------------------------------------------------------------


def test_every_bind_mount_exists() -> None:
    sources: set[str] = set()
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                if volume.get("type") == "bind":
                    sources.add(volume["source"])
                continue
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/", "~")):
                sources.add(source)
    assert {"./sources.yaml", "./docker/initdb"} <= sources, sources
    for source in sources:
        assert (COMPOSE_FILE.parent / source).exists(), f"bind mount {source} does not exist"


def test_dockerfile_copies_the_packages_and_runs_a_worker() -> None:
    instructions = dockerfile_instructions()
    copied: set[str] = set()
    copy_positions: list[int] = []
    for index, (keyword, args) in enumerate(instructions):
        if keyword == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for source in parts[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                copied.add(source.rstrip("/"))
            copy_positions.append(index)
    assert {"flows", "tasks", "storage", "pyproject.toml"} <= copied, copied
    install = next(i for i, (k, a) in enumerate(instructions) if k == "RUN" and "pip install" in a)
    package_copies = [
        i
        for i, (k, a) in enumerate(instructions)
        if k == "COPY" and re.search(r"\b(flows|tasks|storage|pyproject\.toml)\b", a)
    ]
    assert max(package_copies) < install, "the packages must be copied before `pip install .`"
    cmd = [args for keyword, args in instructions if keyword == "CMD"]
    assert cmd, "no CMD"
    default = json.loads(cmd[-1])  # `docker run newsflow:local` starts a worker on the pool
    assert command_path(default) == ["prefect", "worker", "start"]
    assert option(default, "--pool") == option(command("worker"), "--pool")
    assert {"sources.yaml", "prefect.yaml"} <= copied


@pytest.mark.parametrize("service", PIPELINE)
def test_mounted_sources_file_is_valid(service: str) -> None:
    env = environment(service)
    volumes = SERVICES[service]["volumes"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in volumes if isinstance(v, str)}
    host = mounts[env["NEWSFLOW_SOURCES"]]  # the file the container reads is the mounted one
    sources = load_sources(COMPOSE_FILE.parent / host)
    assert [s for s in sources if s.enabled]
    assert all(s.schedule or s.interval for s in sources if s.enabled), "every source is scheduled"


def dockerignore_excludes(path: str) -> bool:
    """Whether ``.dockerignore`` keeps ``path`` out of the build context, as Docker reads it: the
    last pattern matching the path or one of its parent directories decides; ``!`` lets it in."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").strip("/")
        regex = re.escape(body).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def test_dockerignore_keeps_the_venv_databases_and_git_out() -> None:
    for path in [
        ".venv/bin/python",
        ".venv/lib/python3.11/site-packages/prefect/__init__.py",
        "newsflow.db",
        "demo.db",
        "newsflow.db-wal",
        ".git/HEAD",
        "tests/test_compose.py",
        "flows/__pycache__/ingest.cpython-311.pyc",
    ]:
        assert dockerignore_excludes(path), path
    for path in ["flows/ingest.py", "pyproject.toml", "storage/migrations/versions/x.py"]:
        assert not dockerignore_excludes(path), path


def test_readme_says_how_to_reach_the_compose_database_with_psql() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"`(docker compose exec postgres psql [^`]+)`", readme)
    assert found, "README: how to open the compose database with psql"
    pg = environment("postgres")
    for text in found:
        argv = shlex.split(text)[4:]
        assert option(argv, "-U") == pg["POSTGRES_USER"], text
        database = option(argv, "-d") if "-d" in argv else argv[-1]
        prefect_db = make_url(environment("prefect-server")["PREFECT_API_DATABASE_CONNECTION_URL"])
        assert database in {pg["POSTGRES_DB"], prefect_db.database}, text
