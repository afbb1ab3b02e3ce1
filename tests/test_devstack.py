"""The local stack: embedded PostgreSQL and the Temporal dev server, started for real."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from herald.core import webhooks
from herald.core.settings import Settings
from herald.core.temporal import SEARCH_ATTRIBUTES
from herald.devstack.dev import Started, _ensure_temporal, serve_all
from herald.devstack.ports import free_port, port_is_free
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer, temporal_answers


async def execute(url: str, *statements: str) -> None:
    """Run the statements in one transaction."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def scalar(url: str, query: str) -> object:
    """The first column of the query's first row."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text(query))
    finally:
        await engine.dispose()


async def test_postgres_server_is_migrated(postgres_server: EmbeddedPostgres) -> None:
    assert await scalar(postgres_server.url, "SELECT count(*) FROM alembic_version") == 1


async def test_postgres_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", free_port(), database="restart_test")
    async with server:
        await execute(server.url, "CREATE TABLE kept (value text)", "INSERT INTO kept VALUES ('x')")
        await server.stop()
        await server.stop()  # idempotent
        assert not server.running
        with pytest.raises(OSError):
            await execute(server.url, "SELECT 1")
        await server.start()
        await server.start()  # idempotent
        assert await scalar(server.url, "SELECT value FROM kept") == "x"
    assert not server.running
    assert port_is_free(server.host, server.port)


async def test_postgres_restarts_after_its_owner_was_killed(tmp_path: Path) -> None:
    """SIGKILL the process that started PostgreSQL: the server must not outlive it for long,
    and starting again on the same data must work and find the data."""
    data_dir, port = tmp_path / "pg", free_port()
    owner_script = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from herald.devstack.postgres import EmbeddedPostgres

        async def main() -> None:
            server = EmbeddedPostgres(Path({str(data_dir)!r}), {port})
            await server.start()
            engine = create_async_engine(server.url)
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE kept (value text)"))
                await connection.execute(text("INSERT INTO kept VALUES ('x')"))
            await engine.dispose()
            print("ready", flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", owner_script, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert owner.stdout is not None
        assert await asyncio.wait_for(owner.stdout.readline(), 60) == b"ready\n"
    finally:
        owner.kill()
        await owner.wait()
    async with EmbeddedPostgres(data_dir, port) as server:
        assert await scalar(server.url, "SELECT value FROM kept") == "x"


async def test_temporal_server_answers(temporal_server: TemporalDevServer) -> None:
    assert await temporal_answers(temporal_server.address, temporal_server.namespace)
    assert not await temporal_answers(f"127.0.0.1:{free_port()}", timeout=0)


async def test_temporal_server_has_the_search_attributes(
    temporal_server: TemporalDevServer, temporal_client: Client
) -> None:
    listed = await temporal_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal_server.namespace)
    )
    for key in SEARCH_ATTRIBUTES:
        assert listed.custom_attributes[key.name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD


async def test_temporal_keeps_workflows_across_a_restart(tmp_path: Path) -> None:
    """With a database file, a workflow started before a restart is still there after it."""
    address = f"127.0.0.1:{free_port()}"
    server = TemporalDevServer(
        address, db_file=tmp_path / "temporal.db", ui_port=None, log_file=tmp_path / "t.log"
    )
    workflow_id = f"kept-{uuid.uuid4()}"
    async with server:
        client = await Client.connect(address)
        await client.start_workflow("NoWorkerNeeded", id=workflow_id, task_queue="nobody")
        await server.stop()
        assert not await temporal_answers(address, timeout=0)
        await server.start()
        client = await Client.connect(address)
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.workflow_type == "NoWorkerNeeded"
    assert port_is_free(server.host, server.port)


async def test_herald_dev_keeps_the_api_access_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulator runs beside the API in one process: its servers must not silence the
    process-wide access logger."""
    settings = settings.model_copy(
        update={
            "api_port": free_port(),
            "simulator_port": free_port(),
            "provider_url": None,
            "gateway_secret": webhooks.generate_secret(),
        }
    )
    # Other tests' servers set uvicorn's loggers to WARNING; herald dev leaves them as is.
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    serving = asyncio.create_task(serve_all(settings, Started("db", "ui")))
    try:
        async with httpx.AsyncClient(base_url=settings.api_base_url) as client:
            async with asyncio.timeout(30):
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/health/live")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
        access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
        assert any("GET /health/live" in line and "200" in line for line in access), access
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


async def test_herald_dev_links_the_console_to_the_web_ui_it_starts(tmp_path: Path) -> None:
    """The console's links to workflows need the Web UI's address: herald dev knows it when
    it starts the server (port + 1000), and leaves an existing server's to the setting."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    settings = Settings(_env_file=None, temporal_address=address, data_dir=tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        banner, ui_url = await _ensure_temporal(settings, stack)
        assert banner == ui_url == f"http://127.0.0.1:{port + 1000}"
        banner, ui_url = await _ensure_temporal(settings, stack)  # now a server answers there
        assert ui_url is None
        assert banner == f"existing server at {address}"
