"""The ``herald`` command (DESIGN §5).

Services: ``dev``, ``api``, ``worker``, ``simulator``, ``migrate`` (:mod:`herald.cli.services`).
Administration, straight on the database: ``tenants create|list`` and
``keys create|list|revoke`` (:mod:`herald.cli.admin`). Everyday operations over the API
(:mod:`herald.cli.remote`): ``messages send|get|list|cancel``,
``dead-letters list|requeue|discard``, ``webhooks list|create|delete``. Every subcommand
reads the same settings (environment and ``.env``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from herald import lifecycle
from herald.cli import admin, remote, services
from herald.core.logs import configure_logging
from herald.core.settings import get_settings

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald",
        description="Reliable one-way message delivery on Temporal, FastAPI and PostgreSQL. "
        "Settings come from HERALD_* environment variables and .env.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    services.add_commands(commands)
    admin.add_commands(commands)
    remote.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        lifecycle.run(args.run(get_settings(), args))
    except RuntimeError as error:
        # Herald's own errors say what to do; no traceback for those.
        cause = f" (caused by {error.__cause__!r})" if error.__cause__ else ""
        sys.exit(f"herald {args.command}: {error}{cause}")
