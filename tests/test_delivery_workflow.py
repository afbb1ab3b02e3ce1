"""``MessageDelivery`` on the real Temporal server, with scripted activities in place of the
provider and the database, so each test isolates one decision of the workflow."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Worker

from herald.core.contract import (
    AttemptRequest,
    AttemptResult,
    DeliveryJob,
    DeliveryPolicy,
    FailureClass,
    MessageStatus,
    Priority,
    Transition,
)
from herald.core.outcomes import Recorded
from herald.workflows.delivery import MessageDelivery

POLICY = DeliveryPolicy(
    max_retries=2,
    base_retry_delay_seconds=1,
    max_retry_delay_seconds=2,
    ack_timeout_seconds=1,
    attempt_timeout_seconds=5,
    validity_seconds=3600,
    dead_letter_retention_seconds=3600,
)

Outcome = Callable[[AttemptRequest], AttemptResult]


def accept(request: AttemptRequest) -> AttemptResult:
    return AttemptResult(attempt=request.attempts_before + activity.info().attempt)


def transient(request: AttemptRequest) -> AttemptResult:
    raise ApplicationError("provider answered 503", type="TransientDeliveryError")


def permanent(request: AttemptRequest) -> AttemptResult:
    raise ApplicationError("provider answered 400", type="PermanentDeliveryError")


def defer(request: AttemptRequest) -> AttemptResult:
    """A 429 with ``Retry-After: 1`` (or an open circuit)."""
    attempt = request.attempts_before + activity.info().attempt
    return AttemptResult(attempt=attempt, retry_after_seconds=1)


@dataclass
class ScriptedActivities:
    """Stands in for ``DeliveryActivities``: same activity names, outcomes from a script."""

    outcomes: list[Outcome]
    requests: list[AttemptRequest] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    recording: list[MessageStatus] = field(default_factory=list)
    """Every transition as its write starts (``transitions`` has them once written)."""
    slow_to_record: set[MessageStatus] = field(default_factory=set)
    """Statuses whose write takes two seconds, to hold a workflow between two states."""

    @activity.defn(name="deliver")
    async def deliver(self, request: AttemptRequest) -> AttemptResult:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        return outcome(request)

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> Recorded:
        self.recording.append(transition.status)
        if transition.status in self.slow_to_record:
            await asyncio.sleep(2)
        self.transitions.append(transition)
        return Recorded(True, transition.status)

    async def wait_for_attempts(self, count: int) -> None:
        async with asyncio.timeout(15):
            while len(self.requests) < count:
                await asyncio.sleep(0.05)


@dataclass
class Harness:
    client: Client
    task_queue: str

    async def start(
        self, policy: DeliveryPolicy = POLICY, valid_for: float = 3600
    ) -> WorkflowHandle[MessageDelivery, MessageStatus]:
        message_id = str(uuid.uuid4())
        expires_at = datetime.now(UTC) + timedelta(seconds=valid_for)
        job = DeliveryJob(message_id, "+14155550123", Priority.NORMAL, policy, expires_at)
        return await self.client.start_workflow(
            MessageDelivery.run, job, id=f"message-{message_id}", task_queue=self.task_queue
        )


@pytest.fixture
def task_queue() -> str:
    return f"workflow-test-{uuid.uuid4()}"


@asynccontextmanager
async def running(harness: Harness, activities: ScriptedActivities) -> AsyncIterator[None]:
    """A worker for the harness's task queue, for the block."""
    async with Worker(
        harness.client,
        task_queue=harness.task_queue,
        workflows=[MessageDelivery],
        activities=[activities.deliver, activities.record_transition],
    ):
        yield


@pytest.fixture
async def harness(
    temporal_client: Client, task_queue: str, activities: ScriptedActivities
) -> AsyncIterator[Harness]:
    harness = Harness(temporal_client, task_queue)
    async with running(harness, activities):
        yield harness


@pytest.fixture
def activities(request: pytest.FixtureRequest) -> ScriptedActivities:
    return ScriptedActivities(outcomes=list(request.param))


def statuses(activities: ScriptedActivities) -> list[MessageStatus]:
    return [transition.status for transition in activities.transitions]


async def wait_for_status(activities: ScriptedActivities, status: MessageStatus) -> None:
    async with asyncio.timeout(15):
        while status not in statuses(activities):
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_acknowledged_message_is_delivered_after_one_attempt(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    await activities.wait_for_attempts(1)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    assert [r.attempts_before for r in activities.requests] == [0]
    assert statuses(activities) == [MessageStatus.DELIVERED]


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_missing_ack_re_sends_with_the_next_attempt_number(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    await activities.wait_for_attempts(2)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    assert [r.attempts_before for r in activities.requests] == [0, 1]
    retrying = activities.transitions[0]
    assert retrying.status == MessageStatus.RETRYING
    assert retrying.failure_class == FailureClass.TRANSIENT
    assert retrying.next_retry_in_seconds == 1
    assert retrying.failure_reason == "no acknowledgment within 1s"


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_missing_ack_on_every_attempt_dead_letters(
    harness: Harness, activities: ScriptedActivities
) -> None:
    await harness.start()
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    assert len(activities.requests) == POLICY.max_attempts
    assert statuses(activities) == [MessageStatus.RETRYING] * 2 + [MessageStatus.DEAD_LETTERED]


@pytest.mark.parametrize("activities", [[transient]], indirect=True)
async def test_transient_failures_spend_the_budget_then_dead_letter(
    harness: Harness, activities: ScriptedActivities
) -> None:
    await harness.start()
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    assert len(activities.requests) == POLICY.max_attempts
    [dead] = activities.transitions
    assert dead.failure_class == FailureClass.TRANSIENT
    assert dead.failure_reason == "provider answered 503"


@pytest.mark.parametrize("activities", [[transient, accept]], indirect=True)
async def test_a_retry_that_succeeds_still_waits_for_the_ack(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    await activities.wait_for_attempts(2)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    assert statuses(activities) == [MessageStatus.DELIVERED]


@pytest.mark.parametrize("activities", [[permanent]], indirect=True)
async def test_permanent_failure_dead_letters_after_one_attempt(
    harness: Harness, activities: ScriptedActivities
) -> None:
    await harness.start()
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    assert len(activities.requests) == 1
    [dead] = activities.transitions
    assert dead.failure_class == FailureClass.PERMANENT
    assert dead.failure_reason == "provider answered 400"


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_a_late_ack_during_backoff_delivers_without_re_sending(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    async with asyncio.timeout(10):
        while statuses(activities) != [MessageStatus.RETRYING]:
            await asyncio.sleep(0.05)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    assert len(activities.requests) == 1


@pytest.mark.parametrize(
    "activities", [[defer, defer, transient, transient, accept]], indirect=True
)
async def test_deferrals_spend_no_budget(harness: Harness, activities: ScriptedActivities) -> None:
    handle = await harness.start()
    await activities.wait_for_attempts(5)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    # Two deferrals, then the whole budget of three attempts, the last one accepted.
    assert [r.attempts_before for r in activities.requests] == [0, 0, 0, 0, 0]


@pytest.mark.parametrize("activities", [[defer]], indirect=True)
async def test_validity_bounds_the_deferrals(
    harness: Harness, activities: ScriptedActivities
) -> None:
    await harness.start(valid_for=2.5)
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    [dead] = activities.transitions
    assert dead.failure_class == FailureClass.EXPIRED
    assert dead.failure_reason is not None and "validity" in dead.failure_reason
    assert 2 <= len(activities.requests) <= 3


@pytest.mark.parametrize("activities", [[permanent, accept]], indirect=True)
async def test_requeue_delivers_a_dead_letter_with_a_fresh_budget(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    assert await handle.execute_update(MessageDelivery.requeue) == MessageStatus.QUEUED
    await activities.wait_for_attempts(2)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    assert statuses(activities) == [
        MessageStatus.DEAD_LETTERED,
        MessageStatus.QUEUED,
        MessageStatus.DELIVERED,
    ]
    assert activities.transitions[1].retry_count == 0
    assert [r.attempts_before for r in activities.requests] == [0, 0]


@pytest.mark.parametrize("activities", [[permanent]], indirect=True)
async def test_discard_ends_a_dead_letter(harness: Harness, activities: ScriptedActivities) -> None:
    handle = await harness.start()
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    assert await handle.execute_update(MessageDelivery.discard) == MessageStatus.DISCARDED
    assert await handle.result() == MessageStatus.DISCARDED
    assert len(activities.requests) == 1


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_operator_actions_are_refused_unless_dead_lettered(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    await activities.wait_for_attempts(1)
    for update in (MessageDelivery.requeue, MessageDelivery.discard):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(update)
        assert "not dead_lettered" in str(refused.value.cause)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED


@pytest.mark.parametrize("activities", [[permanent]], indirect=True)
async def test_a_dead_letter_expires_after_the_retention(
    harness: Harness, activities: ScriptedActivities
) -> None:
    policy = dataclasses.replace(POLICY, dead_letter_retention_seconds=1)
    handle = await harness.start(policy)
    assert await handle.result() == MessageStatus.EXPIRED
    assert statuses(activities) == [MessageStatus.DEAD_LETTERED, MessageStatus.EXPIRED]


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_a_late_ack_delivers_a_dead_letter(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    await handle.signal(MessageDelivery.acknowledge)
    assert await handle.result() == MessageStatus.DELIVERED
    assert statuses(activities)[-2:] == [MessageStatus.DEAD_LETTERED, MessageStatus.DELIVERED]


@pytest.mark.parametrize("activities", [[accept]], indirect=True)
async def test_a_discard_that_meets_a_late_ack_is_refused_as_delivered(
    temporal_client: Client, task_queue: str, activities: ScriptedActivities
) -> None:
    harness = Harness(temporal_client, task_queue)
    async with running(harness, activities):
        handle = await harness.start()
        await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    # With no worker, the ack and the discard reach the workflow in one activation.
    await handle.signal(MessageDelivery.acknowledge)
    discard = asyncio.create_task(handle.execute_update(MessageDelivery.discard))
    async with running(harness, activities):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await discard
        assert "the message is delivered" in str(refused.value.cause)
        assert await handle.result() == MessageStatus.DELIVERED


@pytest.mark.parametrize("activities", [[permanent]], indirect=True)
async def test_a_requeue_that_meets_the_retention_answers_what_happened(
    temporal_client: Client, task_queue: str, activities: ScriptedActivities
) -> None:
    harness = Harness(temporal_client, task_queue)
    async with running(harness, activities):
        handle = await harness.start(dataclasses.replace(POLICY, dead_letter_retention_seconds=1))
        await wait_for_status(activities, MessageStatus.DEAD_LETTERED)
    await asyncio.sleep(2)  # the retention's timer fires with no worker to see it
    requeue = asyncio.create_task(handle.execute_update(MessageDelivery.requeue))
    async with running(harness, activities):
        try:
            assert await requeue == MessageStatus.QUEUED
        except WorkflowUpdateFailedError as refused:
            assert "the message is expired" in str(refused.cause)
            assert await handle.result() == MessageStatus.EXPIRED
        except RPCError as aborted:  # it reached the server as the expiry closed the workflow
            assert "aborted by closing workflow" in str(aborted)
            assert await handle.result() == MessageStatus.EXPIRED
        else:
            await activities.wait_for_attempts(2)
