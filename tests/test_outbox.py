"""The outbox relay under stress: it leaves a batch to the request still starting it, it never
stalls on one refused start, and it outlives a killed database connection, reporting itself
in readiness while it is stuck."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import column, table, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.core.database import sessions
from herald.core.models import Message, MessageCreate, utcnow
from herald.core.settings import Settings
from herald.devstack.ports import free_port
from herald.devstack.temporal import TemporalDevServer
from herald.operations.idempotency import Draft, store_all
from herald.operations.workflows import MAX_CONCURRENT_STARTS, starting_window
from tests.databases import messages_locked
from tests.gateway import ScriptedGateway
from tests.stack import Stack, all_delivered, delivering_to, running_worker, serving_api
from tests.test_ordering import unique_recipient

SIGNAL_LIMIT = 25
"""Temporal's ``history.maximumSignalsPerExecution`` on this test's server (10,000 by
default), so that a line meets it with a few dozen messages."""


async def store_pending(settings: Settings, recipient: str, tenant_id: str = "default") -> str:
    """A message as a submit leaves it when Temporal did not take its start."""
    message = Message(
        tenant_id=tenant_id,
        recipient=recipient,
        content="left pending",
        idempotency_key=str(uuid.uuid4()),
        created_at=utcnow() - timedelta(seconds=5),
    )
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        session.add(message)
        await session.commit()
    return str(message.id)


async def rows(settings: Settings, ids: list[str]) -> list[Message]:
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        found = [await session.get(Message, uuid.UUID(message_id)) for message_id in ids]
    return [message for message in found if message is not None]


async def status_of(api: httpx.AsyncClient, message_id: str) -> str:
    response = await api.get(f"/v1/messages/{message_id}")
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def wait_until_not_pending(api: httpx.AsyncClient, ids: list[str], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        for message_id in ids:
            while await status_of(api, message_id) == "pending":
                await asyncio.sleep(0.2)


@pytest.fixture
async def signal_limited_temporal(tmp_path: Path) -> AsyncIterator[TemporalDevServer]:
    server = TemporalDevServer(
        f"127.0.0.1:{free_port()}",
        db_file=None,
        ui_port=None,
        log_file=tmp_path / "temporal.log",
        dynamic_config={"history.maximumSignalsPerExecution": str(SIGNAL_LIMIT)},
    )
    async with server:
        yield server


@pytest.mark.parametrize(
    "settings_overrides",
    [{"outbox_interval_seconds": 0.5, "sequence_history_limit": 20, "ack_timeout_seconds": 60}],
)
async def test_a_line_at_the_signal_limit_stalls_neither_the_relay_nor_itself(
    settings: Settings, signal_limited_temporal: TemporalDevServer
) -> None:
    gateway = ScriptedGateway(secret=settings.require_provider_secret())
    settings = settings.model_copy(update={"temporal_address": signal_limited_temporal.address})
    async with delivering_to(gateway, settings) as settings, serving_api(settings) as api:
        stack = Stack(api, settings, gateway)
        # No worker yet: the line cannot continue as new, so Temporal refuses the
        # signals past its limit and those messages stay pending.
        recipient = unique_recipient()
        line = await asyncio.gather(
            *(
                stack.submit(recipient=recipient, ordering="strict", content=f"part {i}")
                for i in range(40)
            )
        )
        refused = [message["id"] for message in line if message["status"] == "pending"]
        assert len(refused) >= 40 - SIGNAL_LIMIT

        # The refused rows back off on their own; another message is not held up.
        other = await store_pending(settings, unique_recipient())
        async with asyncio.timeout(15):
            while not all(row.start_attempts >= 1 for row in await rows(settings, refused)):
                await asyncio.sleep(0.2)
        assert all(row.next_start_at is not None for row in await rows(settings, refused))
        assert await status_of(api, other) == "queued"

        # With a worker, the line continues as new and takes the rest, in order.
        async with running_worker(settings):
            await wait_until_not_pending(api, refused, timeout=60)
            ids = [message["id"] for message in line]
            await all_delivered(stack, ids, timeout=90)
    numbers = [r.body["sequence_number"] for r in gateway.received if r.body["id"] in ids]
    assert numbers == list(range(1, 41))


async def lock_waiters(session: AsyncSession) -> list[int]:
    """The backends (other than ``session``'s) waiting for a lock on ``messages``."""
    # pg_stat_activity is read once per transaction unless its snapshot is cleared.
    await session.exec(select(func.pg_stat_clear_snapshot()))
    activity = table("pg_stat_activity", column("pid"), column("wait_event_type"), column("query"))
    waiting = await session.exec(
        select(activity.c.pid).where(
            activity.c.wait_event_type == "Lock",
            activity.c.pid != func.pg_backend_pid(),
            activity.c.query.ilike("%messages%"),
        )
    )
    return [int(pid) for pid in waiting]


async def readiness(api: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await api.get("/health/ready")
    body: dict[str, Any] = response.json()
    return response.status_code, body


@pytest.mark.parametrize("settings_overrides", [{"outbox_interval_seconds": 0.3}])
async def test_the_relay_outlives_a_terminated_connection(settings: Settings) -> None:
    async with (
        serving_api(settings) as api,
        messages_locked(settings.require_database_url()) as session,
    ):
        async with asyncio.timeout(10):
            while not (waiters := await lock_waiters(session)):
                await asyncio.sleep(0.1)
        for pid in waiters:
            await session.exec(select(func.pg_terminate_backend(pid)))

        # Stuck behind the lock, the relay is reported (after 10 intervals: 3 s).
        async with asyncio.timeout(15):
            while (ready := await readiness(api))[0] == 200:
                await asyncio.sleep(0.3)
        status, problem = ready
        assert status == 503
        assert problem["checks"]["outbox_relay"] == "failing"
        assert "outbox_relay" in problem["detail"]
        await session.rollback()

        pending = await store_pending(settings, unique_recipient())
        await wait_until_not_pending(api, [pending], timeout=15)
        assert await status_of(api, pending) == "queued"
        async with asyncio.timeout(10):
            while (await readiness(api))[0] != 200:
                await asyncio.sleep(0.3)


@pytest.mark.parametrize("settings_overrides", [{"outbox_interval_seconds": 0.2}])
async def test_the_relay_leaves_a_batch_to_the_request_still_starting_it(
    settings: Settings,
) -> None:
    """A request has its starting window to start the batch it stored (a batch of 1000
    takes seconds); the relay, which would start each row a second time meanwhile, takes
    only what is left pending once the window has passed (the request died, say)."""
    count = MAX_CONCURRENT_STARTS + 10
    body = MessageCreate(recipient=unique_recipient(), content="stored, not started yet")
    drafts = [Draft.of(body, settings, None, "default") for _ in range(count)]
    async with (
        serving_api(settings) as api,
        sessions(settings.require_database_url()) as factory,
        factory() as session,
    ):
        stored_at = utcnow()
        await store_all(session, drafts, settings)
        ids = [draft.message.id for draft in drafts]
        window = starting_window(count)
        assert window > timedelta(seconds=5)  # two rounds of starts, and the margin

        await asyncio.sleep(3)  # many sweeps of the relay, and older than a single's window
        assert {await status_of(api, str(message_id)) for message_id in ids} == {"pending"}
        for row in await rows(settings, [str(message_id) for message_id in ids]):
            assert row.next_start_at is not None
            assert row.next_start_at - stored_at >= window

        await session.exec(
            update(Message).where(col(Message.id).in_(ids)).values(next_start_at=utcnow())
        )
        await session.commit()
        await wait_until_not_pending(api, [str(message_id) for message_id in ids], timeout=30)
