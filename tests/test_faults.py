"""Fault injection with real processes: Temporal, PostgreSQL, a worker or an API goes away
(or Temporal hangs) while Herald is in use, and no accepted message is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from herald.core.contract import MessageStatus
from herald.core.database import create_engine, migrate, sessions
from herald.core.models import Message, utcnow
from herald.core.settings import Settings
from herald.devstack.ports import free_port
from herald.devstack.postgres import EmbeddedPostgres
from herald.devstack.temporal import TemporalDevServer
from herald.operations.workflows import MAX_CONCURRENT_STARTS, starting_window
from tests.gateway import ScriptedGateway
from tests.processes import herald_process, herald_processes
from tests.stack import (
    Stack,
    all_delivered,
    delivering_to,
    herald_on,
    running_worker,
    serving_api,
)
from tests.test_ordering import unique_recipient
from tests.test_scale_out import clients_of

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
    async with delivering_to(gateway, settings) as settings, serving_api(settings) as api:
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


@contextlib.contextmanager
def frozen(server: TemporalDevServer) -> Iterator[None]:
    """Temporal stops answering but keeps its connections open (SIGSTOP), as in a long pause
    or a partition that drops packets, until the block ends."""
    pid = server.pid
    assert pid is not None, "the server is not running"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def rows_for(settings: Settings, recipient: str) -> list[Message]:
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        found = await session.exec(select(Message).where(col(Message.recipient) == recipient))
        return list(found.all())


@pytest.mark.parametrize("settings_overrides", [FAULTS])
async def test_a_batch_whose_api_dies_while_temporal_hangs_is_started_once_by_another(
    settings: Settings, own_temporal: TemporalDevServer
) -> None:
    """An API stores a batch, Temporal hangs on its starts, and the API is killed. The rows
    stay the dead request's until its starting window ends (another API's relay leaves them
    alone), then that relay starts them, and each message is delivered once."""
    count = MAX_CONCURRENT_STARTS + 10
    recipient = unique_recipient()
    batch = {"messages": [{"recipient": recipient, "content": f"part {i}"} for i in range(count)]}
    gateway = ScriptedGateway(secret=settings.require_provider_secret())
    settings = settings.model_copy(update={"temporal_address": own_temporal.address})
    async with delivering_to(gateway, settings) as settings:
        with herald_processes("api", settings, 1) as [doomed]:
            async with clients_of([doomed]) as [client]:
                posted_at = utcnow()
                with frozen(own_temporal):
                    posting = asyncio.create_task(client.post("/v1/messages/batch", json=batch))
                    async with asyncio.timeout(10):
                        while len(await rows_for(settings, recipient)) < count:
                            await asyncio.sleep(0.05)
                    doomed.kill()
                    with pytest.raises(httpx.TransportError):
                        await posting

        stored = await rows_for(settings, recipient)
        ids = [str(row.id) for row in stored]
        assert {row.status for row in stored} == {MessageStatus.PENDING}
        left_to_the_request_until = min(row.next_start_at or posted_at for row in stored)
        assert left_to_the_request_until >= posted_at + starting_window(count)

        async with serving_api(settings) as api:
            # No worker yet: only the relay can mark a row queued.
            await asyncio.sleep(max(0, (left_to_the_request_until - utcnow()).total_seconds() - 1))
            assert {row.status for row in await rows_for(settings, recipient)} == {
                MessageStatus.PENDING
            }
            async with asyncio.timeout(15):
                while MessageStatus.PENDING in {
                    r.status for r in await rows_for(settings, recipient)
                }:
                    await asyncio.sleep(0.2)

            async with running_worker(settings):
                await all_delivered(Stack(api, settings, gateway), ids)
    for message_id in ids:
        assert [r.headers["idempotency-key"] for r in gateway.for_message(message_id)] == [
            message_id
        ]


@pytest.mark.parametrize("settings_overrides", [FAULTS])
async def test_while_temporal_hangs_submits_are_stored_and_acks_refused_then_all_delivered(
    settings: Settings, own_temporal: TemporalDevServer
) -> None:
    """A Temporal that takes connections and never answers must not hold a request: a submit
    is committed and answered ``pending``, an ack (a signal) is refused with 503 and a
    ``Retry-After``, and once Temporal answers again both messages are delivered."""
    settings = settings.model_copy(update={"temporal_address": own_temporal.address})
    async with herald_on(settings) as stack:
        awaiting = await stack.submit(content="accepted before the hang")
        await stack.wait_for_status(awaiting["id"], "awaiting_ack")
        with frozen(own_temporal):
            during = await stack.submit(content="submitted during the hang")
            assert during["status"] == "pending"
            ack = await stack.api.post(f"/v1/messages/{awaiting['id']}/ack")
            assert ack.status_code == 503, ack.text
            assert int(ack.headers["retry-after"]) > 0
            assert "Temporal did not answer (no reply in time)" in ack.json()["detail"]
            ready = await stack.api.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["temporal"] == "failing"
        await all_delivered(stack, [awaiting["id"], during["id"]])
