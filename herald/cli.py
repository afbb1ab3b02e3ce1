"""The ``herald`` command (DESIGN §5): ``dev``, ``api``, ``worker``, ``simulator``, ``migrate``.

Every subcommand reads the same settings (environment and ``.env``); the long-running ones
stop cleanly, with exit code 0, on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from herald.api.app import create_app
from herald.core.database import migrate
from herald.core.logs import configure_logging
from herald.core.settings import Settings, get_settings
from herald.core.temporal import connect, register_search_attributes
from herald.devstack.dev import run_dev
from herald.devstack.simulator import create_simulator_app
from herald.lifecycle import asgi_server, serve, until_signal
from herald.worker import run_worker

__all__ = ["main"]

Command = Callable[[Settings], Coroutine[Any, Any, None]]

logger = logging.getLogger("herald")


async def _api(settings: Settings) -> None:
    app = create_app(settings)
    await until_signal(serve(asgi_server(app, settings.api_host, settings.api_port)))


async def _worker(settings: Settings) -> None:
    await until_signal(run_worker(settings))


async def _simulator(settings: Settings) -> None:
    app = create_simulator_app(settings)
    await until_signal(serve(asgi_server(app, settings.simulator_host, settings.simulator_port)))


async def _migrate(settings: Settings) -> None:
    await migrate(settings.require_database_url())
    logger.info("database schema is up to date")
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    await register_search_attributes(client, settings.temporal_namespace)
    logger.info(
        "search attributes registered on namespace %r at %s",
        settings.temporal_namespace,
        settings.temporal_address,
    )


COMMANDS: dict[str, tuple[Command, str]] = {
    "dev": (run_dev, "run everything locally: PostgreSQL, Temporal, worker, API, simulator"),
    "api": (_api, "serve the REST API"),
    "worker": (_worker, "run the Temporal worker (workflows and activities)"),
    "simulator": (_simulator, "serve the provider simulator"),
    "migrate": (_migrate, "upgrade the database schema and register the search attributes"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald",
        description="Reliable one-way message delivery on Temporal, FastAPI and PostgreSQL. "
        "Settings come from HERALD_* environment variables and .env.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, summary) in COMMANDS.items():
        subcommands.add_parser(name, help=summary, description=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging()
    command, _ = COMMANDS[args.command]
    try:
        asyncio.run(command(get_settings()))
    except RuntimeError as error:
        # Herald's own start-up errors say what to do; no traceback for those.
        cause = f" (caused by {error.__cause__!r})" if error.__cause__ else ""
        sys.exit(f"herald {args.command}: {error}{cause}")
