"""The ``herald`` console script, run as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from herald.core.settings import Settings
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer
from tests.stack import serving_api

HERALD = str(Path(sys.executable).parent / "herald")


def herald(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``herald`` with no HERALD_* variables but ``env``, in ``cwd`` (no ``.env``)."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("HERALD_")}
    return subprocess.run(
        [HERALD, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_subcommands(tmp_path: Path) -> None:
    result = herald("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("dev", "api", "worker", "simulator", "migrate", "tenants", "keys"):
        assert command in result.stdout


def test_migrate_needs_a_database_url(tmp_path: Path) -> None:
    result = herald("migrate", cwd=tmp_path)
    assert result.returncode == 1
    assert "HERALD_DATABASE_URL is not set" in result.stderr


def test_migrate_is_idempotent(
    tmp_path: Path, postgres_server: EmbeddedPostgres, temporal_server: TemporalDevServer
) -> None:
    env = {
        "HERALD_DATABASE_URL": postgres_server.url,
        "HERALD_TEMPORAL_ADDRESS": temporal_server.address,
    }
    for _ in range(2):
        result = herald("migrate", cwd=tmp_path, **env)
        assert result.returncode == 0, result.stderr
        assert "search attributes registered" in result.stderr
        assert "housekeeping schedule 'herald-housekeeping' is up to date" in result.stderr


@pytest.mark.parametrize("settings_overrides", [{"api_key_cache_seconds": 0}])
async def test_tenants_and_keys_from_the_command_line(tmp_path: Path, settings: Settings) -> None:
    env = {"HERALD_DATABASE_URL": settings.require_database_url()}
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    created = herald(
        "tenants", "create", tenant, "--name", "From the CLI", "--weight", "2", cwd=tmp_path, **env
    )
    assert created.returncode == 0, created.stderr
    assert tenant in created.stdout
    again = herald("tenants", "create", tenant, "--name", "Twice", cwd=tmp_path, **env)
    assert again.returncode == 1
    assert "already a tenant" in again.stderr
    invalid = herald("tenants", "create", "Not A Slug", "--name", "x", cwd=tmp_path, **env)
    assert invalid.returncode == 1 and "id:" in invalid.stderr
    listed = json.loads(herald("tenants", "list", "--json", cwd=tmp_path, **env).stdout)
    assert {"id": tenant, "weight": 2.0}.items() <= next(
        t for t in listed if t["id"] == tenant
    ).items()

    made = herald(
        "keys",
        "create",
        "--tenant",
        tenant,
        "--name",
        "ci",
        "--scope",
        "messages:read",
        "--json",
        cwd=tmp_path,
        **env,
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["key"].startswith("hk_") and key["scopes"] == ["messages:read"]
    listing = herald("keys", "list", "--tenant", tenant, cwd=tmp_path, **env).stdout
    assert key["prefix"] in listing and key["key"] not in listing
    refused = herald(
        "keys", "create", "--tenant", tenant, "--name", "x", "--scope", "root", cwd=tmp_path, **env
    )
    assert refused.returncode == 2 and "invalid choice" in refused.stderr

    async with serving_api(settings, api_key=key["key"]) as api:
        assert (await api.get("/v1/messages")).status_code == 200
        revoked = herald("keys", "revoke", key["id"], cwd=tmp_path, **env)
        assert revoked.returncode == 0, revoked.stderr
        assert (await api.get("/v1/messages")).status_code == 401
