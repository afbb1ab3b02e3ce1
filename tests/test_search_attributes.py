"""The Web UI queries of the README find messages by status, recipient and priority."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client

from tests.stack import Stack


async def workflow_ids(client: Client, query: str, expected: set[str]) -> set[str]:
    """The workflow ids a visibility query lists, once it lists ``expected`` (it lags)."""
    found: set[str] = set()
    async with asyncio.timeout(10):
        while not expected <= found:
            found = {execution.id async for execution in client.list_workflows(query)}
            await asyncio.sleep(0.1)
    return found


async def test_operators_find_messages_by_status_recipient_and_priority(
    stack: Stack, temporal_client: Client
) -> None:
    recipient = f"+4930{uuid.uuid4().int % 10**8:08d}"
    stack.gateway.answer(400)
    dead = await stack.submit(recipient=recipient, priority="low")
    await stack.wait_for_status(dead["id"], "dead_lettered")
    live = await stack.submit(recipient=recipient, priority="high")
    await stack.wait_for_status(live["id"], "awaiting_ack")
    dead_id, live_id = f"message-{dead['id']}", f"message-{live['id']}"

    dead_letters = await workflow_ids(temporal_client, "MessageStatus = 'dead_lettered'", {dead_id})
    assert live_id not in dead_letters
    to_recipient = await workflow_ids(
        temporal_client, f"Recipient = '{recipient}'", {dead_id, live_id}
    )
    assert to_recipient == {dead_id, live_id}
    high = await workflow_ids(
        temporal_client, f"Recipient = '{recipient}' AND MessagePriority = 'high'", {live_id}
    )
    assert high == {live_id}
    awaiting = await workflow_ids(
        temporal_client, f"Recipient = '{recipient}' AND MessageStatus = 'awaiting_ack'", {live_id}
    )
    assert awaiting == {live_id}

    assert (await stack.api.post(f"/v1/messages/{live['id']}/ack")).status_code == 200
    await stack.wait_for_status(live["id"], "delivered")
    delivered = await workflow_ids(
        temporal_client, f"Recipient = '{recipient}' AND MessageStatus = 'delivered'", {live_id}
    )
    assert delivered == {live_id}
