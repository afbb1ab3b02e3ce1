"""``herald dev``, ``api``, ``worker``, ``simulator`` and ``migrate``: Herald's services.

The long-running ones stop cleanly, with exit code 0, on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable

from herald.api.app import create_app
from herald.cli.output import Subcommands
from herald.core.database import migrate
from herald.core.housekeeping import HOUSEKEEPING_SCHEDULE_ID
from herald.core.settings import Settings
from herald.core.temporal import connect, register_search_attributes
from herald.devstack.dev import run_dev
from herald.devstack.simulator import create_simulator_app
from herald.lifecycle import asgi_server, serve, until_signal
from herald.operations.housekeeping import ensure_housekeeping_schedule
from herald.worker import run_worker

__all__ = ["Command", "add_commands"]

Command = Callable[[Settings, argparse.Namespace], Awaitable[None]]

logger = logging.getLogger("herald")


async def _dev(settings: Settings, _args: argparse.Namespace) -> None:
    await run_dev(settings)


async def _api(settings: Settings, _args: argparse.Namespace) -> None:
    app = create_app(settings)
    await until_signal(serve(asgi_server(app, settings.api_host, settings.api_port)))


async def _worker(settings: Settings, _args: argparse.Namespace) -> None:
    await until_signal(run_worker(settings))


async def _simulator(settings: Settings, _args: argparse.Namespace) -> None:
    app = create_simulator_app(settings)
    await until_signal(serve(asgi_server(app, settings.simulator_host, settings.simulator_port)))


async def _migrate(settings: Settings, _args: argparse.Namespace) -> None:
    await migrate(settings.require_database_url())
    logger.info("database schema is up to date")
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    await register_search_attributes(client, settings.temporal_namespace)
    logger.info(
        "search attributes registered on namespace %r at %s",
        settings.temporal_namespace,
        settings.temporal_address,
    )
    await ensure_housekeeping_schedule(client, settings)
    logger.info("housekeeping schedule %r is up to date", HOUSEKEEPING_SCHEDULE_ID)


COMMANDS: dict[str, tuple[Command, str]] = {
    "dev": (_dev, "run everything locally: PostgreSQL, Temporal, worker, API, simulator"),
    "api": (_api, "serve the REST API"),
    "worker": (_worker, "run the Temporal worker (workflows and activities)"),
    "simulator": (_simulator, "serve the provider simulator"),
    "migrate": (_migrate, "upgrade the database schema and register the search attributes"),
}


def add_commands(commands: Subcommands) -> None:
    for name, (command, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary, description=summary).set_defaults(run=command)
