"""Strict per-recipient order end to end: one at a time, in sequence-number order."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecution

from tests.stack import Stack

QUIET = 1.5
"""How long the test watches for a message that must not be sent yet."""


def unique_recipient() -> str:
    return f"+4930{uuid.uuid4().int % 10**8:08d}"


async def submit_line(stack: Stack, count: int) -> list[dict[str, Any]]:
    """``count`` strict messages to one new recipient, submitted concurrently; in line order."""
    recipient = unique_recipient()
    submitted = await asyncio.gather(
        *(
            stack.submit(recipient=recipient, ordering="strict", content=f"part {i}")
            for i in range(count)
        )
    )
    line = sorted(submitted, key=lambda message: message["sequence_number"])
    assert [m["sequence_number"] for m in line] == list(range(1, count + 1))
    return line


async def ack_when_sent(stack: Stack, message: dict[str, Any]) -> float:
    """Wait for the gateway to receive the message, ack it; the time it was delivered."""
    await stack.gateway.wait_for(message["id"], 1)
    await stack.wait_for_status(message["id"], "awaiting_ack")
    acked_at = time.monotonic()
    assert (await stack.api.post(f"/v1/messages/{message['id']}/ack")).status_code == 200
    await stack.wait_for_status(message["id"], "delivered")
    return acked_at


def first_arrival(stack: Stack, message: dict[str, Any]) -> float:
    return stack.gateway.for_message(message["id"])[0].at


async def line_runs(client: Client, recipient: str) -> list[WorkflowExecution]:
    query = f"WorkflowId = 'recipient-default-{recipient}'"
    return [execution async for execution in client.list_workflows(query)]


async def assert_not_sent(stack: Stack, message: dict[str, Any]) -> None:
    await asyncio.sleep(QUIET)
    assert stack.gateway.for_message(message["id"]) == []


async def test_a_line_is_delivered_one_at_a_time_in_order(stack: Stack) -> None:
    line = await submit_line(stack, 6)
    previous_delivered_at = 0.0
    for message in line:
        delivered_at = await ack_when_sent(stack, message)
        assert first_arrival(stack, message) > previous_delivered_at
        previous_delivered_at = delivered_at
    numbers = [r.body["sequence_number"] for r in stack.gateway.received]
    assert numbers == list(range(1, 7))


async def test_a_retrying_head_holds_the_line(stack: Stack) -> None:
    stack.gateway.answer(503)
    head, second = await submit_line(stack, 2)
    await stack.gateway.wait_for(head["id"], 2)  # the retry
    assert stack.gateway.for_message(second["id"]) == []
    acked_at = await ack_when_sent(stack, head)
    await ack_when_sent(stack, second)
    assert first_arrival(stack, second) > acked_at


HOLD = {"strict_hold_on_dead_letter": True}


@pytest.mark.parametrize("settings_overrides", [HOLD])
async def test_a_held_line_waits_for_its_dead_letter_to_be_requeued(stack: Stack) -> None:
    stack.gateway.answer(400)
    head, second, third = await submit_line(stack, 3)
    await stack.wait_for_status(head["id"], "dead_lettered")
    await assert_not_sent(stack, second)

    requeue = await stack.api.post(f"/v1/dead-letters/{head['id']}/requeue")
    assert requeue.status_code == 200
    for message in (head, second, third):
        await ack_when_sent(stack, message)
    order = [r.body["sequence_number"] for r in stack.gateway.received]
    assert order == [1, 1, 2, 3]


@pytest.mark.parametrize("settings_overrides", [HOLD])
async def test_a_held_line_goes_on_once_its_dead_letter_is_discarded(stack: Stack) -> None:
    stack.gateway.answer(400)
    head, second = await submit_line(stack, 2)
    await stack.wait_for_status(head["id"], "dead_lettered")
    await assert_not_sent(stack, second)
    assert (await stack.api.delete(f"/v1/dead-letters/{head['id']}")).status_code == 200
    await ack_when_sent(stack, second)


@pytest.mark.parametrize("settings_overrides", [{"sequence_history_limit": 20}])
async def test_continue_as_new_keeps_the_line_intact(stack: Stack, temporal_client: Client) -> None:
    line = await submit_line(stack, 6)
    for message in line:
        await ack_when_sent(stack, message)
    assert [r.body["sequence_number"] for r in stack.gateway.received] == list(range(1, 7))

    runs = await line_runs(temporal_client, line[0]["recipient"])
    assert len(runs) >= 2, "the line should have continued as new at least once"


async def test_best_effort_messages_are_not_numbered(stack: Stack) -> None:
    message = await stack.submit(recipient=unique_recipient())
    assert message["ordering"] == "best_effort"
    assert message["sequence_number"] is None


@pytest.mark.parametrize(
    "settings_overrides", [{"message_ttl_hours": 20 / 3600, "dlq_retention_hours": 20 / 3600}]
)
async def test_a_dead_lettered_head_releases_its_line(stack: Stack) -> None:
    stack.gateway.answer(400)
    head, *followers = await submit_line(stack, 4)
    dead = await stack.wait_for_status(head["id"], "dead_lettered")
    assert dead["line_released_at"] is not None
    for message in followers:
        await ack_when_sent(stack, message)
    assert [r.body["sequence_number"] for r in stack.gateway.received] == [1, 2, 3, 4]

    # Requeued later, the dead letter is sent on its own, outside the line.
    requeue = await stack.api.post(f"/v1/dead-letters/{head['id']}/requeue")
    assert requeue.status_code == 200, requeue.text
    delivered_at = await ack_when_sent(stack, head)
    assert delivered_at > 0
    delivered = await stack.message(head["id"])
    assert delivered["line_released_at"] == dead["line_released_at"]
    assert delivered["failure_class"] is None


@pytest.mark.parametrize(
    "settings_overrides",
    [HOLD | {"message_ttl_hours": 6 / 3600}],
)
async def test_a_held_line_expires_its_waiting_followers_at_once(stack: Stack) -> None:
    stack.gateway.answer(400)
    head, second, third = await submit_line(stack, 3)
    dead = await stack.wait_for_status(head["id"], "dead_lettered")
    assert dead["line_released_at"] is None
    for follower in (second, third):
        expired = await stack.wait_for_status(follower["id"], "expired", timeout=20)
        assert expired["failure_class"] == "expired"
        assert "waiting" in expired["failure_reason"]
        assert stack.gateway.for_message(follower["id"]) == []

    # The expired followers do not hold the line: once the head is discarded, a new
    # message goes at once (the dead-letter retention is a day).
    late = await stack.submit(recipient=head["recipient"], ordering="strict")
    assert (await stack.api.delete(f"/v1/dead-letters/{head['id']}")).status_code == 200
    await ack_when_sent(stack, late)


@pytest.mark.parametrize(
    "settings_overrides", [{"sequence_history_limit": 20, "ack_timeout_seconds": 60}]
)
async def test_a_line_continues_as_new_while_its_head_awaits_its_ack(
    stack: Stack, temporal_client: Client
) -> None:
    recipient = unique_recipient()
    head = await stack.submit(recipient=recipient, ordering="strict", content="head")
    await stack.wait_for_status(head["id"], "awaiting_ack")
    followers = [
        await stack.submit(recipient=recipient, ordering="strict", content=f"part {i}")
        for i in range(12)
    ]

    async with asyncio.timeout(20):
        while len(await line_runs(temporal_client, recipient)) < 2:
            await asyncio.sleep(0.2)
    assert (await stack.message(head["id"]))["status"] == "awaiting_ack"
    assert all(stack.gateway.for_message(m["id"]) == [] for m in followers)

    for message in (head, *followers):
        await ack_when_sent(stack, message)
    assert [r.body["sequence_number"] for r in stack.gateway.received] == list(range(1, 14))
