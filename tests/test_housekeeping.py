"""Housekeeping: the ``Housekeeping`` workflow purges old finished messages (with their
attempts and claims), expired idempotency claims and old webhook sends, in bounded batches,
and keeps everything else; ``herald migrate`` keeps its Temporal Schedule up to date."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import inspect
from sqlmodel import SQLModel
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
)

from herald.core.contract import MessageStatus
from herald.core.database import sessions
from herald.core.housekeeping import HOUSEKEEPING_SCHEDULE_ID, HousekeepingPolicy, Purged
from herald.core.models import Attempt, AttemptOutcome, IdempotencyKey, Message, utcnow
from herald.core.outcomes import OutcomeEvent, WebhookSendState
from herald.core.settings import Settings
from herald.core.webhook_models import WebhookEndpoint, WebhookSend
from herald.operations.housekeeping import ensure_housekeeping_schedule
from herald.workflows.housekeeping import Housekeeping
from tests.stack import running_worker

LONG_AGO = utcnow() - timedelta(days=40)
"""Older than the 30 days of retention these tests use."""


def message(status: MessageStatus, updated_days_ago: float = 40) -> Message:
    when = utcnow() - timedelta(days=updated_days_ago)
    return Message(
        recipient="+14155550123",
        content="old news",
        status=status,
        idempotency_key=str(uuid.uuid4()),
        created_at=when,
        updated_at=when,
    )


def claim(of: Message, expires_in_days: float) -> IdempotencyKey:
    return IdempotencyKey(
        tenant_id=of.tenant_id,
        key=of.idempotency_key,
        fingerprint="0" * 64,
        message_id=of.id,
        expires_at=utcnow() + timedelta(days=expires_in_days),
    )


def attempt(of: Message) -> Attempt:
    return Attempt(
        message_id=of.id,
        attempt=1,
        started_at=of.created_at,
        finished_at=of.created_at,
        outcome=AttemptOutcome.ACCEPTED,
        http_status=200,
        duration_ms=12,
    )


def send(endpoint: WebhookEndpoint, state: WebhookSendState, days_ago: float) -> WebhookSend:
    return WebhookSend(
        event_id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        message_id=uuid.uuid4(),
        event_type=OutcomeEvent.DELIVERED,
        body="{}",
        state=state,
        created_at=utcnow() - timedelta(days=days_ago),
    )


async def store(settings: Settings, rows: Sequence[SQLModel]) -> None:
    """Row by row, so that each row's foreign keys exist when it is written."""
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        for row in rows:
            session.add(row)
            await session.flush()
        await session.commit()


async def still_there(settings: Settings, rows: Sequence[SQLModel]) -> list[bool]:
    async with sessions(settings.require_database_url()) as factory, factory() as session:
        return [await session.get(type(row), inspect(row).identity) is not None for row in rows]


async def test_housekeeping_purges_old_finished_rows_and_keeps_the_rest(
    settings: Settings, temporal_client: Client
) -> None:
    old_finished = [message(status) for status in (MessageStatus.DELIVERED,) * 3] + [
        message(MessageStatus.EXPIRED),
        message(MessageStatus.CANCELED),
    ]
    old_unfinished = [
        message(MessageStatus.DEAD_LETTERED),
        message(MessageStatus.SCHEDULED),
        message(MessageStatus.AWAITING_ACK),
    ]
    recent = message(MessageStatus.DELIVERED, updated_days_ago=1)
    recent.created_at = LONG_AGO  # retention counts from the last change, not the submit
    messages = [*old_finished, *old_unfinished, recent]
    unexpired_claims = [claim(row, expires_in_days=1) for row in [*old_finished, *old_unfinished]]
    expired_claim = claim(recent, expires_in_days=-1)
    attempts = [attempt(row) for row in messages]
    endpoint = WebhookEndpoint(
        tenant_id="default", url="https://example.com/hooks", events=[], secret="whsec_x"
    )
    old_sends = [
        send(endpoint, WebhookSendState.DELIVERED, days_ago=40),
        send(endpoint, WebhookSendState.FAILED, days_ago=40),
    ]
    kept_sends = [
        send(endpoint, WebhookSendState.PENDING, days_ago=40),
        send(endpoint, WebhookSendState.DELIVERED, days_ago=1),
    ]
    await store(
        settings,
        [*messages, *unexpired_claims, expired_claim, *attempts, endpoint, *old_sends, *kept_sends],
    )

    async with running_worker(settings):
        purged: Purged = await temporal_client.execute_workflow(
            Housekeeping.run,
            # Batches of 2: five old finished messages take three batches.
            HousekeepingPolicy(retention_days=30, batch_size=2),
            id=f"housekeeping-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )

    assert purged.rows["messages"] >= len(old_finished)
    assert purged.rows["webhook_sends"] >= len(old_sends)
    assert purged.rows["idempotency_keys"] >= 1
    finished_claims = unexpired_claims[: len(old_finished)]
    finished_attempts = attempts[: len(old_finished)]
    assert await still_there(settings, [*old_finished, *finished_claims, *finished_attempts]) == [
        False
    ] * (3 * len(old_finished))
    assert await still_there(settings, [expired_claim, *old_sends]) == [False] * 3
    kept = [
        *old_unfinished,
        recent,
        *unexpired_claims[len(old_finished) :],
        *attempts[len(old_finished) :],
        *kept_sends,
    ]
    assert all(await still_there(settings, kept))


async def test_a_run_stops_after_its_batches_and_the_next_goes_on(
    settings: Settings, temporal_client: Client
) -> None:
    rows = [message(MessageStatus.DELIVERED) for _ in range(5)]
    await store(settings, rows)
    policy = HousekeepingPolicy(retention_days=30, batch_size=1, max_batches=2)
    async with running_worker(settings):
        first: Purged = await temporal_client.execute_workflow(
            Housekeeping.run, policy, id=f"hk-{uuid.uuid4()}", task_queue=settings.task_queue
        )
        assert first.rows["messages"] == 2
        remaining = sum(not there for there in await still_there(settings, rows))
        assert remaining == 2
        for _ in range(2):
            await temporal_client.execute_workflow(
                Housekeeping.run, policy, id=f"hk-{uuid.uuid4()}", task_queue=settings.task_queue
            )
    assert not any(await still_there(settings, rows))


async def test_migrate_keeps_the_schedule_up_to_date_and_it_runs(
    settings: Settings, temporal_client: Client
) -> None:
    await ensure_housekeeping_schedule(temporal_client, settings)
    changed = settings.model_copy(
        update={"housekeeping_interval_minutes": 15, "message_retention_days": 7}
    )
    await ensure_housekeeping_schedule(temporal_client, changed)

    schedule = temporal_client.get_schedule_handle(HOUSEKEEPING_SCHEDULE_ID)
    described = await schedule.describe()
    assert [spec.every for spec in described.schedule.spec.intervals] == [timedelta(minutes=15)]
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.task_queue == settings.task_queue

    row = message(MessageStatus.DELIVERED, updated_days_ago=8)
    await store(settings, [row])
    before = len(described.info.recent_actions)
    async with running_worker(settings):
        # A run the interval started with no worker on its queue must not skip this one.
        await schedule.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        async with asyncio.timeout(30):
            while len((described := await schedule.describe()).info.recent_actions) == before:
                await asyncio.sleep(0.2)
            started = described.info.recent_actions[-1].action
            assert isinstance(started, ScheduleActionExecutionStartWorkflow)
            run = temporal_client.get_workflow_handle(started.workflow_id)
            purged = await run.result(rpc_timeout=timedelta(seconds=30))
    assert purged["rows"]["messages"] >= 1
    assert await still_there(settings, [row]) == [False]
