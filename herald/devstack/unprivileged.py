"""The system user PostgreSQL runs as when Herald runs as root (PostgreSQL refuses root)."""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
from pathlib import Path

__all__ = ["SERVICE_USER", "hand_over", "service_user"]

SERVICE_USER = "herald-postgres"

logger = logging.getLogger(__name__)


def service_user() -> str | None:
    """``None`` when not root; otherwise :data:`SERVICE_USER`, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        logger.info("creating system user %s to run PostgreSQL", SERVICE_USER)
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVICE_USER


def hand_over(directory: Path, user: str) -> None:
    """Make ``user`` own ``directory`` (mode 0700) and able to reach it: directories above it
    that others cannot search get the search (x) bit for others, nothing more."""
    entry = pwd.getpwnam(user)
    os.chown(directory, entry.pw_uid, entry.pw_gid)
    directory.chmod(0o700)
    for parent in directory.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            logger.info("allowing others to traverse %s (for %s)", parent, user)
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
