"""Fault injection with real processes: Temporal, PostgreSQL or a worker goes away while
Herald is in use, and no accepted message is lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from herald.core.database import create_engine, migrate
from herald.core.settings import Settings
from herald.devstack.ports import free_port
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer
from tests.gateway import ScriptedGateway
from tests.processes import herald_process
from tests.servers import serving
from tests.stack import Stack, all_delivered, herald_on, serving_api

FAULTS = {"outbox_interval_seconds": 1, "ack_timeout_seconds": 60}


@pytest.fixture
async def own_temporal(tmp_path: Path) -> AsyncIterator[TemporalDevServer]:
    """A Temporal server of this test's own, on a file database so it survives a restart."""
    server = TemporalDevServer(
        f"127.0.0.1:{free_port()}", db_file=tmp_path / "temporal.db", ui_port=None
    )
    async with server:
        yield server


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    async with EmbeddedPostgres(tmp_path / "postgres", free_port()) as server:
        await migrate(server.url)
        yield server


@pytest.mark.parametrize("settings_overrides", [FAULTS])
async def test_submits_while_temporal_is_down_are_delivered_when_it_is_back(
    settings: Settings, own_temporal: TemporalDevServer
) -> None:
    settings = settings.model_copy(update={"temporal_address": own_temporal.address})
    async with herald_on(settings) as stack:
        before = await stack.submit()
        await own_temporal.stop()
        during = [await stack.submit(content=f"while down {i}") for i in range(3)]
        assert {m["status"] for m in during} == {"pending"}
        await own_temporal.start()
        await all_delivered(stack, [before["id"], *(m["id"] for m in during)])


async def test_a_restarted_database_costs_no_request_after_a_quiet_spell(
    own_postgres: EmbeddedPostgres,
) -> None:
    """A pooled connection idle longer than the ping threshold is checked before use: the
    first statement after a restart gets a fresh connection. Without the ping it fails."""
    pinging = create_engine(own_postgres.url, pool_size=1, ping_after_idle=0.2)
    never_pinging = create_engine(own_postgres.url, pool_size=1, ping_after_idle=None)
    try:
        for engine in (pinging, never_pinging):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        await own_postgres.stop()
        await own_postgres.start()
        await asyncio.sleep(0.3)

        async with pinging.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
        with pytest.raises(DBAPIError):
            async with never_pinging.connect() as connection:
                await connection.scalar(text("SELECT 1"))
    finally:
        await pinging.dispose()
        await never_pinging.dispose()


@pytest.mark.parametrize("settings_overrides", [FAULTS])
async def test_postgres_down_answers_503_then_recovers_losing_nothing(
    settings: Settings, own_postgres: EmbeddedPostgres
) -> None:
    settings = settings.model_copy(update={"database_url": own_postgres.url})
    async with herald_on(settings) as stack:
        accepted = await stack.submit()
        await stack.wait_for_status(accepted["id"], "awaiting_ack")
        await own_postgres.stop()

        refused = await stack.api.post(
            "/v1/messages", json={"recipient": "+14155550123", "content": "db down"}
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        assert "database" in refused.json()["detail"]
        ack = await stack.api.post(f"/v1/messages/{accepted['id']}/ack")
        assert ack.status_code == 503

        await own_postgres.start()
        after = await stack.submit(content="db back")
        await all_delivered(stack, [accepted["id"], after["id"]])
        page = (await stack.api.get("/v1/messages")).json()
        assert page["total"] == 2, "the refused submit stored nothing"


@pytest.mark.parametrize(
    "settings_overrides",
    [FAULTS | {"max_concurrent_deliveries": 2, "provider_timeout_seconds": 2}],
)
async def test_a_killed_worker_loses_nothing(settings: Settings) -> None:
    gateway = ScriptedGateway(secret=settings.require_provider_secret(), latency=0.3)
    async with serving(gateway) as gateway_url:
        settings = settings.model_copy(update={"provider_url": f"{gateway_url}/deliver"})
        async with serving_api(settings) as api:
            stack = Stack(api, settings, gateway)
            messages = [await stack.submit(content=f"load {i}") for i in range(12)]
            with herald_process("worker", settings) as first:
                async with asyncio.timeout(30):
                    while len(gateway.received) < 4:
                        await asyncio.sleep(0.05)
                first.kill()  # SIGKILL, mid-load
                first.wait()
            with herald_process("worker", settings):
                await all_delivered(stack, [m["id"] for m in messages], timeout=90)

    for message in messages:
        keys = {r.headers["idempotency-key"] for r in gateway.for_message(message["id"])}
        assert keys == {message["id"]}
