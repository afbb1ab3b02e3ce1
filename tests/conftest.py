"""Session fixtures: a real PostgreSQL (migrated) and a real Temporal dev server, started once
for the whole run on free ports, and a client of that server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from herald.core.database import migrate
from herald.core.temporal import connect, register_search_attributes
from herald.devstack.ports import free_port
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer

pytest_plugins = ("tests.stack", "tests.browser")


@pytest.fixture(scope="session")
async def postgres_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[EmbeddedPostgres]:
    """An embedded PostgreSQL with Herald's schema; connect with its ``url``."""
    async with EmbeddedPostgres(
        tmp_path_factory.mktemp("postgres") / "data", free_port()
    ) as server:
        await migrate(server.url)
        yield server


@pytest.fixture(scope="session")
async def temporal_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TemporalDevServer]:
    """An in-memory, headless Temporal dev server; its ``address`` is ``host:port``."""
    log_file = tmp_path_factory.mktemp("temporal") / "temporal.log"
    address = f"127.0.0.1:{free_port()}"
    async with TemporalDevServer(address, db_file=None, ui_port=None, log_file=log_file) as server:
        yield server


@pytest.fixture(scope="session")
async def temporal_client(temporal_server: TemporalDevServer) -> Client:
    """A client of the session's Temporal server, with Herald's search attributes registered."""
    client = await connect(temporal_server.address, temporal_server.namespace)
    await register_search_attributes(client, temporal_server.namespace)
    return client
