"""``MessageDelivery`` on the real Temporal server, with scripted activities in place of the
provider and the database, so each test isolates one decision of the workflow."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
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
from herald.workflows.delivery import MessageDelivery

POLICY = DeliveryPolicy(
    max_retries=2,
    base_retry_delay_seconds=1,
    max_retry_delay_seconds=2,
    ack_timeout_seconds=1,
    attempt_timeout_seconds=5,
)

Outcome = Callable[[AttemptRequest], AttemptResult]


def accept(request: AttemptRequest) -> AttemptResult:
    return AttemptResult(attempt=request.attempts_before + activity.info().attempt)


def transient(request: AttemptRequest) -> AttemptResult:
    raise ApplicationError("provider answered 503", type="TransientDeliveryError")


def permanent(request: AttemptRequest) -> AttemptResult:
    raise ApplicationError("provider answered 400", type="PermanentDeliveryError")


@dataclass
class ScriptedActivities:
    """Stands in for ``DeliveryActivities``: same activity names, outcomes from a script."""

    outcomes: list[Outcome]
    requests: list[AttemptRequest] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    @activity.defn(name="deliver")
    async def deliver(self, request: AttemptRequest) -> AttemptResult:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        return outcome(request)

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> None:
        self.transitions.append(transition)

    async def wait_for_attempts(self, count: int) -> None:
        async with asyncio.timeout(15):
            while len(self.requests) < count:
                await asyncio.sleep(0.05)


@dataclass
class Harness:
    client: Client
    task_queue: str

    async def start(self) -> WorkflowHandle[MessageDelivery, MessageStatus]:
        message_id = str(uuid.uuid4())
        job = DeliveryJob(message_id, "+14155550123", Priority.NORMAL, POLICY)
        return await self.client.start_workflow(
            MessageDelivery.run, job, id=f"message-{message_id}", task_queue=self.task_queue
        )


@pytest.fixture
def task_queue() -> str:
    return f"workflow-test-{uuid.uuid4()}"


@pytest.fixture
async def harness(
    temporal_client: Client, task_queue: str, activities: ScriptedActivities
) -> AsyncIterator[Harness]:
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[MessageDelivery],
        activities=[activities.deliver, activities.record_transition],
    ):
        yield Harness(temporal_client, task_queue)


@pytest.fixture
def activities(request: pytest.FixtureRequest) -> ScriptedActivities:
    return ScriptedActivities(outcomes=list(request.param))


def statuses(activities: ScriptedActivities) -> list[MessageStatus]:
    return [transition.status for transition in activities.transitions]


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
    handle = await harness.start()
    assert await handle.result() == MessageStatus.DEAD_LETTERED
    assert len(activities.requests) == POLICY.max_attempts
    assert statuses(activities) == [MessageStatus.RETRYING] * 2 + [MessageStatus.DEAD_LETTERED]


@pytest.mark.parametrize("activities", [[transient]], indirect=True)
async def test_transient_failures_spend_the_budget_then_dead_letter(
    harness: Harness, activities: ScriptedActivities
) -> None:
    handle = await harness.start()
    assert await handle.result() == MessageStatus.DEAD_LETTERED
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
    handle = await harness.start()
    assert await handle.result() == MessageStatus.DEAD_LETTERED
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
