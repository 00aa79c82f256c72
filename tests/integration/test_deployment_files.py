"""The container files: Dockerfile, .dockerignore and the production-like docker-compose.yml.

No Docker engine runs here, so what an engine would find out the hard way is checked directly:
the Compose file against the Compose Specification's own schema, every command the containers
run against the real CLI, every variable they set against the settings, the startup order,
volumes, limits and health checks, and the image's health-check commands against real
``cv-evaluator`` processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

from cv_evaluator.cli import main as cli_main
from cv_evaluator.config import QueueBackend, Settings
from tests.support.processes import CliProcess, ServeProcess, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPS_COMPOSE_FILE = REPO / "deploy" / "docker-compose.deps.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SCHEMA_DIR = REPO / "tests" / "data" / "compose-spec"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"

PROJECT_NAME = "ai-cv-evaluator"
APP_IMAGE_ENTRYPOINT = ["cv-evaluator"]
# Stand-ins for the secrets the stack must be given (.env or the shell).
SECRETS = {"POSTGRES_PASSWORD": "s3cr3tpassw0rd", "ADMIN_TOKEN": "a-long-admin-token-0123456789"}
# Variables a container may set that are not settings of ours: the OpenTelemetry SDK's own.
STANDARD_PREFIXES = ("OTEL_",)


# --- reading the files -------------------------------------------------------------------------


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name} is not a YAML mapping"
    return document


class InterpolationError(Exception):
    pass


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?")


def _substitute(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation (the forms this project uses, and their siblings)."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            return env.get(match.group("named"), "")
        braced = _BRACED.fullmatch(match.group("braced"))
        if braced is None:
            raise InterpolationError(f"invalid interpolation: {match.group(0)}")
        name, op, arg = braced.group("name"), braced.group("op"), braced.group("arg") or ""
        value = env.get(name)
        if op is None:
            return value or ""
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op == ":?":
            if not value:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return value
        if op == "?":
            if value is None:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return value
        if op == ":+":
            return arg if value else ""
        return arg if value is not None else ""  # "+"

    return _VARIABLE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


@cache
def raw_compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def compose(env: Mapping[str, str] = SECRETS) -> dict[str, Any]:
    """docker-compose.yml as `docker compose config` sees it with ``env`` in the shell."""
    interpolated: dict[str, Any] = interpolate(raw_compose(), env)
    return interpolated


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def uses_app_image(service: Mapping[str, Any]) -> bool:
    return "build" in service


def app_services() -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in services().items() if uses_app_image(spec)}


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = {item.partition("=")[0]: item.partition("=")[2] for item in environment}
    return {str(name): "" if value is None else str(value) for name, value in environment.items()}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker also drops comment and empty lines inside a continued instruction.
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]
    args: dict[str, str]

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for arguments in self.all("ENV"):
            for token in shlex.split(arguments):
                name, _, value = token.partition("=")
                values[name] = _substitute(value, {**self.args, **values})
        return values


def dockerfile_stages() -> list[Stage]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in dockerfile_instructions():
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            base = _substitute(words[0], global_args)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name, [], {}))
        elif not stages:
            assert instruction.keyword == "ARG", f"{instruction.keyword} before the first FROM"
            name, _, default = instruction.arguments.partition("=")
            global_args[name] = default
        else:
            stage = stages[-1]
            stage.instructions.append(instruction)
            if instruction.keyword == "ARG":
                name, _, default = instruction.arguments.partition("=")
                stage.args[name] = default
    return stages


def final_stage() -> Stage:
    return dockerfile_stages()[-1]


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"not the exec (JSON array) form: {arguments}"
    return [str(item) for item in parsed]


def image_healthcheck() -> list[str]:
    """The HEALTHCHECK command of the image, as an argv."""
    (healthcheck,) = final_stage().all("HEALTHCHECK")
    _options, separator, command = healthcheck.partition(" CMD ")
    assert separator, f"HEALTHCHECK without CMD: {healthcheck}"
    return exec_form(command)


def image_entrypoint() -> list[str]:
    (entrypoint,) = final_stage().all("ENTRYPOINT")
    return exec_form(entrypoint)


def image_cmd() -> list[str]:
    (cmd,) = final_stage().all("CMD")
    return exec_form(cmd)


def setting_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias.upper() if isinstance(alias, str) else name.upper())
    return names


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(item) for item in value]


def byte_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)b?", text.strip().lower())
    assert match, f"not a size: {text!r}"
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]
    return int(float(match.group(1)) * factor)


# --- the Compose file against the Compose Specification ----------------------------------------


def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / "compose-spec.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def schema_errors(document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in compose_validator().iter_errors(document)
    ]


def test_the_vendored_schema_is_the_copy_its_readme_names() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((SCHEMA_DIR / "compose-spec.json").read_bytes()).hexdigest()
    assert f"sha256 {digest}" in readme
    assert "Apache License" in (SCHEMA_DIR / "LICENSE").read_text(encoding="utf-8")
    assert (SCHEMA_DIR / "NOTICE").is_file()


def test_the_compose_files_follow_the_compose_specification() -> None:
    assert schema_errors(raw_compose()) == []
    assert schema_errors(compose()) == []
    assert schema_errors(load_yaml(DEPS_COMPOSE_FILE)) == []


def test_the_schema_check_rejects_what_compose_would_reject() -> None:
    broken = compose()
    broken["services"]["api"]["restart_policy"] = "always"  # a swarm key in the wrong place
    broken["services"]["worker"]["depends_on"]["migrate"]["condition"] = "service_finished"
    errors = schema_errors(broken)
    assert any(error.startswith("services/api") for error in errors), errors
    assert any(error.startswith("services/worker/depends_on") for error in errors), errors


def test_the_stack_refuses_to_start_without_its_secrets() -> None:
    for secret in SECRETS:
        missing = {name: value for name, value in SECRETS.items() if name != secret}
        with pytest.raises(InterpolationError, match=secret):
            compose(missing)
        with pytest.raises(InterpolationError, match=secret):
            compose({**SECRETS, secret: ""})

    # .env.example, copied to .env as it is, is not enough either: it names the secrets empty.
    example = {
        line.partition("=")[0]: line.partition("=")[2]
        for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert set(SECRETS) <= set(example)
    with pytest.raises(InterpolationError):
        compose(example)


def test_no_secret_is_written_into_the_compose_file() -> None:
    raw_services = raw_compose()["services"]
    assert raw_services["api"]["environment"]["ADMIN_TOKEN"].startswith("${ADMIN_TOKEN:?")
    assert raw_services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    for name, service in services().items():
        for variable, value in service_environment(service).items():
            for secret in SECRETS.values():
                if secret in value:
                    # The value only appears where the raw file references the variable.
                    raw = service_environment(raw_services[name])[variable]
                    assert "${" in raw, f"{name}: {variable} holds a literal secret"
    assert "/.env" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


# --- the service's containers ------------------------------------------------------------------


def resolve_cli(argv: list[str]) -> list[str]:
    """Parse ``argv`` as `cv-evaluator` would; the command path, or a click error."""
    command: click.Command = cli_main
    path: list[str] = []
    rest = list(argv)
    while isinstance(command, click.Group):
        assert rest, f"`cv-evaluator {' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        with click.Context(command, info_name=" ".join(["cv-evaluator", *path])) as ctx:
            subcommand = command.get_command(ctx, name)
        if subcommand is None:
            raise click.UsageError(f"no command `cv-evaluator {' '.join([*path, name])}`")
        path.append(name)
        command = subcommand
    # Parses and validates every option and argument without running the command.
    command.make_context(" ".join(["cv-evaluator", *path]), rest)
    return path


def container_argv(service: Mapping[str, Any]) -> list[str]:
    """What follows `cv-evaluator` in the container's process: entrypoint tail plus command."""
    entrypoint = as_list(service["entrypoint"]) if "entrypoint" in service else image_entrypoint()
    assert entrypoint[: len(APP_IMAGE_ENTRYPOINT)] == APP_IMAGE_ENTRYPOINT, entrypoint
    command = as_list(service["command"]) if "command" in service else image_cmd()
    return entrypoint[len(APP_IMAGE_ENTRYPOINT) :] + command


def test_every_container_of_the_service_runs_a_real_command() -> None:
    commands = {name: resolve_cli(container_argv(spec)) for name, spec in app_services().items()}
    assert commands == {
        "migrate": ["migrate"],
        "api": ["serve"],
        "worker": ["worker"],
        "scheduler": ["maint", "scheduler"],
        "maint": ["maint", "check"],
    }
    assert resolve_cli(image_cmd()) == ["serve"]


def test_the_command_check_catches_what_the_cli_would_refuse() -> None:
    with pytest.raises(click.UsageError):
        resolve_cli(["worker", "--concurency", "2"])
    with pytest.raises(click.UsageError):
        resolve_cli(["serve", "--port", "eighty"])
    with pytest.raises(click.UsageError):
        resolve_cli(["maint", "chek"])


def documented_runs() -> Iterator[tuple[str, list[str]]]:
    """`docker compose run --rm SERVICE ARGS…` lines of the docs and the compose file."""
    pattern = re.compile(r"docker compose run --rm ([a-z-]+)((?: [^`#\n]+)?)")
    for source in (DEPLOYMENT_DOC, REPO / "README.md", COMPOSE_FILE):
        for match in pattern.finditer(source.read_text(encoding="utf-8")):
            yield match.group(1), shlex.split(match.group(2))


def test_documented_maintenance_runs_are_real_commands() -> None:
    runs = list(documented_runs())
    assert len(runs) >= 5
    for service_name, args in runs:
        service = services()[service_name]
        entrypoint = as_list(service.get("entrypoint")) or image_entrypoint()
        command = args or as_list(service.get("command"))
        resolve_cli(entrypoint[len(APP_IMAGE_ENTRYPOINT) :] + command)


def test_the_service_containers_set_only_real_settings() -> None:
    known = setting_env_names()
    for name, service in app_services().items():
        for variable in service_environment(service):
            assert variable in known or variable.startswith(STANDARD_PREFIXES), (
                f"{name}: {variable} is neither a setting (src/cv_evaluator/config.py) nor a "
                "standard variable"
            )
    for variable in final_stage().env():
        assert variable in known or variable == "PATH" or variable.startswith("PYTHON"), variable


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in list(os.environ):
        if variable.upper() in setting_env_names() or variable.startswith(STANDARD_PREFIXES):
            monkeypatch.delenv(variable)


@pytest.mark.usefixtures("clean_environment")
def test_the_service_containers_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    image_env = {k: v for k, v in final_stage().env().items() if k in setting_env_names()}
    stack = services()
    for name, service in app_services().items():
        with monkeypatch.context() as patch:
            for variable, value in {**image_env, **service_environment(service)}.items():
                patch.setenv(variable, value)
            settings = Settings()  # raises when a value does not validate
        assert settings.db_url is not None
        assert settings.db_url.startswith("postgresql+psycopg://app:")
        assert settings.db_url.endswith("@postgres:5432/app"), name
        assert settings.queue_backend is QueueBackend.KAFKA, name
        broker_host = settings.kafka_brokers.partition(":")[0]
        assert broker_host in stack, f"{name}: KAFKA_BROKERS names no service"
        assert f"PLAINTEXT://{settings.kafka_brokers}" in " ".join(
            as_list(stack[broker_host]["command"])
        ), f"{name}: the broker does not advertise {settings.kafka_brokers}"
        assert settings.app_migrate_on_start is False, f"{name} would migrate on its own"
        assert settings.data_dir == Path("/var/lib/ai-cv-evaluator")


def test_the_image_revision_becomes_a_setting() -> None:
    stage = final_stage()
    assert "APP_GIT_REVISION" in stage.args
    assert stage.env()["APP_GIT_REVISION"] == stage.args["APP_GIT_REVISION"]
    assert "APP_GIT_REVISION" in setting_env_names()
    build_args = raw_compose()["x-app"]["build"]["args"]
    assert build_args["APP_GIT_REVISION"].startswith("${APP_GIT_REVISION")


# --- limits, health, order, names, volumes -----------------------------------------------------


def test_every_container_caps_its_logs() -> None:
    for name, service in services().items():
        logging_config = service.get("logging")
        assert logging_config, f"{name} has no logging limits"
        assert logging_config["driver"] == "json-file", name
        options = logging_config["options"]
        assert byte_size(options["max-size"]) <= 100 * 1024**2, name
        assert 1 <= int(options["max-file"]) <= 10, name


def test_every_container_has_a_memory_limit() -> None:
    for name, service in services().items():
        limit = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert limit, f"{name} has no memory limit"
        assert byte_size(str(limit)) >= 64 * 1024**2, name


def has_healthcheck(service: Mapping[str, Any]) -> bool:
    healthcheck = service.get("healthcheck")
    if healthcheck is not None:
        return not healthcheck.get("disable", False)
    return uses_app_image(service) and bool(final_stage().all("HEALTHCHECK"))


def one_shot(service: Mapping[str, Any]) -> bool:
    return service.get("restart") == "no"


# Long-running containers without a port to probe, and the alert that watches their work.
WATCHED_BY_ALERT = {"scheduler": "cv_evaluator_maint_last_success_timestamp_seconds"}


def test_long_running_containers_have_health_checks_and_restart() -> None:
    for name, service in services().items():
        if one_shot(service):
            continue
        assert service.get("restart") == "unless-stopped", name
        if name in WATCHED_BY_ALERT:
            assert not has_healthcheck(service), f"{name} has a health check after all"
            continue
        assert has_healthcheck(service), f"{name} runs for good but has no health check"
    alerts = load_yaml(REPO / "deploy" / "prometheus" / "alerts.yml")
    expressions = " ".join(
        str(rule.get("expr", "")) for group in alerts["groups"] for rule in group["rules"]
    )
    for name, metric in WATCHED_BY_ALERT.items():
        assert metric in expressions, f"no alert watches what {name} does"
    # The worker serves no API: the image's check (APP_PORT) would call a port nothing serves.
    worker = services()["worker"]
    assert "APP_METRICS_PORT" in " ".join(worker["healthcheck"]["test"])


def test_migrations_run_once_before_the_api_and_the_workers() -> None:
    stack = services()
    migrate = stack["migrate"]
    assert one_shot(migrate)
    assert resolve_cli(container_argv(migrate)) == ["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "scheduler"):
        depends_on = stack[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["redpanda"]["condition"] == "service_healthy", name
    for name in ("api", "worker"):
        assert "--no-migrate" in container_argv(stack[name]), name
    for name, service in stack.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in stack, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert has_healthcheck(stack[dependency]), f"{dependency} can never be healthy"
            if condition["condition"] == "service_completed_successfully":
                assert one_shot(stack[dependency]), f"{dependency} is not a one-shot"


def test_container_names_follow_the_project_convention() -> None:
    stack = compose()
    assert stack["name"] == PROJECT_NAME
    for name, service in stack["services"].items():
        replicas = service.get("deploy", {}).get("replicas", 1)
        if replicas > 1:
            # Replicas are named <project>-<service>-<n> by Compose; a fixed name forbids them.
            assert "container_name" not in service, name
        elif "profiles" not in service:
            assert service["container_name"].startswith(f"{PROJECT_NAME}-"), name
    assert stack["services"]["postgres"]["container_name"] == "ai-cv-evaluator-db"
    assert stack["services"]["api"]["deploy"]["replicas"] == 2
    assert stack["services"]["worker"]["deploy"]["replicas"] == 2


def volume_mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            yield str(volume["source"]), str(volume["target"])
        else:
            source, target = str(volume).split(":")[:2]
            yield source, target


def test_volumes_are_declared_and_bind_mounts_exist() -> None:
    stack = compose()
    declared = set(stack["volumes"])
    used = set()
    for name, service in stack["services"].items():
        for source, target in volume_mounts(service):
            if source.startswith(("./", "../")):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
            elif not source.startswith("/"):
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
            assert target.startswith("/"), f"{name}: {target}"
    assert declared == used, f"declared but unused: {declared - used}"

    prometheus = stack["services"]["prometheus"]
    mounts = {target: source for source, target in volume_mounts(prometheus)}
    config = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = Path(config.removeprefix("--config.file="))
    config_dir = REPO / mounts[str(config_path.parent)]
    assert (config_dir / config_path.name).is_file()
    for rule_file in load_yaml(config_dir / config_path.name)["rule_files"]:
        assert (config_dir / rule_file).is_file(), rule_file


def exposed_ports(service: Mapping[str, Any]) -> set[int]:
    ports = {int(port) for port in service.get("expose", [])}
    for mapping in service.get("ports", []):
        ports.add(int(str(mapping).rsplit(":", 1)[-1]))
    return ports


def test_prometheus_scrapes_what_the_stack_exposes() -> None:
    stack = services()
    config = load_yaml(REPO / "deploy" / "prometheus" / "prometheus.yml")
    targets: list[tuple[str, int]] = []
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            targets.extend((host, int(sd["port"])) for host in sd["names"])
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.partition(":")
                targets.append((host, int(port)))
    scraped = {host for host, _ in targets}
    assert {"api", "worker", "node-exporter", "postgres-exporter", "cadvisor"} <= scraped
    for host, port in targets:
        if host == "localhost":
            continue
        assert host in stack, f"prometheus scrapes {host}, which is no service"
        assert port in exposed_ports(stack[host]), f"{host} does not expose {port}"
    environment = {name: service_environment(stack[name]) for name in ("api", "worker")}
    assert ("api", int(environment["api"]["APP_PORT"])) in targets
    assert ("worker", int(environment["worker"]["APP_METRICS_PORT"])) in targets


@pytest.mark.usefixtures("clean_environment")
def test_the_proxy_reaches_the_api_and_lets_the_service_judge_upload_sizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = services()
    mounts = {target: source for source, target in volume_mounts(stack["proxy"])}
    config = (REPO / mounts["/etc/nginx/conf.d/default.conf"]).read_text(encoding="utf-8")
    upstream = re.search(r"set \$api_upstream http://([a-z-]+):(\d+);", config)
    assert upstream, "the proxy's upstream is not set in the expected form"
    api = stack[upstream.group(1)]
    assert int(upstream.group(2)) == int(service_environment(api)["APP_PORT"])
    assert f"listen {exposed_ports(stack['proxy']).pop()};" in config

    # The service's own limit must be the one a client meets, with its own error.
    for variable, value in service_environment(api).items():
        monkeypatch.setenv(variable, value)
    body_limit = re.search(r"client_max_body_size (\d+)m;", config)
    assert body_limit, "the proxy sets no body size limit"
    assert int(body_limit.group(1)) > Settings().max_upload_mb


def test_postgres_loads_pg_stat_statements_and_matches_the_image_client() -> None:
    postgres = services()["postgres"]
    command = as_list(postgres["command"])
    assert command[0] == "postgres"
    assert "shared_preload_libraries=pg_stat_statements" in command
    assert postgres["environment"]["POSTGRES_DB"] == "app"
    mounts = {target: source for source, target in volume_mounts(postgres)}
    init_dir = REPO / mounts["/docker-entrypoint-initdb.d"]
    scripts = " ".join(path.read_text(encoding="utf-8") for path in init_dir.glob("*.sql"))
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in scripts

    # pg_dump refuses a newer server, and a newer pg_dump's output may not load into an older
    # one: the image's client programs are the server's major version.
    server_major = postgres["image"].split(":")[1].split(".")[0]
    assert final_stage().args["PG_MAJOR"] == server_major
    (install,) = [run for run in final_stage().all("RUN") if "postgresql-client" in run]
    assert "postgresql-client-${PG_MAJOR}" in install
    assert final_stage().env()["MAINT_PG_BIN_DIR"] == f"/usr/lib/postgresql/{server_major}/bin"


# --- the Dockerfile ----------------------------------------------------------------------------


def test_the_image_is_built_in_stages_from_the_hashed_lock() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert builder.name == "builder"
    assert builder.base == runtime.base
    assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", runtime.base), runtime.base
    locked_installs = [
        run for run in builder.all("RUN") if "--require-hashes" in run and "lock.txt" in run
    ]
    assert locked_installs, "the builder does not install from the hashed lock"
    copies = runtime.all("COPY")
    assert "--from=builder /opt/venv /opt/venv" in copies
    assert not any("lock.txt" in copy or "src" in copy.split() for copy in copies), (
        "the runtime stage must take the built environment, not sources"
    )


def test_the_image_runs_cv_evaluator_as_an_unprivileged_user() -> None:
    stage = final_stage()
    users = stage.all("USER")
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    last_user = max(i for i, ins in enumerate(stage.instructions) if ins.keyword == "USER")
    assert all(ins.keyword != "RUN" for ins in stage.instructions[last_user:])
    assert image_entrypoint() == APP_IMAGE_ENTRYPOINT
    assert image_cmd() == ["serve"]
    healthcheck = image_healthcheck()
    assert healthcheck[0] == "python"
    assert "/healthz" in healthcheck[-1]


def dockerignore_patterns() -> list[tuple[re.Pattern[str], bool]]:
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        patterns.append((re.compile(regex), negated))
    return patterns


def excluded_from_build_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for regex, negated in dockerignore_patterns():
        if regex.fullmatch(path) or any(regex.fullmatch(c) for c in candidates[:-1]):
            excluded = not negated
    return excluded


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".cache/kafka/kafka_2.13-3.9.0.tgz",
        "data/app.db",
        "data/uploads/ab/upl_01",
        "tests/data/rjdb_calibration.jsonl",
        "tests/data/compose-spec/compose-spec.json",
        ".env",
        "src/cv_evaluator/__pycache__/cli.cpython-311.pyc",
        "src/ai_cv_evaluator.egg-info/PKG-INFO",
    ):
        assert excluded_from_build_context(path), f"{path} would be sent to the build"

    for copy in final_stage().all("COPY") + dockerfile_stages()[0].all("COPY"):
        words = copy.split()
        if any(word.startswith("--from=") for word in words):
            continue
        for source in words[:-1]:
            assert (REPO / source).exists(), f"COPY of missing {source}"
            assert not excluded_from_build_context(source.rstrip("/")), f"{source} is ignored"
    package_files = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "src" / "cv_evaluator").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert len(package_files) > 50
    for path in package_files:
        assert not excluded_from_build_context(path), f"{path} is left out of the build"


def test_the_built_package_holds_every_file_of_the_source_tree(tmp_path: Path) -> None:
    """The image installs a wheel, not the checkout: a data file the wheel misses is missing."""
    source = tmp_path / "source"
    shutil.copytree(
        REPO / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    # The Dockerfile's own step: the locked setuptools, no index, no build isolation.
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-index", "--no-deps"]
    subprocess.run(
        [*build, "--no-build-isolation", "--wheel-dir", str(tmp_path / "wheels"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "wheels").glob("ai_cv_evaluator-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
    sources = {
        path.relative_to(source / "src").as_posix()
        for path in (source / "src" / "cv_evaluator").rglob("*")
        if path.is_file()
    }
    assert len(sources) > 50
    missing = sorted(sources - packaged)
    assert not missing, (
        f"not in the package (add them to [tool.setuptools.package-data]): {missing}"
    )


# --- the health-check commands against real processes -------------------------------------------


def run_check(argv: list[str], env: Mapping[str, str]) -> int:
    """Run a container health-check command here: `python` is this interpreter."""
    assert argv[0] == "python", argv
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        env={**os.environ, **env},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


def compose_check(service: Mapping[str, Any]) -> list[str]:
    test = as_list(service["healthcheck"]["test"])
    assert test[0] == "CMD", test
    return test[1:]


def test_the_image_health_check_tells_a_serving_api_from_a_dead_one(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "APP_WORKERS": "0", "AI_LOCAL_PROCESSES": "0"}
    serve = ServeProcess(env, tmp_path / "serve.log")
    try:
        serve.wait_healthy(timeout=60)
        assert run_check(image_healthcheck(), {"APP_PORT": str(serve.port)}) == 0
    finally:
        serve.stop()
    assert run_check(image_healthcheck(), {"APP_PORT": str(free_port())}) != 0


def test_the_worker_health_check_tells_a_running_worker_from_a_dead_one(tmp_path: Path) -> None:
    check = compose_check(services()["worker"])
    port = str(free_port())
    env = {"DATA_DIR": str(tmp_path / "data"), "APP_METRICS_PORT": port, "AI_LOCAL_PROCESSES": "0"}
    worker = CliProcess(["worker", "--concurrency", "1"], env, tmp_path / "worker.log")
    try:

        def healthy() -> bool:
            if worker.process.poll() is not None:
                raise AssertionError(f"the worker exited:\n{worker.log()}")
            return run_check(check, {"APP_METRICS_PORT": port}) == 0

        wait_until(healthy, 60, "the worker's health check to pass", interval=0.5)
    finally:
        worker.stop()
    assert run_check(check, {"APP_METRICS_PORT": port}) != 0
