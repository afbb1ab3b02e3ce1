"""The production-like stack's files, checked without Docker: every ``HERALD_`` variable
docker-compose.yml sets is a setting, the services are there and the worker scales, the
Temporal dynamic config it mounts names the matching keys, and the image runs ``herald``."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from herald.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
HERALD_SERVICES = {"migrate", "api", "worker", "simulator"}


def load_yaml(name: str) -> dict[str, Any]:
    """The file parsed, anchors and ``<<`` merges resolved."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return loaded


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_yaml("docker-compose.yml")["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = service.get("environment", {})
    assert isinstance(env, dict), "write `environment` as a mapping"
    return env


def test_every_herald_variable_of_the_stack_is_a_setting(
    services: dict[str, dict[str, Any]],
) -> None:
    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    assert prefix == "HERALD_"
    settings = {prefix + name.upper() for name in Settings.model_fields}
    variables = {
        name.upper()
        for service in services.values()
        for name in environment(service)
        if name.upper().startswith(prefix)
    }
    assert len(variables) >= 5
    assert variables <= settings, f"not settings: {sorted(variables - settings)}"


def test_the_services_are_there_and_share_the_herald_environment(
    services: dict[str, dict[str, Any]],
) -> None:
    assert {"postgres", "temporal", "temporal-ui", *HERALD_SERVICES} <= set(services)
    shared = load_yaml("docker-compose.yml")["x-herald-env"]
    for name in HERALD_SERVICES:
        assert services[name]["command"] == name
        assert environment(services[name]).items() >= shared.items(), name
    # Credentials come from the shell, required, never a default in the file.
    assert shared["HERALD_API_KEYS"].startswith("${HERALD_API_KEYS:?")
    assert shared["HERALD_PROVIDER_SECRET"].startswith("${HERALD_PROVIDER_SECRET:?")
    assert shared["HERALD_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "@postgres:5432/" in shared["HERALD_DATABASE_URL"]


def test_start_order_scaling_and_profiles(services: dict[str, dict[str, Any]]) -> None:
    assert "healthcheck" in services["postgres"]
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "temporal" in migrate["depends_on"]
    for name in ("api", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert environment(services["api"])["HERALD_API_HOST"] == "0.0.0.0"
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert services["simulator"]["profiles"] == ["simulator"]
    assert "profiles" not in services["api"]


def test_temporal_mounts_the_dynamic_config_that_enables_fairness(
    services: dict[str, dict[str, Any]],
) -> None:
    temporal = services["temporal"]
    assert environment(temporal)["DB"] == "postgres12"
    assert environment(temporal)["POSTGRES_SEEDS"] == "postgres"
    mounts = {
        source: target
        for source, target, *_ in (volume.split(":") for volume in temporal["volumes"])
    }
    target = mounts["./deploy/temporal-dynamic-config.yaml"]
    assert target == "/etc/temporal/" + environment(temporal)["DYNAMIC_CONFIG_FILE_PATH"]

    config = load_yaml("deploy/temporal-dynamic-config.yaml")
    assert config["matching.enableFairness"] == [{"value": True}]
    assert config["matching.numTaskqueueReadPartitions"] == [{"value": 1}]
    assert config["matching.numTaskqueueWritePartitions"] == [{"value": 1}]


def test_the_image_runs_the_herald_console_script() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    [entrypoint] = [line for line in dockerfile if line.startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT ")) == ["herald"]
    assert "USER herald" in dockerfile
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["herald"] == "herald.cli:main"
