"""The ``herald`` console script, run as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer

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
    for command in ("dev", "api", "worker", "simulator", "migrate"):
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
